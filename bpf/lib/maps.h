/* SPDX-License-Identifier: GPL-2.0 */
/* Every pinned map of the ovnbpf datapath, with its key/value structs and constants: what
 * the entries and every pipeline build of a chassis share. The maps one pipeline build
 * owns are in lib/pl_maps.h; no other header declares a map but lib/opaque.h (included
 * below; bpf/README.md, "Where maps are declared"). Userspace mirrors of the structs and
 * constants live in datapath/maps.py, controller/punt/event.py and datapath/chassis.py,
 * checked against the compiled C by tests/datapath/test_mirrors.py.
 *
 * All integers are host byte order, as in flow.h. Key structs are explicitly padded and
 * userspace zero-fills them, so no uninitialised byte ever reaches a hash.
 *
 * When OVNBPF_PIN_DIR is defined (a string literal, set by datapath/loader.py), the maps are
 * pinned there: every program of one chassis instance, and any recompiled replacement,
 * opens the same maps. That is what makes a pipeline swap hitless and a new port a map
 * update, never a recompile. */
#ifndef OVNBPF_MAPS_H
#define OVNBPF_MAPS_H

#include "common.h"
#include "flow.h"
#include "drop.h"


/* ---- sizes (limits are documented in bpf/README.md) ---- */
#define OVNBPF_MAX_IFINDEX   65536  /* VIF table is an array indexed by ifindex (cheap lookup) */
#define OVNBPF_MAX_LPORTS    65536
#define OVNBPF_MAX_CHASSIS   4096   /* chassis ids are small integers chosen by the controller */
#define OVNBPF_MAX_GROUPS    4096
#ifndef OVNBPF_MAX_LFLOWS         /* hit counters: sized by the controller (controller/limits.py) */
#define OVNBPF_MAX_LFLOWS    65536
#endif
#define OVNBPF_MAX_STAGES    64     /* ingress stages 0..31, egress 32..63 */

/* ---- local chassis configuration: one entry, key 0 ---- */
struct ovnbpf_config {
    __u32 chassis;     /* our chassis id (never a multicast destination) */
    __u32 encap_ip;    /* our Geneve endpoint; decap accepts only this outer destination */
    __u32 flags;       /* OVNBPF_CFG_* */
    __u32 loop_ifindex;/* sending end of the recirculation veth pair (lib/mcast.h); 0 = none */
};
#define OVNBPF_CFG_CHECK_OUTER_DST (1u << 0)
#define OVNBPF_CFG_EGRESS_ON_INGRESS (1u << 1) /* run egress before encap (lib/split.h) */
OVNBPF_MAP("array", __u32, struct ovnbpf_config, ovnbpf_config, 1, 0);

/* ---- the punt meter: how often a CPU may hand packets to the controller ----
 * A flood of packets that punt (TTL 1, ARP for the router, ...) must not starve the
 * controller's Southbound work: past the meter they are dropped and counted (PUNT_RATE).
 * GCRA per CPU (ovnbpf_punt_tat: the theoretical arrival time of the next punt): a punt
 * is allowed while fewer than `burst` punts are ahead of now. interval_ns 0 = no limit.
 * Written by the controller (`--punt-rate`, `--punt-burst`). */
struct ovnbpf_punt_rate {
    __u64 interval_ns; /* 1e9 / punts per second (per CPU) */
    __u32 burst;       /* punts allowed back to back */
    __u32 _pad;
};
OVNBPF_MAP("array", __u32, struct ovnbpf_punt_rate, ovnbpf_punt_rate, 1, 0);
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_punt_tat, 1, 0);

/* ---- ifindex of a chassis-side VIF veth -> which logical port it is ---- */
struct ovnbpf_vif {
    __u32 dp;          /* datapath tunnel key */
    __u32 port;        /* logical port tunnel key; 0 = not bound */
    __u32 flags;
    __u32 _pad;
};
OVNBPF_MAP("array", __u32, struct ovnbpf_vif, ovnbpf_vifs, OVNBPF_MAX_IFINDEX, 0);

/* ---- (datapath, logical port) -> where it is: a local VIF, a remote chassis, or a patch
 * port whose peer is another datapath of this chassis (OVN's switch <-> router hops) ----
 * One map for all kinds, so output costs a single hash lookup. */
struct ovnbpf_lport_key {
    __u32 dp;
    __u32 port;
};
#define OVNBPF_LPORT_LOCAL  1   /* ifindex is the chassis-side veth of the VIF */
#define OVNBPF_LPORT_REMOTE 2   /* chassis is the id of the chassis it is bound to */
#define OVNBPF_LPORT_PATCH  3   /* output continues in (peer_dp, peer_port)'s ingress */
struct ovnbpf_lport {
    __u32 type;        /* OVNBPF_LPORT_* */
    __u32 ifindex;     /* LOCAL */
    __u32 chassis;     /* REMOTE */
    __u32 peer_dp;     /* PATCH */
    __u32 peer_port;   /* PATCH */
    __u32 _pad;
    __u64 mac;         /* the VIF's MAC (informational; the pipeline owns port security) */
};
OVNBPF_MAP("hash", struct ovnbpf_lport_key, struct ovnbpf_lport, ovnbpf_lports,
           OVNBPF_MAX_LPORTS, 0);

/* ---- chassis id -> tunnel to it ---- */
struct ovnbpf_tunnel {
    __u32 remote_ip;   /* its encap IP */
    __u32 local_ip;    /* our source IP on that underlay */
    __u32 ifindex;     /* underlay interface; 0 = no tunnel (entry unused) */
    __u32 flags;       /* OVNBPF_TUN_* */
    __u64 smac;        /* outer MACs: the static next hop, used when bpf_fib_lookup has */
    __u64 dmac;        /* no answer (or OVNBPF_TUN_FIB is off); dmac 0 = none */
};
#define OVNBPF_TUN_FIB (1u << 0)   /* resolve the next hop with bpf_fib_lookup first */
#define OVNBPF_TUN_EGRESS_MARK (1u << 1) /* it understands the egress-done bit (lib/split.h) */
OVNBPF_MAP("array", __u32, struct ovnbpf_tunnel, ovnbpf_tunnels, OVNBPF_MAX_CHASSIS, 0);

/* ---- encap IP of a known chassis -> chassis id | OVNBPF_TSRC_* (decap accepts only
 * these sources) ---- */
OVNBPF_MAP("hash", __u32, __u32, ovnbpf_tunnel_srcs, OVNBPF_MAX_CHASSIS, 0);
/* The egress-done bit (lib/split.h) is honoured from this source: it advertises that it
 * sends the bit and this chassis advertises that it accepts it (set by the controller).
 * From any other source a marked packet runs egress here as if unmarked. */
#define OVNBPF_TSRC_TRUST_DONE (1u << 31)

/* ---- (datapath, multicast group key) -> members ----
 * Members are one index space: local port keys first (n_local of them), then the ids of
 * remote chassis that have at least one member (n_remote; one Geneve copy each). They are
 * stored in chunks of OVNBPF_MCAST_CHUNK, so a group of 10,000 ports is 20 small map
 * values rather than one huge one, and the replicating program (which serves one chunk
 * per invocation, see lib/mcast.h) does one lookup per chunk. */
#define OVNBPF_MCAST_CHUNK 512
#define OVNBPF_MCAST_MAX_CHUNKS 32          /* 16384 members: see lib/mcast.h */
struct ovnbpf_mcast_key {
    __u32 dp;
    __u32 group;
};
struct ovnbpf_mcast_group {
    __u32 n_local;     /* local members: VIF or patch port keys (each copy runs egress) */
    __u32 n_remote;    /* remote chassis ids */
    __u32 wire_key;    /* outport on the wire for remote copies (a synthetic group >= 65536
                          sends the real group key it extends) */
    __u32 _pad;
};
OVNBPF_MAP("hash", struct ovnbpf_mcast_key, struct ovnbpf_mcast_group, ovnbpf_mcast,
           OVNBPF_MAX_GROUPS, 0);

struct ovnbpf_mcast_chunk_key {
    __u32 dp;
    __u32 group;
    __u32 chunk;       /* member index / OVNBPF_MCAST_CHUNK */
    __u32 _pad;
};
struct ovnbpf_mcast_chunk {
    __u32 member[OVNBPF_MCAST_CHUNK];
};
OVNBPF_MAP("hash", struct ovnbpf_mcast_chunk_key, struct ovnbpf_mcast_chunk,
           ovnbpf_mcast_chunks, OVNBPF_MAX_GROUPS * 4, BPF_F_NO_PREALLOC);

/* ---- per-CPU scratch: the flow being processed (too big for the 512 B stack) ---- */
OVNBPF_MAP("percpu_array", __u32, struct ovnbpf_flow, ovnbpf_scratch, 1, 0);

#include "opaque.h"

/* ---- tail calls: slot OVNBPF_TAIL_MCAST_CONT = the replication continuation ---- */
#define OVNBPF_TAIL_MCAST_CONT 0
#define OVNBPF_TAIL_SLOTS      4
OVNBPF_MAP("prog", __u32, __u32, ovnbpf_tail, OVNBPF_TAIL_SLOTS, 0);

/* ---- the logical pipeline, as tail-called XDP programs in generations (bpf/README.md) ----
 * Slot gen * OVNBPF_PL_STAGES + stage holds the pipeline build of that generation; the
 * entry programs read the active generation from ovnbpf_pl_active[0] and tail-call it. A
 * pipeline program only ever tail-calls slots of its own (compiled-in) generation, so a
 * packet never mixes two builds; installing a build fills the inactive generation's
 * slots and then flips ovnbpf_pl_active with one map write. */
#define OVNBPF_PL_STAGE_INGRESS 0   /* ingress pipeline + output decision */
#define OVNBPF_PL_STAGE_EGRESS  1   /* egress pipeline for f->outport + delivery / patch hop */
#define OVNBPF_PL_STAGES        4
#define OVNBPF_PL_GENS          2
OVNBPF_MAP("prog", __u32, __u32, ovnbpf_pl_progs, OVNBPF_PL_STAGES * OVNBPF_PL_GENS, 0);
OVNBPF_MAP("array", __u32, __u32, ovnbpf_pl_active, 1, 0);

/* ---- what the last packet on this CPU did (for `ovnbpf trace`: XDP test-run hides the
 * redirect target). Written at every terminal point of every program. ---- */
#define OVNBPF_OUT_LOCAL  1   /* redirected to ifindex */
#define OVNBPF_OUT_REMOTE 2   /* encapsulated to chassis */
#define OVNBPF_OUT_MCAST  3   /* handed to TC replication (outport = group) */
#define OVNBPF_OUT_DROP   4   /* reason = drop code */
#define OVNBPF_OUT_PASS   5   /* left to the host */
#define OVNBPF_OUT_PUNT   6   /* handed to the controller (chassis = lflow cookie) */
struct ovnbpf_last_output {
    __u32 type;        /* OVNBPF_OUT_* */
    __u32 ifindex;
    __u32 chassis;
    __u32 dp;
    __u32 inport;
    __u32 outport;
    __s32 reason;
    __u32 hops;        /* patch hops taken */
};
OVNBPF_MAP("percpu_array", __u32, struct ovnbpf_last_output, ovnbpf_last_output, 1, 0);

/* ======== the flow cache (lib/fcache.h has the code) ======== */
#ifndef OVNBPF_FC_ENTRIES
#define OVNBPF_FC_ENTRIES 8192   /* per CPU; a power of two */
#endif

/* ---- control: one entry, key 0 (datapath/maps.py: FcacheControl) ---- */
struct ovnbpf_fc_ctl {
    __u32 epoch;       /* bumped by userspace after every map write */
    __u32 flags;       /* OVNBPF_FC_* */
};
#define OVNBPF_FC_BYPASS (1u << 0)   /* no lookups, no fills (ovnbpf trace) */
OVNBPF_MAP("array", __u32, struct ovnbpf_fc_ctl, ovnbpf_fc_ctl, 1, 0);

/* ---- the key: 80 bytes, zero-filled, explicit padding ----
 * ARP, IPv4 and IPv6 exclude each other, and so do L4 ports and ICMP type/code, so they
 * share words: l3[] is IPv4 (src << 32 | dst), IPv6 (src hi, lo, dst hi, lo) or ARP
 * (sha, tha, spa << 32 | tpa); l4 is sport << 16 | dport, icmp type << 8 | code, or the
 * ARP op. Unused words are 0.
 * `tun` tells the two origins apart: 0 for a packet from a VIF, whose logical metadata
 * follows from its ifindex; for a packet from the tunnel it is OVNBPF_FC_TUN | the
 * Geneve header's VNI and ports (ovnbpf_fc_tun), so no VIF key ever equals a tunnel key. */
struct ovnbpf_fc_key {
    __u32 ifindex;     /* VIF: the ingress ifindex (its binding is in ovnbpf_vifs);
                        * tunnel: the outer IPv4 source (in ovnbpf_tunnel_srcs); both maps
                        * are epoch-covered */
    __u16 present;     /* OVNBPF_P_* (all fit in 16 bits) */
    __u16 eth_type;
    __u64 eth_src;
    __u64 eth_dst;
    __u64 l3[4];
    __u32 l4;
    __u16 vlan_tci;
    __u16 tcp_flags;
    __u32 ip6_label;
    __u8  ip_proto;
    __u8  ip_ttl;
    __u8  ip_dscp;
    __u8  ip_ecn;
    __u64 tun;         /* 0, or OVNBPF_FC_TUN | vni << 32 | inport << 16 | outport */
};
#define OVNBPF_FC_TUN (1ULL << 63)

#define OVNBPF_FC_LOCAL  OVNBPF_OUT_LOCAL    /* target = VIF ifindex */
#define OVNBPF_FC_REMOTE OVNBPF_OUT_REMOTE   /* target = chassis id */
struct ovnbpf_fc_entry {
    struct ovnbpf_fc_key key;   /* all zero in an empty slot (a real key has an ifindex) */
    __u32 epoch;
    __u32 type;        /* OVNBPF_FC_LOCAL / _REMOTE */
    __u32 target;
    __u32 dp;          /* final logical metadata, as the pipeline's run left it */
    __u32 inport;
    __u32 outport;
    __u32 hops;
    __u32 rewrites;    /* fin differs from key: the run rewrote the packet */
    __u32 done;        /* REMOTE: the run sent the egress-done bit (lib/split.h) */
    __u32 _pad;
    struct ovnbpf_fc_key fin;   /* the final parsed fields (same ifindex and tun) */
};
/* Per CPU and direct-mapped, like OVS's EMC: slot = hash(key) % OVNBPF_FC_ENTRIES, a newer
 * flow overwrites an older one (so it never fills up), the key is compared in full. An
 * array slot costs no helper call (the verifier inlines array lookups); an LRU hash lookup
 * of this 72-byte key measured ~60 ns here, more than the rest of the hit path together.
 * Only the CPU that looks a slot up ever writes it (the fill runs in the same packet's
 * tail calls), so an entry is never read half written. */
/* Pinned and shared by the entry and pipeline modules: the _v2 names change with the layout
 * of their structs, so a controller of another layout never adopts them (v1: a 72-byte key
 * without `tun`, VIF packets only). */
OVNBPF_MAP("percpu_array", __u32, struct ovnbpf_fc_entry, ovnbpf_fc_v2, OVNBPF_FC_ENTRIES, 0);

/* ---- per-CPU: the run being watched ---- */
struct ovnbpf_fc_state {
    struct ovnbpf_fc_key key;
    __u32 epoch;       /* read at entry, before anything else */
    __u32 armed;       /* a VIF or tunnel packet's pipeline run is in progress */
    __u32 cacheable;   /* cleared by any non-OUTPUT verdict or OVNBPF_FC_NOCACHE */
    __u32 frame_len;   /* as parsed: a run that changed the frame size is not replayable */
    __u32 slot;        /* where the key lives in ovnbpf_fc_v2 */
    __u32 ingress;     /* ctx->ingress_ifindex of the entry program that armed */
    __u32 origin;      /* OVNBPF_ORIGIN_* of the packet that armed */
};
OVNBPF_MAP("percpu_array", __u32, struct ovnbpf_fc_state, ovnbpf_fc_state_v2, 1, 0);

/* ---- counters (per CPU; datapath/chassis.py reports them in stats as fcache_*) ---- */
#define OVNBPF_FC_STAT_HIT  0
#define OVNBPF_FC_STAT_MISS 1
#define OVNBPF_FC_STAT_FILL 2
#define OVNBPF_FC_STAT_MAX  4
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_fc_stats, OVNBPF_FC_STAT_MAX, 0);

/* ======== the punt path (lib/punt.h has the code) ======== */
#define OVNBPF_PUNT_MAGIC     0x6f766e70u   /* "ovnp" */
#define OVNBPF_PUNT_VERSION   1
#define OVNBPF_PUNT_CONSUME   1   /* the packet was taken away (icmp4 {}, arp {}, ...) */
#define OVNBPF_PUNT_COPY_KIND 2   /* a copy; the packet went on (put_arp, put_nd, put_fdb) */
#define OVNBPF_PUNT_MAX_BYTES 9216

struct ovnbpf_punt_event {
    __u32 magic;       /* OVNBPF_PUNT_MAGIC */
    __u16 version;     /* OVNBPF_PUNT_VERSION */
    __u16 flow_size;   /* sizeof(struct ovnbpf_flow): userspace checks its mirror */
    __u32 kind;        /* OVNBPF_PUNT_CONSUME / OVNBPF_PUNT_COPY_KIND */
    __u32 cookie;      /* lflow cookie: the controller finds the flow and its actions */
    __u32 stage;       /* OVNBPF_PL_STAGE_INGRESS / _EGRESS */
    __u32 what;        /* COPY: OVNBPF_COPY_* */
    __u32 pkt_len;     /* frame bytes that follow the event */
    __u32 _pad;
    struct ovnbpf_flow flow;
};

/* Per CPU: the event being built (too big for the stack), one for a pending copy. */
OVNBPF_MAP("percpu_array", __u32, struct ovnbpf_punt_event, ovnbpf_punt_scratch, 2, 0);

/* ---- which interfaces carry our programs (so a restarted controller can replace them
 * atomically): ifindex -> OVNBPF_ATTACH_* ---- */
#define OVNBPF_ATTACH_VIF    1
#define OVNBPF_ATTACH_UPLINK 2
#define OVNBPF_ATTACH_LOOP   3
OVNBPF_MAP("hash", __u32, __u32, ovnbpf_attached, 4096, 0);

/* ---- counters (per CPU; userspace sums) ---- */
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_drops, OVNBPF_DROP_MAX, 0);
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_lflow_hits, OVNBPF_MAX_LFLOWS, 0);
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_stage_hits, OVNBPF_MAX_STAGES, 0);

/* Forwarding events, indexed by OVNBPF_STAT_*. */
enum ovnbpf_stat {
    OVNBPF_STAT_RX_VIF = 0,       /* packets entering from a VIF */
    OVNBPF_STAT_RX_TUNNEL = 1,    /* Geneve packets accepted from the underlay */
    OVNBPF_STAT_TX_LOCAL = 2,     /* unicast redirected to a local VIF */
    OVNBPF_STAT_TX_TUNNEL = 3,    /* unicast encapsulated to a remote chassis */
    OVNBPF_STAT_MCAST = 4,        /* multicast packets handed to replication */
    OVNBPF_STAT_MCAST_LOCAL = 5,  /* multicast copies delivered to local VIFs */
    OVNBPF_STAT_MCAST_REMOTE = 6, /* multicast Geneve copies sent to remote chassis */
    OVNBPF_STAT_PASS = 7,         /* underlay packets left to the kernel (not Geneve) */
    OVNBPF_STAT_TX_EGRESS_DONE = 8, /* unicast encapsulated after egress ran here (marked) */
    OVNBPF_STAT_RX_EGRESS_DONE = 9, /* marked Geneve packets delivered without egress */
    OVNBPF_STAT_PUNT = 10,        /* packets handed to the controller (lib/punt.h) */
    OVNBPF_STAT_PUNT_COPY = 11,   /* copies sent to the controller (put_arp, ...) */
    OVNBPF_STAT_INJECT = 12,     /* packets the controller injected (xdp_inject.c) */
    OVNBPF_STAT_RX_DONE_UNTRUSTED = 13, /* marked egress-done by a source not trusted to:
                                            egress ran here anyway (lib/split.h) */
    OVNBPF_STAT_MAX = 16,
};
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_stats, OVNBPF_STAT_MAX, 0);

#endif /* OVNBPF_MAPS_H */
