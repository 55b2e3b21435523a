/* SPDX-License-Identifier: GPL-2.0 */
/* Flow hash for the outer UDP source port: stable per flow, so one flow stays on one
 * underlay path (ECMP) and in one receive queue, as OVS does. */
#ifndef OVNBPF_HASH_H
#define OVNBPF_HASH_H

#include "common.h"
#include "flow.h"

/* Linux's default ephemeral range, as udp_flow_src_port() uses. */
#define OVNBPF_SPORT_MIN   32768
#define OVNBPF_SPORT_RANGE 28232   /* 32768 .. 60999 */

OVNBPF_INLINE __u32 ovnbpf_mix32(__u32 h)
{   /* a 32-bit finaliser (xorshift-multiply) */
    h ^= h >> 16; h *= 0x7feb352d;
    h ^= h >> 15; h *= 0x846ca68b;
    h ^= h >> 16;
    return h;
}

OVNBPF_INLINE __u32 ovnbpf_flow_hash(const struct ovnbpf_flow *f)
{
    __u32 h;

    if (f->present & OVNBPF_P_IP4)
        h = f->ip4_src ^ (f->ip4_dst * 0x9e3779b1);
    else if (f->present & OVNBPF_P_IP6)
        h = (__u32)(f->ip6_src_lo ^ (f->ip6_src_lo >> 32)) ^
            ((__u32)(f->ip6_dst_lo ^ (f->ip6_dst_lo >> 32)) * 0x9e3779b1);
    else
        h = (__u32)(f->eth_src ^ (f->eth_src >> 32)) ^
            ((__u32)(f->eth_dst ^ (f->eth_dst >> 32)) * 0x9e3779b1);
    h ^= ((__u32)f->tp_src << 16 | f->tp_dst) * 0x85ebca6b;
    h ^= f->ip_proto;
    return ovnbpf_mix32(h);
}

OVNBPF_INLINE __u16 ovnbpf_sport(__u32 hash)
{
    return OVNBPF_SPORT_MIN + (__u16)(((__u64)hash * OVNBPF_SPORT_RANGE) >> 32);
}

#endif /* OVNBPF_HASH_H */
