/* SPDX-License-Identifier: GPL-2.0 */
/* Packet -> struct ovnbpf_flow. Works on any [data, data_end) packet window, so XDP and
 * TC programs share it. Every header is bounds-checked once before it is read; truncation
 * and malformed headers return a negative drop reason, never a partial flow.
 *
 * Pointers are derived from `data` by adding bounded offsets and re-checked against
 * `data_end`: the verifier only accepts packet reads it can prove in range. */
#ifndef OVNBPF_PARSE_H
#define OVNBPF_PARSE_H

#include "common.h"
#include "hdr.h"
#include "flow.h"
#include "drop.h"

#define OVNBPF_MAX_VLAN        2   /* 802.1Q / 802.1ad tags accepted */
#define OVNBPF_MAX_IP6_EXT     4   /* IPv6 extension headers walked */
#define OVNBPF_VLAN_CFI        0x1000 /* OVS convention: marks "tag present" in vlan_tci */

/* The header cursor: the next unparsed byte and the end of the packet. */
struct ovnbpf_cursor {
    void *pos;
    void *end;
};

OVNBPF_INLINE __u64 ovnbpf_load_be64(const void *p)
{
    return __builtin_bswap64(*(const __u64 *)p);
}

OVNBPF_INLINE __u32 ovnbpf_load_be32(const __u8 *p)
{
    return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

OVNBPF_INLINE int ovnbpf_parse_arp(struct ovnbpf_cursor *c, struct ovnbpf_flow *f)
{
    struct ovnbpf_arp *arp = c->pos;

    if ((void *)(arp + 1) > c->end)
        return OVNBPF_DROP_ARP_TRUNCATED;
    if (arp->htype != ovnbpf_htons(1) || arp->ptype != ovnbpf_htons(OVNBPF_ETH_P_IP) ||
        arp->hlen != 6 || arp->plen != 4)
        return OVNBPF_DROP_ARP_UNSUPPORTED;
    f->arp_op = ovnbpf_ntohs(arp->op);
    f->arp_sha = ovnbpf_mac_load(arp->sha);
    f->arp_tha = ovnbpf_mac_load(arp->tha);
    f->arp_spa = ovnbpf_load_be32(arp->spa);
    f->arp_tpa = ovnbpf_load_be32(arp->tpa);
    f->present |= OVNBPF_P_ARP;
    return 0;
}

/* ND options after the 24-byte NS/NA body: pick the source (NS) / target (NA) link-layer
 * address. A zero-length option is malformed (RFC 4861 says discard). */
OVNBPF_INLINE int ovnbpf_parse_nd_opts(struct ovnbpf_cursor *c, struct ovnbpf_flow *f,
                                       __u8 want)
{
    __u8 *p = c->pos;
    int i;

#pragma unroll
    for (i = 0; i < OVNBPF_MAX_ND_OPTS; i++) {
        if ((void *)(p + 8) > c->end)
            return 0;   /* no (more) options: fine */
        __u8 type = p[0], len8 = p[1];
        if (len8 == 0)
            return OVNBPF_DROP_ND_TRUNCATED;
        if (type == want && len8 == 1) {
            __u64 mac = ovnbpf_mac_load(p + 2);
            if (want == 1)
                f->nd_sll = mac;
            else
                f->nd_tll = mac;
            return 0;
        }
        p += (__u32)len8 * 8;   /* len8 <= 255: offset stays bounded */
    }
    return 0;
}

OVNBPF_INLINE int ovnbpf_parse_l4(struct ovnbpf_cursor *c, struct ovnbpf_flow *f,
                                  void *data)
{
    __u8 proto = f->ip_proto;

    f->l4_off = (__u16)(c->pos - data);
    if (proto == OVNBPF_IPPROTO_TCP) {
        struct ovnbpf_tcp *tcp = c->pos;
        if ((void *)(tcp + 1) > c->end)
            return OVNBPF_DROP_L4_TRUNCATED;
        if ((ovnbpf_ntohs(tcp->doff_flags) >> 12) < 5)
            return OVNBPF_DROP_TCP_BAD_DOFF;
        f->tp_src = ovnbpf_ntohs(tcp->sport);
        f->tp_dst = ovnbpf_ntohs(tcp->dport);
        f->tcp_flags = ovnbpf_ntohs(tcp->doff_flags) & 0x0fff;
        f->present |= OVNBPF_P_TCP;
    } else if (proto == OVNBPF_IPPROTO_UDP) {
        struct ovnbpf_udp *udp = c->pos;
        if ((void *)(udp + 1) > c->end)
            return OVNBPF_DROP_L4_TRUNCATED;
        f->tp_src = ovnbpf_ntohs(udp->sport);
        f->tp_dst = ovnbpf_ntohs(udp->dport);
        f->present |= OVNBPF_P_UDP;
    } else if (proto == OVNBPF_IPPROTO_SCTP) {
        struct ovnbpf_sctp *sctp = c->pos;
        if ((void *)(sctp + 1) > c->end)
            return OVNBPF_DROP_L4_TRUNCATED;
        f->tp_src = ovnbpf_ntohs(sctp->sport);
        f->tp_dst = ovnbpf_ntohs(sctp->dport);
        f->present |= OVNBPF_P_SCTP;
    } else if (proto == OVNBPF_IPPROTO_ICMP && (f->present & OVNBPF_P_IP4)) {
        struct ovnbpf_icmp *icmp = c->pos;
        if ((void *)(icmp + 1) > c->end)
            return OVNBPF_DROP_L4_TRUNCATED;
        f->icmp_type = icmp->type;
        f->icmp_code = icmp->code;
        f->present |= OVNBPF_P_ICMP4;
        if ((icmp->type == 8 || icmp->type == 0) && (void *)((__u8 *)icmp + 6) <= c->end)
            f->icmp_id = ovnbpf_ntohs(*(__be16 *)((__u8 *)icmp + 4));
    } else if (proto == OVNBPF_IPPROTO_ICMPV6 && (f->present & OVNBPF_P_IP6)) {
        struct ovnbpf_icmp *icmp = c->pos;
        if ((void *)(icmp + 1) > c->end)
            return OVNBPF_DROP_L4_TRUNCATED;
        f->icmp_type = icmp->type;
        f->icmp_code = icmp->code;
        f->present |= OVNBPF_P_ICMP6;
        if ((icmp->type == 128 || icmp->type == 129) && (void *)((__u8 *)icmp + 6) <= c->end)
            f->icmp_id = ovnbpf_ntohs(*(__be16 *)((__u8 *)icmp + 4));
        if (icmp->type == 135 || icmp->type == 136) {
            __u8 *nd = c->pos;
            if ((void *)(nd + 24) > c->end)
                return OVNBPF_DROP_ND_TRUNCATED;
            f->nd_target_hi = ovnbpf_load_be64(nd + 8);
            f->nd_target_lo = ovnbpf_load_be64(nd + 16);
            f->present |= icmp->type == 135 ? OVNBPF_P_ND_NS : OVNBPF_P_ND_NA;
            c->pos = nd + 24;
            return ovnbpf_parse_nd_opts(c, f, icmp->type == 135 ? 1 : 2);
        }
    }
    return 0;
}

OVNBPF_INLINE int ovnbpf_parse_ip4(struct ovnbpf_cursor *c, struct ovnbpf_flow *f,
                                   void *data)
{
    struct ovnbpf_ip4 *ip = c->pos;
    __u32 hlen, tot;
    __u16 frag;

    if ((void *)(ip + 1) > c->end)
        return OVNBPF_DROP_IP4_TRUNCATED;
    if ((ip->ver_ihl >> 4) != 4 || (ip->ver_ihl & 0xf) < 5)
        return OVNBPF_DROP_IP4_BAD_HEADER;
    hlen = (ip->ver_ihl & 0xf) * 4;
    if (c->pos + hlen > c->end)                 /* options cut short */
        return OVNBPF_DROP_IP4_TRUNCATED;
    tot = ovnbpf_ntohs(ip->tot_len);
    if (tot < hlen || (__u32)f->l3_off + tot > f->frame_len)
        return OVNBPF_DROP_IP4_BAD_LENGTH;

    f->ip4_src = ovnbpf_ntohl(ip->saddr);
    f->ip4_dst = ovnbpf_ntohl(ip->daddr);
    f->ip_proto = ip->proto;
    f->ip_ttl = ip->ttl;
    f->ip_dscp = ip->tos >> 2;
    f->ip_ecn = ip->tos & 3;
    f->present |= OVNBPF_P_IP4;

    frag = ovnbpf_ntohs(ip->frag_off);
    if (frag & (OVNBPF_IP4_MF | OVNBPF_IP4_OFFSET))
        f->present |= OVNBPF_P_FRAG;
    if (frag & OVNBPF_IP4_OFFSET) {             /* no L4 header in later fragments */
        f->present |= OVNBPF_P_LATER_FRAG;
        return 0;
    }
    c->pos += hlen;
    return ovnbpf_parse_l4(c, f, data);
}

OVNBPF_INLINE int ovnbpf_parse_ip6(struct ovnbpf_cursor *c, struct ovnbpf_flow *f,
                                   void *data)
{
    struct ovnbpf_ip6 *ip6 = c->pos;
    __u32 vtl;
    __u8 nh;
    int i;

    if ((void *)(ip6 + 1) > c->end)
        return OVNBPF_DROP_IP6_TRUNCATED;
    vtl = ovnbpf_ntohl(ip6->ver_tc_label);
    if ((vtl >> 28) != 6)
        return OVNBPF_DROP_IP6_BAD_HEADER;
    f->ip6_src_hi = ovnbpf_load_be64(ip6->saddr);
    f->ip6_src_lo = ovnbpf_load_be64(ip6->saddr + 8);
    f->ip6_dst_hi = ovnbpf_load_be64(ip6->daddr);
    f->ip6_dst_lo = ovnbpf_load_be64(ip6->daddr + 8);
    f->ip6_label = vtl & 0xfffff;
    f->ip_dscp = (vtl >> 22) & 0x3f;
    f->ip_ecn = (vtl >> 20) & 3;
    f->ip_ttl = ip6->hop_limit;
    f->present |= OVNBPF_P_IP6;
    nh = ip6->nexthdr;
    c->pos = ip6 + 1;

    /* Skip hop-by-hop, routing and destination options; note fragments. */
#pragma unroll
    for (i = 0; i < OVNBPF_MAX_IP6_EXT; i++) {
        __u8 *ext = c->pos;
        if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
            break;
        if ((void *)(ext + 8) > c->end)
            return OVNBPF_DROP_IP6_EXT_HEADERS;
        if (nh == 44) {
            __u16 off = ((__u16)ext[2] << 8 | ext[3]);
            f->present |= OVNBPF_P_FRAG;
            if (off & 0xfff8) {
                f->present |= OVNBPF_P_LATER_FRAG;
                f->ip_proto = ext[0];
                return 0;
            }
            nh = ext[0];
            c->pos = ext + 8;
        } else {
            nh = ext[0];
            c->pos = ext + ((__u32)ext[1] + 1) * 8;
        }
    }
    if (nh == 0 || nh == 43 || nh == 60 || nh == 44)
        return OVNBPF_DROP_IP6_EXT_HEADERS;
    f->ip_proto = nh;
    return ovnbpf_parse_l4(c, f, data);
}

/* Parse one Ethernet frame into `f`. `f` must be zeroed by the caller, except that
 * metadata (dp, inport, ...) may already be set. Returns 0 or a drop reason. */
OVNBPF_INLINE int ovnbpf_parse(void *data, void *data_end, struct ovnbpf_flow *f)
{
    struct ovnbpf_cursor c = { .pos = data, .end = data_end };
    struct ovnbpf_eth *eth = data;
    __u16 type;
    int i;

    if ((void *)(eth + 1) > data_end)
        return OVNBPF_DROP_RUNT;
    f->frame_len = (__u16)(data_end - data);
    f->eth_dst = ovnbpf_mac_load(eth->dst);
    f->eth_src = ovnbpf_mac_load(eth->src);
    type = ovnbpf_ntohs(eth->type);
    c.pos = eth + 1;

#pragma unroll
    for (i = 0; i < OVNBPF_MAX_VLAN; i++) {
        struct ovnbpf_vlan *vlan = c.pos;
        if (type != OVNBPF_ETH_P_8021Q && type != OVNBPF_ETH_P_8021AD)
            break;
        if ((void *)(vlan + 1) > data_end)
            return OVNBPF_DROP_VLAN_TRUNCATED;
        if (i == 0) {   /* the outer tag is the one OVN's vlan.* fields describe */
            f->vlan_tci = ovnbpf_ntohs(vlan->tci) | OVNBPF_VLAN_CFI;
            f->present |= OVNBPF_P_VLAN;
        }
        type = ovnbpf_ntohs(vlan->type);
        c.pos = vlan + 1;
    }
    if (type == OVNBPF_ETH_P_8021Q || type == OVNBPF_ETH_P_8021AD)
        return OVNBPF_DROP_VLAN_TOO_DEEP;

    f->eth_type = type;
    f->l3_off = (__u16)(c.pos - data);
    if (type == OVNBPF_ETH_P_ARP)
        return ovnbpf_parse_arp(&c, f);
    if (type == OVNBPF_ETH_P_IP)
        return ovnbpf_parse_ip4(&c, f, data);
    if (type == OVNBPF_ETH_P_IPV6)
        return ovnbpf_parse_ip6(&c, f, data);
    return 0;   /* other ethertypes: L2 fields only */
}

#endif /* OVNBPF_PARSE_H */
