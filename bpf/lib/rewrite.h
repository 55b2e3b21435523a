/* SPDX-License-Identifier: GPL-2.0 */
/* Write back what the pipeline changed in struct ovnbpf_flow. The packet itself is the
 * "parsed original": each writable field is compared with its bytes in the packet and
 * stored only if different, fixing checksums incrementally.
 *
 * Written back: eth.src/dst; IPv4 src/dst/ttl/dscp/ecn (+ IP and TCP/UDP checksums);
 * IPv6 src/dst/hop limit (+ TCP/UDP/ICMPv6 checksums: their pseudo-headers hold both
 * addresses); ND target and source/target link-layer option (+ ICMPv6 checksum);
 * TCP/UDP/SCTP ports (+ TCP/UDP checksums); ARP op/sha/spa/tha/tpa;
 * ICMPv4/ICMPv6 type and code (+ ICMP checksum).
 * Not written back (yet): IPv6 traffic class/label, VLAN, SCTP CRC32c after a port change. */
#ifndef OVNBPF_REWRITE_H
#define OVNBPF_REWRITE_H

#include "common.h"
#include "hdr.h"
#include "flow.h"
#include "csum.h"

OVNBPF_INLINE void ovnbpf_rewrite_mac(__u8 *p, __u64 mac)
{
    if (ovnbpf_mac_load(p) != mac)
        ovnbpf_mac_store(p, mac);
}

OVNBPF_INLINE void ovnbpf_store_be32(__u8 *p, __u32 v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

/* L4 checksum field (TCP or UDP, in the first fragment) or NULL. */
OVNBPF_INLINE __u16 *ovnbpf_l4_csum(void *data, void *end, const struct ovnbpf_flow *f,
                                    int *is_udp)
{
    __u8 *l4 = data + (f->l4_off & 0x3fff);
    if (!f->l4_off || (f->present & OVNBPF_P_LATER_FRAG))
        return 0;
    if (f->present & OVNBPF_P_TCP) {
        struct ovnbpf_tcp *tcp = (void *)l4;
        if ((void *)(tcp + 1) > end)
            return 0;
        *is_udp = 0;
        return &tcp->csum;
    }
    if (f->present & OVNBPF_P_UDP) {
        struct ovnbpf_udp *udp = (void *)l4;
        if ((void *)(udp + 1) > end)
            return 0;
        *is_udp = 1;
        return &udp->csum;
    }
    return 0;
}

OVNBPF_INLINE void ovnbpf_l4_csum_fix4(__u16 *csum, int is_udp, __u32 from, __u32 to)
{
    if (!csum)
        return;
    if (is_udp)
        ovnbpf_udp_csum_replace4(csum, from, to);
    else
        ovnbpf_csum_replace4(csum, from, to);
}

OVNBPF_INLINE void ovnbpf_rewrite_ip4(void *data, void *end, const struct ovnbpf_flow *f)
{
    struct ovnbpf_ip4 *ip = data + (f->l3_off & 0xff);
    __u32 s = ovnbpf_htonl(f->ip4_src), d = ovnbpf_htonl(f->ip4_dst);
    __u8 tos = (f->ip_dscp << 2) | (f->ip_ecn & 3);

    if ((void *)(ip + 1) > end)
        return;
    if (ip->ttl != f->ip_ttl) {       /* ttl shares a 16-bit word with proto */
        __u16 old = *(__u16 *)&ip->ttl;
        ip->ttl = f->ip_ttl;
        ovnbpf_csum_replace2(&ip->csum, old, *(__u16 *)&ip->ttl);
    }
    if (ip->tos != tos) {
        __u16 old = *(__u16 *)&ip->ver_ihl;
        ip->tos = tos;
        ovnbpf_csum_replace2(&ip->csum, old, *(__u16 *)&ip->ver_ihl);
    }
    if (ip->saddr != s || ip->daddr != d) {   /* rare (NAT): find the L4 checksum lazily */
        int is_udp = 0;
        __u16 *l4csum = ovnbpf_l4_csum(data, end, f, &is_udp);
        if (ip->saddr != s) {
            ovnbpf_csum_replace4(&ip->csum, ip->saddr, s);
            ovnbpf_l4_csum_fix4(l4csum, is_udp, ip->saddr, s);
            ip->saddr = s;
        }
        if (ip->daddr != d) {
            ovnbpf_csum_replace4(&ip->csum, ip->daddr, d);
            ovnbpf_l4_csum_fix4(l4csum, is_udp, ip->daddr, d);
            ip->daddr = d;
        }
    }
}

OVNBPF_INLINE void ovnbpf_rewrite_ports(void *data, void *end, const struct ovnbpf_flow *f)
{
    /* TCP, UDP and SCTP all start with sport, dport */
    __be16 *ports = data + (f->l4_off & 0x3fff);
    __u16 *l4csum;
    int is_udp = 0;
    __be16 s = ovnbpf_htons(f->tp_src), d = ovnbpf_htons(f->tp_dst);

    if (!f->l4_off || (void *)(ports + 2) > end)
        return;
    if (ports[0] == s && ports[1] == d)
        return;
    l4csum = ovnbpf_l4_csum(data, end, f, &is_udp);
    ovnbpf_l4_csum_fix4(l4csum, is_udp, *(__u32 *)ports, ((__u32)d << 16) | s);
    ports[0] = s;
    ports[1] = d;
}

/* ICMP type/code share one 16-bit word, which the ICMP checksum covers (e.g. the
 * router's echo reply: icmp4.type = 0). */
OVNBPF_INLINE void ovnbpf_rewrite_icmp(void *data, void *end, const struct ovnbpf_flow *f)
{
    struct ovnbpf_icmp *icmp = data + (f->l4_off & 0x3fff);
    __u16 old;

    if (!f->l4_off || (f->present & OVNBPF_P_LATER_FRAG) || (void *)(icmp + 1) > end)
        return;
    if (icmp->type == f->icmp_type && icmp->code == f->icmp_code)
        return;
    old = *(__u16 *)&icmp->type;
    icmp->type = f->icmp_type;
    icmp->code = f->icmp_code;
    ovnbpf_csum_replace2(&icmp->csum, old, *(__u16 *)&icmp->type);
}

/* 16 bytes of an IPv6 address (ip6.src/dst, nd.target) from hi/lo, one 32-bit word at a
 * time, each change folded into `csum` (NULL: none; is_udp: keep a zero UDP sum zero). */
OVNBPF_INLINE void ovnbpf_rewrite_in6(__u8 *p, __u64 hi, __u64 lo, __u16 *csum, int is_udp)
{
    __u32 w[4] = { ovnbpf_htonl(hi >> 32), ovnbpf_htonl((__u32)hi),
                   ovnbpf_htonl(lo >> 32), ovnbpf_htonl((__u32)lo) };
    int i;

#pragma unroll
    for (i = 0; i < 4; i++) {
        __u32 old = *(__u32 *)(p + 4 * i);
        if (old == w[i])
            continue;
        ovnbpf_l4_csum_fix4(csum, is_udp, old, w[i]);
        *(__u32 *)(p + 4 * i) = w[i];
    }
}

/* ND: nd.target, then the first source (NS) / target (NA) link-layer option, found as
 * parse.h found it. The ICMPv6 checksum covers both; the option's MAC starts at an even
 * offset from the ICMPv6 header, so its three 16-bit words are checksum words. */
OVNBPF_INLINE void ovnbpf_rewrite_nd(void *data, void *end, const struct ovnbpf_flow *f,
                                     __u16 *csum)
{
    __u8 *nd = data + (f->l4_off & 0x3fff);
    __u8 want = (f->present & OVNBPF_P_ND_NS) ? 1 : 2;
    __u64 mac = want == 1 ? f->nd_sll : f->nd_tll;
    __u8 *p;
    int i;

    if ((void *)(nd + 24) > end)
        return;
    ovnbpf_rewrite_in6(nd + 8, f->nd_target_hi, f->nd_target_lo, csum, 0);
    p = nd + 24;
#pragma unroll
    for (i = 0; i < OVNBPF_MAX_ND_OPTS; i++) {
        if ((void *)(p + 8) > end)
            return;
        __u8 len8 = p[1];
        if (len8 == 0)
            return;
        if (p[0] == want && len8 == 1) {
            __u8 old[6];
            int j;
            if (ovnbpf_mac_load(p + 2) == mac)
                return;
            __builtin_memcpy(old, p + 2, 6);
            ovnbpf_mac_store(p + 2, mac);
#pragma unroll
            for (j = 0; j < 6; j += 2)
                ovnbpf_csum_replace2(csum, *(__u16 *)(old + j), *(__u16 *)(p + 2 + j));
            return;
        }
        p += (__u32)len8 * 8;
    }
}

OVNBPF_INLINE void ovnbpf_rewrite_ip6(void *data, void *end, const struct ovnbpf_flow *f)
{
    struct ovnbpf_ip6 *ip6 = data + (f->l3_off & 0xff);
    __u16 *l4csum = 0;
    int is_udp = 0;

    if ((void *)(ip6 + 1) > end)
        return;
    ip6->hop_limit = f->ip_ttl;        /* no checksum covers it */
    if (f->present & OVNBPF_P_ICMP6) {
        struct ovnbpf_icmp *icmp = data + (f->l4_off & 0x3fff);
        if (!f->l4_off || (void *)(icmp + 1) > end)
            return;      /* parse.h checked this: cannot happen */
        l4csum = &icmp->csum;
        if (f->present & (OVNBPF_P_ND_NS | OVNBPF_P_ND_NA))
            ovnbpf_rewrite_nd(data, end, f, l4csum);
    } else {
        l4csum = ovnbpf_l4_csum(data, end, f, &is_udp);
    }
    ovnbpf_rewrite_in6(ip6->saddr, f->ip6_src_hi, f->ip6_src_lo, l4csum, is_udp);
    ovnbpf_rewrite_in6(ip6->daddr, f->ip6_dst_hi, f->ip6_dst_lo, l4csum, is_udp);
}

OVNBPF_INLINE void ovnbpf_rewrite_arp(void *data, void *end, const struct ovnbpf_flow *f)
{
    struct ovnbpf_arp *arp = data + (f->l3_off & 0xff);

    if ((void *)(arp + 1) > end)
        return;
    arp->op = ovnbpf_htons(f->arp_op);
    ovnbpf_rewrite_mac(arp->sha, f->arp_sha);
    ovnbpf_rewrite_mac(arp->tha, f->arp_tha);
    ovnbpf_store_be32(arp->spa, f->arp_spa);
    ovnbpf_store_be32(arp->tpa, f->arp_tpa);
}

OVNBPF_INLINE void ovnbpf_rewrite(void *data, void *end, const struct ovnbpf_flow *f)
{
    struct ovnbpf_eth *eth = data;

    if ((void *)(eth + 1) > end)
        return;
    ovnbpf_rewrite_mac(eth->dst, f->eth_dst);
    ovnbpf_rewrite_mac(eth->src, f->eth_src);

    if (f->present & OVNBPF_P_IP4) {
        ovnbpf_rewrite_ip4(data, end, f);
    } else if (f->present & OVNBPF_P_IP6) {
        ovnbpf_rewrite_ip6(data, end, f);
    } else if (f->present & OVNBPF_P_ARP) {
        ovnbpf_rewrite_arp(data, end, f);
        return;
    }
    if (f->present & (OVNBPF_P_TCP | OVNBPF_P_UDP | OVNBPF_P_SCTP))
        ovnbpf_rewrite_ports(data, end, f);
    else if (f->present & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6))
        ovnbpf_rewrite_icmp(data, end, f);
}

#endif /* OVNBPF_REWRITE_H */
