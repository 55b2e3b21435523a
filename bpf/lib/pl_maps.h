/* SPDX-License-Identifier: GPL-2.0 */
/* Every map one pipeline build owns: unpinned, so each generation has its own (filled by
 * the controller from the compile result's `entries` before the flip, bpf/README.md).
 * The pinned maps every program and build share are in lib/maps.h; those two files
 * declare every map of the datapath (bpf/README.md, "Where maps are declared").
 *
 * All keys and values are integers in host byte order; structs are explicitly padded and
 * userspace zero-fills them. Python mirrors: controller/lflow/layout.py (flows),
 * controller/lflow/sbmaps.py (port security, MAC_Binding, FDB), checked against this file
 * by tests/datapath/test_mirrors.py.
 *     ovnbpf_pl_flows          (shape, datapath, key words) -> (lflow cookie, constants)
 *     ovnbpf_pl_psec           port security (Port_Binding.port_security)
 *     ovnbpf_pl_mac_bindings   MAC_Binding: (datapath, port, IP) -> MAC
 *     ovnbpf_pl_fdb            FDB: (datapath, MAC) -> port
 *     ovnbpf_punts             the punt ring (lib/punt.h), read by the controller
 * One exception: ovnbpf_pl_dps (datapath -> which shapes have entries + key-less shapes'
 * entries) is declared by the generated file, whose shapes decide its value struct. */
#ifndef OVNBPF_PL_MAPS_H
#define OVNBPF_PL_MAPS_H

#include "flow.h"

/* Declared with OVNBPF_PL_MAP (default: a plain, unpinned bcc table); a build may define
 * it first to pin them. */
#ifndef OVNBPF_PL_MAP
#define OVNBPF_PL_MAP(type, key, val, name, n, flags) BPF_F_TABLE(type, key, val, name, n, flags)
#endif
#ifndef OVNBPF_PL_NO_PREALLOC
#define OVNBPF_PL_NO_PREALLOC 1   /* BPF_F_NO_PREALLOC: memory only for entries present */
#endif

/* Sizes: limits of one chassis, not per-topology numbers. */
#ifndef OVNBPF_PL_MAX_FLOWS
#define OVNBPF_PL_MAX_FLOWS  (1 << 20)
#endif
#ifndef OVNBPF_PL_MAX_DPS
#define OVNBPF_PL_MAX_DPS    4096
#endif
#ifndef OVNBPF_PL_MAX_ADDRS
#define OVNBPF_PL_MAX_ADDRS  (1 << 18)
#endif

/* ---- the logical flows: one hash map for every shape --------------------------------- */
#define OVNBPF_PL_KEY_WORDS 6     /* controller/lflow/layout.py KEY_WORDS */
#define OVNBPF_PL_VAL_WORDS 6     /* controller/lflow/layout.py VAL_WORDS */
struct ovnbpf_pl_key {
    __u32 shape;                  /* shape id (its number in the generated file) */
    __u32 dp;                     /* Datapath_Binding tunnel key */
    __u64 w[OVNBPF_PL_KEY_WORDS]; /* the shape's masked key fields, packed */
};
struct ovnbpf_pl_val {
    __u32 cookie;                 /* lflow cookie: counters, punts */
    __u32 _pad;
    __u64 w[OVNBPF_PL_VAL_WORDS]; /* the shape's action constants, packed */
};
OVNBPF_PL_MAP("hash", struct ovnbpf_pl_key, struct ovnbpf_pl_val, ovnbpf_pl_flows,
              OVNBPF_PL_MAX_FLOWS, OVNBPF_PL_NO_PREALLOC);

/* ---- port security: check_in_port_sec() / check_out_port_sec() ------------------------
 * Entries per port with port security: one PORT entry (mac 0), one MAC entry per allowed
 * MAC (value: OVNBPF_PSEC_HAS_*), one IP4/IP6 entry per (MAC, allowed address). */
#define OVNBPF_PSEC_PORT 0
#define OVNBPF_PSEC_MAC  1
#define OVNBPF_PSEC_IP4  2
#define OVNBPF_PSEC_IP6  3
#define OVNBPF_PSEC_HAS_IP4 (1u << 0)
#define OVNBPF_PSEC_HAS_IP6 (1u << 1)
struct ovnbpf_pl_psec_key {
    __u32 dp;
    __u32 port;
    __u32 kind;                   /* OVNBPF_PSEC_* */
    __u32 _pad;
    __u64 mac;
    __u64 addr_hi;                /* IPv6 high half; 0 for IPv4 */
    __u64 addr_lo;                /* IPv6 low half, or the IPv4 address */
};
OVNBPF_PL_MAP("hash", struct ovnbpf_pl_psec_key, __u32, ovnbpf_pl_psec, OVNBPF_PL_MAX_ADDRS,
              OVNBPF_PL_NO_PREALLOC);

/* ---- MAC_Binding: (datapath, logical port, IP) -> MAC. IPv4 as ::ffff:a.b.c.d ---------- */
struct ovnbpf_pl_mb_key {
    __u32 dp;
    __u32 port;
    __u64 ip_hi;
    __u64 ip_lo;
};
OVNBPF_PL_MAP("hash", struct ovnbpf_pl_mb_key, __u64, ovnbpf_pl_mac_bindings,
              OVNBPF_PL_MAX_ADDRS, OVNBPF_PL_NO_PREALLOC);

/* ---- FDB: (datapath, MAC) -> logical port key ------------------------------------------ */
struct ovnbpf_pl_fdb_key {
    __u32 dp;
    __u32 _pad;
    __u64 mac;
};
OVNBPF_PL_MAP("hash", struct ovnbpf_pl_fdb_key, __u32, ovnbpf_pl_fdb, OVNBPF_PL_MAX_ADDRS,
              OVNBPF_PL_NO_PREALLOC);

/* The punt ring: per build, never pinned (bpf/README.md, "The punt path"). */
BPF_PERF_OUTPUT(ovnbpf_punts);

#endif /* OVNBPF_PL_MAPS_H */
