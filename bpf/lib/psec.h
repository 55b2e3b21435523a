/* SPDX-License-Identifier: GPL-2.0 */
/* Port security for generated code: check_in_port_sec() / check_out_port_sec() against
 * ovnbpf_pl_psec (lib/pl_maps.h; entries from controller/lflow/sbmaps.py). */
#ifndef OVNBPF_PSEC_H
#define OVNBPF_PSEC_H

#include "flow.h"
#include "pl_maps.h"

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

#endif /* OVNBPF_PSEC_H */
