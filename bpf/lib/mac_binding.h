/* SPDX-License-Identifier: GPL-2.0 */
/* MAC_Binding lookups for generated code: lookup_arp/lookup_nd (+ _ip), get_arp/get_nd,
 * against ovnbpf_pl_mac_bindings (lib/pl_maps.h). */
#ifndef OVNBPF_MAC_BINDING_H
#define OVNBPF_MAC_BINDING_H

#include "flow.h"
#include "pl_maps.h"

#define OVNBPF_IP4_MAPPED 0x0000ffff00000000ULL   /* IPv4 keys are ::ffff:a.b.c.d */

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

#endif /* OVNBPF_MAC_BINDING_H */
