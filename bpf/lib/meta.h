/* SPDX-License-Identifier: GPL-2.0 */
/* XDP -> TC hand-off for multicast. XDP cannot clone, so a packet whose outport is a
 * multicast group is passed up (XDP_PASS) with this struct in the XDP metadata area; the
 * TC program on the same interface (tc_mcast.c) reads it and replicates. */
#ifndef OVNBPF_META_H
#define OVNBPF_META_H

#include "common.h"

#define OVNBPF_META_MAGIC 0x0b9fca57

#define OVNBPF_MF_FROM_TUNNEL (1u << 0)  /* arrived over Geneve: deliver locally only */
#define OVNBPF_MF_LOOPBACK    (1u << 1)  /* flags.loopback: the ingress port may get a copy */
#define OVNBPF_MF_ENCAPPED    (1u << 2)  /* (TC state) outer headers already pushed */
#define OVNBPF_MF_LOOP_MARKED (1u << 3)  /* (TC state) outer headers carry the loop mark */

/* Recirculated multicast copies (TC -> loop veth -> xdp_loop.c) carry this in the
 * Geneve header's reserved byte. */
#define OVNBPF_LOOP_MARK 0x4c

struct ovnbpf_meta {        /* XDP metadata must be a multiple of 4 bytes, <= 32 */
    __u32 magic;
    __u32 dp;
    __u32 inport;
    __u32 outport;          /* the multicast group key */
    __u32 flags;            /* OVNBPF_MF_* */
    __u32 hops;             /* patch hops so far (bounded across recirculation too) */
};

/* Unicast hand-off (lib/tcout.h): a frame from a VIF attached in skb mode keeps its skb
 * (GSO super-frame, CHECKSUM_PARTIAL), so XDP only decides and TC sends it. */
#define OVNBPF_META_OUT_MAGIC 0x0b9fca58
#define OVNBPF_MO_LOCAL  1      /* target = a local VIF's ifindex */
#define OVNBPF_MO_REMOTE 2      /* target = chassis id: Geneve with vni/md/sport */

struct ovnbpf_meta_out {
    __u32 magic;
    __u32 type;             /* OVNBPF_MO_* */
    __u32 target;
    __u32 vni;
    __u32 md;               /* the OVN option's data word (ovnbpf_geneve_md) */
    __u16 sport;
    __u16 l4_end;           /* inner headers' length (Ethernet..L4 header): MTU check */
};

#endif /* OVNBPF_META_H */
