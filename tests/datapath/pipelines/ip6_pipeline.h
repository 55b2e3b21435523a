/* SPDX-License-Identifier: GPL-2.0 */
/* Test pipeline for the IPv6 write-back (tests/datapath/test_ip6_rewrite.py): every IPv6
 * packet goes back out of port 1 (loopback) after the rewrites OVN's flows make, so the
 * test sees the bytes lib/rewrite.h wrote:
 *  - ICMPv6 echo request: the router's reply (ip6.dst <-> ip6.src; ip.ttl = 255;
 *    icmp6.type = 129; eth.dst <-> eth.src);
 *  - UDP: a new ip6.src (as a NAT) and ip.ttl-- (routing);
 *  - ND NS: nd.target and nd.sll rewritten, ip6.dst to the target;
 *  - ND NA: nd.target and nd.tll rewritten.
 * Anything else is dropped. */
#ifndef OVNBPF_TEST_IP6_PIPELINE_H
#define OVNBPF_TEST_IP6_PIPELINE_H

OVNBPF_INLINE int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f)
{
    __u64 m, hi, lo;

    if (!(f->present & OVNBPF_P_IP6))
        return OVNBPF_PL_DROP;
    if (f->present & OVNBPF_P_ND_NS) {
        f->nd_target_lo = 0x99;
        f->nd_sll = 0x020000000101ULL;
        f->ip6_dst_hi = f->nd_target_hi;
        f->ip6_dst_lo = f->nd_target_lo;
    } else if (f->present & OVNBPF_P_ND_NA) {
        f->nd_target_hi = 0xfd00000000000002ULL;
        f->nd_tll = 0x020000000201ULL;
    } else if ((f->present & OVNBPF_P_ICMP6) && f->icmp_type == 128) {
        hi = f->ip6_src_hi; lo = f->ip6_src_lo;
        f->ip6_src_hi = f->ip6_dst_hi; f->ip6_src_lo = f->ip6_dst_lo;
        f->ip6_dst_hi = hi; f->ip6_dst_lo = lo;
        m = f->eth_src; f->eth_src = f->eth_dst; f->eth_dst = m;
        f->ip_ttl = 255;
        f->icmp_type = 129;
    } else if (f->present & OVNBPF_P_UDP) {
        f->ip6_src_hi = 0xfd00000000000009ULL;
        f->ip6_src_lo = 0x0000000000000099ULL;
        f->ip_ttl -= 1;
    } else {
        return OVNBPF_PL_DROP;
    }
    f->flags |= OVNBPF_FLAG_LOOPBACK;
    f->outport = 1;
    return OVNBPF_PL_OUTPUT;
}

OVNBPF_INLINE int ovnbpf_pipeline_egress(struct ovnbpf_flow *f)
{
    return OVNBPF_PL_OUTPUT;
}

#endif
