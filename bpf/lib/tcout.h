/* SPDX-License-Identifier: GPL-2.0 */
/* TC half of an skb-mode VIF's unicast output (lib/output.h, ovnbpf_xdp_handoff): XDP ran
 * the pipeline (or the flow cache) on the guest's skb and left the decision in the
 * metadata; here the skb itself is sent, so a GSO super-frame stays one skb and its
 * partial checksum stays partial until the kernel segments it (the UDP-tunnel GSO of the
 * device that cannot carry it further, the underlay's wire in the lab) or a receiver
 * completes it (xdp_tunnel.c does for Geneve without an outer checksum).
 *  - local: bpf_redirect to the VIF;
 *  - remote: Geneve in front. An IP frame grows with bpf_skb_adjust_room and the
 *    UDP-tunnel encap flags, so the kernel knows the inner headers (segmentation, the
 *    inner checksum offload); anything else (ARP) with bpf_skb_change_head. The outer UDP
 *    checksum is 0 (allowed over IPv4, RFC 8926 and OVS accept it): the kernel cannot fill
 *    it for each segment from here, and a sum over a partial inner one would lie.
 * A failure is a counted drop (SKB_OUT_FAILED, ENCAP_TOO_BIG, ...), never the host's. */
#ifndef OVNBPF_TCOUT_H
#define OVNBPF_TCOUT_H

#include "common.h"
#include "maps.h"
#include "stats.h"
#include "meta.h"
#include "geneve.h"

#ifndef BPF_F_ADJ_ROOM_ENCAP_L2_ETH
#define BPF_F_ADJ_ROOM_ENCAP_L2_ETH (1ULL << 6)
#endif
#define OVNBPF_ADJ_ENCAP (BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | \
                          BPF_F_ADJ_ROOM_ENCAP_L4_UDP | BPF_F_ADJ_ROOM_ENCAP_L2_ETH | \
                          BPF_F_ADJ_ROOM_ENCAP_L2(14))

/* The underlay next hop from TC: bpf_fib_lookup when the tunnel asks for it, else the
 * tunnel's static MACs (as ovnbpf_next_hop does in XDP). */
OVNBPF_INLINE int ovnbpf_tc_next_hop(struct __sk_buff *skb, const struct ovnbpf_tunnel *t,
                                     struct ovnbpf_tunnel *out)
{
    *out = *t;
    if (t->flags & OVNBPF_TUN_FIB) {
        struct bpf_fib_lookup fib = {};

        fib.family = 2;   /* AF_INET */
        fib.l4_protocol = OVNBPF_IPPROTO_UDP;
        fib.ipv4_src = ovnbpf_htonl(t->local_ip);
        fib.ipv4_dst = ovnbpf_htonl(t->remote_ip);
        fib.ifindex = t->ifindex;
        /* BPF_FIB_LOOKUP_SKIP_NEIGH absent in 6.1 headers: plain lookup, no MTU check (the
         * segments' size is checked below from gso_size) */
        if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_SUCCESS) {
            out->smac = ovnbpf_mac_load_bytes(fib.smac);
            out->dmac = ovnbpf_mac_load_bytes(fib.dmac);
            out->ifindex = fib.ifindex;
            return 0;
        }
    }
    if (!out->dmac)
        return OVNBPF_DROP_NO_NEIGH;
    return 0;
}

OVNBPF_INLINE int ovnbpf_tc_to_remote(struct __sk_buff *skb, const struct ovnbpf_meta_out *m)
{
    __u32 chassis = m->target, vni = m->vni, md = m->md, l4_end = m->l4_end;
    __u16 sport = m->sport;
    struct ovnbpf_tunnel *t = ovnbpf_tunnels.lookup(&chassis);
    struct ovnbpf_tunnel hop;
    __u8 inner_eth[14];
    __u32 seg;
    void *data, *end;
    int rc;

    if (!t || !t->ifindex)
        return OVNBPF_DROP_UNKNOWN_CHASSIS;
    /* each segment the kernel will cut must fit the underlay once encapsulated */
    seg = skb->gso_size ? skb->gso_size + l4_end : skb->len;
    if (seg - sizeof(struct ovnbpf_eth) + OVNBPF_ENCAP_LEN > OVNBPF_UNDERLAY_MTU)
        return OVNBPF_DROP_ENCAP_TOO_BIG;
    rc = ovnbpf_tc_next_hop(skb, t, &hop);
    if (rc < 0)
        return rc;
    if (skb->protocol == ovnbpf_htons(OVNBPF_ETH_P_IP) ||
        skb->protocol == ovnbpf_htons(OVNBPF_ETH_P_IPV6)) {
        /* room after the Ethernet header: it stays in front as the outer one, a copy of
         * it becomes the inner one */
        if (bpf_skb_load_bytes(skb, 0, inner_eth, sizeof(inner_eth)) ||
            bpf_skb_adjust_room(skb, OVNBPF_ENCAP_LEN, BPF_ADJ_ROOM_MAC, OVNBPF_ADJ_ENCAP) ||
            bpf_skb_store_bytes(skb, OVNBPF_ENCAP_LEN, inner_eth, sizeof(inner_eth), 0))
            return OVNBPF_DROP_SKB_OUT_FAILED;
    } else if (skb->gso_size || bpf_skb_change_head(skb, OVNBPF_ENCAP_LEN, 0)) {
        return OVNBPF_DROP_SKB_OUT_FAILED;
    }
    /* the outer headers must be in the linear part to be written directly */
    if (bpf_skb_pull_data(skb, sizeof(struct ovnbpf_encap_hdr) + sizeof(struct ovnbpf_eth)))
        return OVNBPF_DROP_SKB_OUT_FAILED;
    data = (void *)(long)skb->data;
    end = (void *)(long)skb->data_end;
    rc = ovnbpf_geneve_write_hdr(data, end, &hop, vni, md, sport, skb->len, 0);
    if (rc < 0)
        return rc;
    return bpf_redirect(hop.ifindex, 0);
}

/* The hand-off record at data_meta: send the skb as XDP decided. TC verdict or drop. */
OVNBPF_INLINE int ovnbpf_tc_output(struct __sk_buff *skb, struct ovnbpf_meta_out *m)
{
    m->magic = 0;   /* consumed */
    if (m->type == OVNBPF_MO_LOCAL)
        return bpf_redirect(m->target, 0);
    if (m->type == OVNBPF_MO_REMOTE)
        return ovnbpf_tc_to_remote(skb, m);
    return OVNBPF_DROP_SKB_OUT_FAILED;
}

#endif /* OVNBPF_TCOUT_H */
