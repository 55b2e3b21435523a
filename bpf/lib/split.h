/* SPDX-License-Identifier: GPL-2.0 */
/* Where the logical egress pipeline runs (the "pipeline split", bpf/README.md).
 *
 * OVN runs egress on the chassis that hosts the egress port: the sender encapsulates
 * right after ingress and the receiver runs egress after decap. With the load-time
 * config flag OVNBPF_CFG_EGRESS_ON_INGRESS a chassis instead runs egress for a unicast
 * remote outport itself, before encapsulating, and sets the reserved bit of OVN's Geneve
 * option data ("egress done"); a receiver that sees the bit only delivers. So a packet
 * that egress drops never crosses the underlay.
 *
 * The bit goes only to chassis whose tunnel entry has OVNBPF_TUN_EGRESS_MARK (the
 * controller sets it for chassis that advertise they understand it, i.e. ovnbpf
 * chassis); toward any other chassis (ovn-controller + OVS) the packet leaves unmarked,
 * right after ingress, exactly as OVN sends it, and egress runs over there.
 * Multicast is unchanged in both modes: one unmarked copy per remote chassis, egress per
 * member copy on the chassis that hosts the member (replication happens there).
 * Receivers accept both: unmarked -> egress pipeline, marked -> delivery only. */
#ifndef OVNBPF_SPLIT_H
#define OVNBPF_SPLIT_H

#include "common.h"
#include "maps.h"

/* The reserved top bit of OVN's option data: 1 | ingress port(15) | egress port(16). */
#define OVNBPF_GENEVE_EGRESS_DONE (1u << 31)

/* Does the egress pipeline for a unicast outport on `chassis` run here, before encap? */
OVNBPF_INLINE int ovnbpf_split_egress_here(__u32 chassis)
{
    __u32 zero = 0;
    struct ovnbpf_config *cfg = ovnbpf_config.lookup(&zero);
    struct ovnbpf_tunnel *t;

    if (!cfg || !(cfg->flags & OVNBPF_CFG_EGRESS_ON_INGRESS))
        return 0;
    t = ovnbpf_tunnels.lookup(&chassis);
    return t && (t->flags & OVNBPF_TUN_EGRESS_MARK);
}

/* OVN's option data, with the egress-done bit when `done`. */
OVNBPF_INLINE __u32 ovnbpf_geneve_md(__u32 inport, __u32 outport, int done)
{
    return (done ? OVNBPF_GENEVE_EGRESS_DONE : 0) | ((inport & 0x7fff) << 16) |
           (outport & 0xffff);
}

#endif /* OVNBPF_SPLIT_H */
