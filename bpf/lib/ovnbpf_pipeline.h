/* SPDX-License-Identifier: GPL-2.0 */
/* The contract between generated pipeline code (controller/lflow/emit_c.py) and the
 * hand-written datapath. Kept in controller/lflow/ and copied next to the generated C.
 *
 * The generated file defines
 *     static __always_inline int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f);
 *     static __always_inline int ovnbpf_pipeline_egress(struct ovnbpf_flow *f);
 * which run every table of that pipeline on *f, and (OVNBPF_PIPELINE_HAS_RESUME)
 *     static __always_inline int ovnbpf_pipeline_ingress_from(struct ovnbpf_flow *f, __u32 t);
 *     static __always_inline int ovnbpf_pipeline_egress_from(struct ovnbpf_flow *f, __u32 t);
 * which start at table t (the controller resumes a punted packet there). They return:
 *     OVNBPF_PL_DROP          a logical flow dropped the packet (or no flow matched)
 *     OVNBPF_PL_OUTPUT        ingress: run egress for f->outport (a port or multicast key);
 *                             egress: deliver to f->outport
 *     OVNBPF_PL_CONTROLLER    a flow needs the controller (icmp4 {}, arp {}, handle_*...);
 *                             the lflow cookie was passed to OVNBPF_PUNT() first
 *     OVNBPF_PL_NOT_COMPILED  a flow needs conntrack or something else not built yet;
 *                             the cookie was passed to OVNBPF_NOT_COMPILED() first
 * OVNBPF_PL_NEXT is internal: a table function's "go on with the next table".
 *
 * Maps (all keys and values are integers in host byte order, filled by the controller from
 * the compile result's `entries`; structs are explicitly padded, userspace zero-fills):
 *     ovnbpf_pl_flows          (shape, datapath, key words) -> (lflow cookie, constants)
 *     ovnbpf_pl_dps            datapath -> which shapes have entries + key-less shapes'
 *                              entries (struct defined by the generated file: its size
 *                              depends on the shapes)
 *     ovnbpf_pl_psec           port security (Port_Binding.port_security)
 *     ovnbpf_pl_mac_bindings   MAC_Binding: (datapath, port, IP) -> MAC
 *     ovnbpf_pl_fdb            FDB: (datapath, MAC) -> port
 * Maps are declared with OVNBPF_PL_MAP (default: a plain, unpinned bcc table, so every
 * pipeline generation has its own); the datapath may define it first to pin them.
 */
#ifndef OVNBPF_PIPELINE_H
#define OVNBPF_PIPELINE_H

#ifndef OVNBPF_PL_DROP
#define OVNBPF_PL_DROP       0
#endif
#ifndef OVNBPF_PL_OUTPUT
#define OVNBPF_PL_OUTPUT     1
#endif
#ifndef OVNBPF_PL_CONTROLLER
#define OVNBPF_PL_CONTROLLER 2
#endif
#ifndef OVNBPF_PL_NOT_COMPILED
#define OVNBPF_PL_NOT_COMPILED 3
#endif
#define OVNBPF_PL_NEXT       255

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

/* Hand the packet to the controller / note a flow that is not compiled. */
#ifndef OVNBPF_PUNT
#define OVNBPF_PUNT(f, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
#ifndef OVNBPF_NOT_COMPILED
#define OVNBPF_NOT_COMPILED(f, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
/* Send the controller a copy and go on (put_arp, put_nd, put_fdb: learning). */
#ifndef OVNBPF_PUNT_COPY
#define OVNBPF_PUNT_COPY(f, what, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
/* A side effect that replaying a cached outcome would skip (the learning copies above):
 * the datapath's flow cache (bpf/lib/fcache.h) must not cache this run. */
#ifndef OVNBPF_FC_NOCACHE
#define OVNBPF_FC_NOCACHE(f) do { (void)(f); } while (0)
#endif
#define OVNBPF_COPY_PUT_ARP 1
#define OVNBPF_COPY_PUT_ND  2
#define OVNBPF_COPY_PUT_FDB 3

/* Count a hit of the logical flow whose cookie is given, in the datapath's per-CPU array
 * ovnbpf_lflow_hits (bpf/lib/stats.h; present when OVNBPF_LFLOW_HIT is). A function, not
 * stats.h's macro: bcc cannot rewrite a map access that a macro expands into. */
#ifndef OVNBPF_PL_HIT
#if defined(OVNBPF_LFLOW_HIT) && !defined(OVNBPF_PL_NO_HIT_COUNTERS)
static __always_inline void ovnbpf_pl_hit(__u32 cookie)
{
    __u64 *n = ovnbpf_lflow_hits.lookup(&cookie);
    if (n)
        *n += 1;
}
#define OVNBPF_PL_HIT(cookie) ovnbpf_pl_hit(cookie)
#else
#define OVNBPF_PL_HIT(cookie) do { (void)(cookie); } while (0)
#endif
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

#define OVNBPF_IP4_MAPPED 0x0000ffff00000000ULL

/* fe80::/64 interface id of a MAC (modified EUI-64). */
static __always_inline __u64 ovnbpf_eui64(__u64 mac)
{
    return ((((mac >> 24) & 0xffffff) ^ 0x020000) << 40) | (0xfffeULL << 24) | (mac & 0xffffff);
}

static __always_inline int ovnbpf_psec_has(struct ovnbpf_pl_psec_key *k)
{
    __u32 *hit = ovnbpf_pl_psec.lookup(k);
    return hit != 0;
}

/* 1 = violation: the packet may not enter from f->inport. No entries = no port security. */
static __always_inline __u64 ovnbpf_check_in_port_sec(struct ovnbpf_flow *f)
{
    struct ovnbpf_pl_psec_key k;
    __u32 *mac;
    __u32 has;

    __builtin_memset(&k, 0, sizeof(k));
    k.dp = f->dp;
    k.port = f->inport;
    k.kind = OVNBPF_PSEC_MAC;
    k.mac = f->eth_src;
    mac = ovnbpf_pl_psec.lookup(&k);
    if (!mac) {
        k.kind = OVNBPF_PSEC_PORT;
        k.mac = 0;
        return ovnbpf_psec_has(&k);   /* port security configured: this MAC is not allowed */
    }
    has = *mac;
    if (f->present & OVNBPF_P_ARP) {
        if (f->arp_sha != f->eth_src)
            return 1;
        if (!(has & OVNBPF_PSEC_HAS_IP4))
            return 0;
        k.kind = OVNBPF_PSEC_IP4;
        k.addr_lo = f->arp_spa;
        return !ovnbpf_psec_has(&k);
    }
    if ((f->present & OVNBPF_P_IP4) && (has & OVNBPF_PSEC_HAS_IP4)) {
        /* DHCP discover from an address-less client */
        if (f->ip4_src == 0 && f->ip4_dst == 0xffffffff && f->ip_proto == 17 &&
            f->tp_src == 68 && f->tp_dst == 67)
            return 0;
        k.kind = OVNBPF_PSEC_IP4;
        k.addr_lo = f->ip4_src;
        return !ovnbpf_psec_has(&k);
    }
    if ((f->present & OVNBPF_P_IP6) && (has & OVNBPF_PSEC_HAS_IP6)) {
        if (f->ip6_src_hi == 0 && f->ip6_src_lo == 0)
            return 0;   /* duplicate address detection */
        if (f->ip6_src_hi == 0xfe80000000000000ULL && f->ip6_src_lo == ovnbpf_eui64(f->eth_src))
            return 0;   /* the MAC's own link-local address */
        k.kind = OVNBPF_PSEC_IP6;
        k.addr_hi = f->ip6_src_hi;
        k.addr_lo = f->ip6_src_lo;
        return !ovnbpf_psec_has(&k);
    }
    return 0;
}

/* 1 = violation: the packet may not leave to f->outport. (northd skips eth.mcast itself.) */
static __always_inline __u64 ovnbpf_check_out_port_sec(struct ovnbpf_flow *f)
{
    struct ovnbpf_pl_psec_key k;
    __u32 *mac;
    __u32 has;

    __builtin_memset(&k, 0, sizeof(k));
    k.dp = f->dp;
    k.port = f->outport;
    k.kind = OVNBPF_PSEC_MAC;
    k.mac = f->eth_dst;
    mac = ovnbpf_pl_psec.lookup(&k);
    if (!mac) {
        k.kind = OVNBPF_PSEC_PORT;
        k.mac = 0;
        return ovnbpf_psec_has(&k);
    }
    has = *mac;
    if ((f->present & OVNBPF_P_IP4) && (has & OVNBPF_PSEC_HAS_IP4)) {
        if (f->ip4_dst == 0xffffffff || (f->ip4_dst >> 28) == 0xe)
            return 0;   /* broadcast, multicast */
        k.kind = OVNBPF_PSEC_IP4;
        k.addr_lo = f->ip4_dst;
        return !ovnbpf_psec_has(&k);
    }
    if ((f->present & OVNBPF_P_IP6) && (has & OVNBPF_PSEC_HAS_IP6)) {
        if ((f->ip6_dst_hi >> 56) == 0xff)
            return 0;   /* multicast */
        if (f->ip6_dst_hi == 0xfe80000000000000ULL && f->ip6_dst_lo == ovnbpf_eui64(f->eth_dst))
            return 0;
        k.kind = OVNBPF_PSEC_IP6;
        k.addr_hi = f->ip6_dst_hi;
        k.addr_lo = f->ip6_dst_lo;
        return !ovnbpf_psec_has(&k);
    }
    return 0;
}

static __always_inline __u64 *ovnbpf_mac_binding(struct ovnbpf_flow *f, __u64 port,
                                                 __u64 ip_hi, __u64 ip_lo)
{
    struct ovnbpf_pl_mb_key k;

    __builtin_memset(&k, 0, sizeof(k));
    k.dp = f->dp;
    k.port = port;
    k.ip_hi = ip_hi;
    k.ip_lo = ip_lo;
    return ovnbpf_pl_mac_bindings.lookup(&k);
}

/* lookup_arp/lookup_nd: 1 if MAC_Binding has (port, ip) -> mac. */
static __always_inline __u64 ovnbpf_lookup_arp(struct ovnbpf_flow *f, __u64 port, __u64 ip,
                                               __u64 mac)
{
    __u64 *known = ovnbpf_mac_binding(f, port, 0, OVNBPF_IP4_MAPPED | (ip & 0xffffffff));
    return known && *known == mac;
}

static __always_inline __u64 ovnbpf_lookup_nd(struct ovnbpf_flow *f, __u64 port, __u64 ip_hi,
                                              __u64 ip_lo, __u64 mac)
{
    __u64 *known = ovnbpf_mac_binding(f, port, ip_hi, ip_lo);
    return known && *known == mac;
}

/* lookup_arp_ip/lookup_nd_ip: 1 if MAC_Binding has any MAC for (port, ip). */
static __always_inline __u64 ovnbpf_lookup_arp_ip(struct ovnbpf_flow *f, __u64 port, __u64 ip)
{
    return ovnbpf_mac_binding(f, port, 0, OVNBPF_IP4_MAPPED | (ip & 0xffffffff)) != 0;
}

static __always_inline __u64 ovnbpf_lookup_nd_ip(struct ovnbpf_flow *f, __u64 port,
                                                 __u64 ip_hi, __u64 ip_lo)
{
    return ovnbpf_mac_binding(f, port, ip_hi, ip_lo) != 0;
}

/* get_arp/get_nd: eth.dst = the bound MAC, or 00:00:00:00:00:00 (northd then sends arp {}). */
static __always_inline void ovnbpf_get_arp(struct ovnbpf_flow *f, __u64 port, __u64 ip)
{
    __u64 *mac = ovnbpf_mac_binding(f, port, 0, OVNBPF_IP4_MAPPED | (ip & 0xffffffff));
    f->eth_dst = mac ? *mac : 0;
}

static __always_inline void ovnbpf_get_nd(struct ovnbpf_flow *f, __u64 port, __u64 ip_hi,
                                          __u64 ip_lo)
{
    __u64 *mac = ovnbpf_mac_binding(f, port, ip_hi, ip_lo);
    f->eth_dst = mac ? *mac : 0;
}

static __always_inline __u32 *ovnbpf_fdb_port(struct ovnbpf_flow *f, __u64 mac)
{
    struct ovnbpf_pl_fdb_key k;

    __builtin_memset(&k, 0, sizeof(k));
    k.dp = f->dp;
    k.mac = mac;
    return ovnbpf_pl_fdb.lookup(&k);
}

/* get_fdb: the port learned for a MAC on this datapath; 0 = unknown. */
static __always_inline __u64 ovnbpf_get_fdb(struct ovnbpf_flow *f, __u64 mac)
{
    __u32 *port = ovnbpf_fdb_port(f, mac);
    return port ? *port : 0;
}

/* lookup_fdb: 1 if the MAC was learned on this very port. */
static __always_inline __u64 ovnbpf_lookup_fdb(struct ovnbpf_flow *f, __u64 port, __u64 mac)
{
    __u32 *learned = ovnbpf_fdb_port(f, mac);
    return learned && *learned == port;
}

#endif /* OVNBPF_PIPELINE_H */
