/* SPDX-License-Identifier: GPL-2.0 */
/* Geneve exactly as OVN uses it (see bpf/README.md, "Geneve on the wire"):
 *   UDP dport 6081, VNI = datapath tunnel key, exactly one option:
 *   class 0x0102, type 0x80 (critical), 4 data bytes = 0 | ingress port(15) | egress port(16).
 * Outer IPv4: DF, TTL 64, id 0, checksum. Outer UDP: full checksum, as OVS sends with
 * csum=true (the capture has one), computed over the whole inner frame.
 * Writing works on any packet window, so XDP (unicast) and TC (multicast) share it. */
#ifndef OVNBPF_GENEVE_H
#define OVNBPF_GENEVE_H

#include "common.h"
#include "hdr.h"
#include "drop.h"
#include "csum.h"
#include "maps.h"
#include "split.h"

#ifndef OVNBPF_GENEVE_UDP_CSUM
#define OVNBPF_GENEVE_UDP_CSUM 1   /* 0: send UDP checksum 0 (allowed for IPv4) */
#endif
#ifndef OVNBPF_UNDERLAY_MTU
#define OVNBPF_UNDERLAY_MTU 1500
#endif
#define OVNBPF_GENEVE_MAX_OPTS 8

struct ovnbpf_encap_hdr {
    struct ovnbpf_eth eth;
    struct ovnbpf_ip4 ip;
    struct ovnbpf_udp udp;
    struct ovnbpf_geneve gnv;
    struct ovnbpf_geneve_opt opt;
} __attribute__((packed));

/* Pseudo-header sum for the outer UDP checksum (addresses as stored in the packet). */
OVNBPF_INLINE __u32 ovnbpf_udp_pseudo(__u32 saddr, __u32 daddr, __u16 udp_len_be)
{
    return (saddr & 0xffff) + (saddr >> 16) + (daddr & 0xffff) + (daddr >> 16) +
           ovnbpf_htons(OVNBPF_IPPROTO_UDP) + udp_len_be;
}

/* Fill the 58 encap bytes at `data` (already reserved in front of the inner frame);
 * `md` is the option's data word (ovnbpf_geneve_md()). `total`: the frame's length with
 * them (an skb's may run past `end`: TC, lib/tcout.h); `csum`: compute the outer UDP
 * checksum over [data, end), which must then be the whole frame, or leave it 0. */
OVNBPF_INLINE int ovnbpf_geneve_write_hdr(void *data, void *end, const struct ovnbpf_tunnel *t,
                                          __u32 vni, __u32 md, __u16 sport, __u32 total,
                                          int csum)
{
    struct ovnbpf_encap_hdr *h = data;

    if ((void *)(h + 1) + sizeof(struct ovnbpf_eth) > end)
        return OVNBPF_DROP_ENCAP_FAILED;
    if (total - sizeof(struct ovnbpf_eth) > 0xffff)
        return OVNBPF_DROP_ENCAP_TOO_BIG;   /* no IPv4 length for it (a 64 KiB GSO frame) */

    ovnbpf_mac_store(h->eth.dst, t->dmac);
    ovnbpf_mac_store(h->eth.src, t->smac);
    h->eth.type = ovnbpf_htons(OVNBPF_ETH_P_IP);

    h->ip.ver_ihl = 0x45;
    h->ip.tos = 0;
    h->ip.tot_len = ovnbpf_htons(total - sizeof(struct ovnbpf_eth));
    h->ip.id = 0;
    h->ip.frag_off = ovnbpf_htons(OVNBPF_IP4_DF);
    h->ip.ttl = 64;
    h->ip.proto = OVNBPF_IPPROTO_UDP;
    h->ip.csum = 0;
    h->ip.saddr = ovnbpf_htonl(t->local_ip);
    h->ip.daddr = ovnbpf_htonl(t->remote_ip);
    h->ip.csum = ovnbpf_ip4_csum20((__u16 *)&h->ip);

    h->udp.sport = ovnbpf_htons(sport);
    h->udp.dport = ovnbpf_htons(OVNBPF_GENEVE_PORT);
    h->udp.len = ovnbpf_htons(total - sizeof(struct ovnbpf_eth) - sizeof(struct ovnbpf_ip4));
    h->udp.csum = 0;

    h->gnv.ver_optlen = sizeof(struct ovnbpf_geneve_opt) / 4;   /* version 0, 2 words */
    h->gnv.flags = OVNBPF_GENEVE_F_CRIT;                        /* a critical option follows */
    h->gnv.proto = ovnbpf_htons(OVNBPF_ETH_P_TEB);
    h->gnv.vni[0] = vni >> 16;
    h->gnv.vni[1] = vni >> 8;
    h->gnv.vni[2] = vni;
    h->gnv.rsvd = 0;

    h->opt.opt_class = ovnbpf_htons(OVNBPF_OVN_OPT_CLASS);
    h->opt.type = OVNBPF_OVN_OPT_TYPE;
    h->opt.len = OVNBPF_OVN_OPT_LEN_WORDS;
    h->opt.data = ovnbpf_htonl(md);

    if (csum) {
        __u32 sum = ovnbpf_udp_pseudo(h->ip.saddr, h->ip.daddr, h->udp.len);
        __u16 c = ~(__u16)ovnbpf_csum_packet(&h->udp, end, sum);
        h->udp.csum = c ? c : 0xffff;
    }
    return 0;
}

OVNBPF_INLINE int ovnbpf_geneve_write_md(void *data, void *end, const struct ovnbpf_tunnel *t,
                                         __u32 vni, __u32 md, __u16 sport)
{
    return ovnbpf_geneve_write_hdr(data, end, t, vni, md, sport, (__u32)(end - data),
                                   OVNBPF_GENEVE_UDP_CSUM);
}

OVNBPF_INLINE int ovnbpf_geneve_write(void *data, void *end, const struct ovnbpf_tunnel *t,
                                      __u32 vni, __u32 inport, __u32 outport, __u16 sport)
{
    return ovnbpf_geneve_write_md(data, end, t, vni, ovnbpf_geneve_md(inport, outport, 0),
                                  sport);
}

/* Re-point an already encapsulated frame at another chassis (multicast fan-out): MACs,
 * addresses, and both checksums fixed incrementally. */
OVNBPF_INLINE int ovnbpf_geneve_retarget(void *data, void *end, const struct ovnbpf_tunnel *t)
{
    struct ovnbpf_encap_hdr *h = data;
    __u32 s, d;

    if ((void *)(h + 1) > end)
        return OVNBPF_DROP_ENCAP_FAILED;
    ovnbpf_mac_store(h->eth.dst, t->dmac);
    ovnbpf_mac_store(h->eth.src, t->smac);
    s = ovnbpf_htonl(t->local_ip);
    d = ovnbpf_htonl(t->remote_ip);
    if (h->ip.saddr != s) {
        ovnbpf_csum_replace4(&h->ip.csum, h->ip.saddr, s);
        ovnbpf_udp_csum_replace4(&h->udp.csum, h->ip.saddr, s);
        h->ip.saddr = s;
    }
    if (h->ip.daddr != d) {
        ovnbpf_csum_replace4(&h->ip.csum, h->ip.daddr, d);
        ovnbpf_udp_csum_replace4(&h->udp.csum, h->ip.daddr, d);
        h->ip.daddr = d;
    }
    return 0;
}

/* What decap learns from a valid OVN Geneve header. */
struct ovnbpf_geneve_info {
    __u32 vni;
    __u32 inport;
    __u32 outport;
    __u32 hdr_len;   /* Geneve header + options, bytes */
    __u32 egress_done; /* the reserved bit: the sender already ran egress (lib/split.h) */
};

/* Validate a Geneve header at `gnv` and extract OVN's metadata. Unknown non-critical
 * options are skipped; unknown critical ones drop the packet, as RFC 8926 requires. */
OVNBPF_INLINE int ovnbpf_geneve_parse(void *gnv_start, void *end,
                                      struct ovnbpf_geneve_info *info)
{
    struct ovnbpf_geneve *gnv = gnv_start;
    __u32 opt_len, off = 0, found = 0;
    int i;

    if ((void *)(gnv + 1) > end)
        return OVNBPF_DROP_GENEVE_TRUNCATED;
    if (gnv->ver_optlen >> 6)
        return OVNBPF_DROP_GENEVE_BAD_VERSION;
    if (gnv->flags & OVNBPF_GENEVE_F_OAM)
        return OVNBPF_DROP_GENEVE_OAM;
    if (gnv->proto != ovnbpf_htons(OVNBPF_ETH_P_TEB))
        return OVNBPF_DROP_GENEVE_BAD_PROTO;
    opt_len = (gnv->ver_optlen & 0x3f) * 4;
    if (opt_len < sizeof(struct ovnbpf_geneve_opt))
        return OVNBPF_DROP_GENEVE_BAD_OPT_LEN;
    if ((void *)(gnv + 1) + opt_len > end)
        return OVNBPF_DROP_GENEVE_TRUNCATED;

#pragma clang loop unroll(disable)
    for (i = 0; i < OVNBPF_GENEVE_MAX_OPTS; i++) {
        struct ovnbpf_geneve_opt *opt;
        __u32 dlen;

        if (off >= opt_len)
            break;
        opt = (void *)(gnv + 1) + (off & 0xff);
        if ((void *)opt + 4 > end)
            return OVNBPF_DROP_GENEVE_TRUNCATED;
        dlen = (opt->len & 0x1f) * 4;
        if (off + 4 + dlen > opt_len)
            return OVNBPF_DROP_GENEVE_BAD_OPT_LEN;
        if (opt->opt_class == ovnbpf_htons(OVNBPF_OVN_OPT_CLASS) &&
            opt->type == OVNBPF_OVN_OPT_TYPE) {
            __u32 md;
            if (dlen != 4 || found)
                return OVNBPF_DROP_GENEVE_BAD_OPT_LEN;
            if ((void *)(opt + 1) > end)
                return OVNBPF_DROP_GENEVE_TRUNCATED;
            md = ovnbpf_ntohl(opt->data);
            info->inport = (md >> 16) & 0x7fff;
            info->outport = md & 0xffff;
            info->egress_done = !!(md & OVNBPF_GENEVE_EGRESS_DONE);
            found = 1;
        } else if (opt->type & OVNBPF_GENEVE_OPT_CRIT) {
            return OVNBPF_DROP_GENEVE_UNKNOWN_CRIT_OPT;
        }
        off += 4 + dlen;
    }
    if (off != opt_len)   /* more options than we walk */
        return OVNBPF_DROP_GENEVE_BAD_OPT_LEN;
    if (!found)
        return OVNBPF_DROP_GENEVE_NO_OVN_OPT;
    info->vni = ((__u32)gnv->vni[0] << 16) | ((__u32)gnv->vni[1] << 8) | gnv->vni[2];
    info->hdr_len = sizeof(*gnv) + opt_len;
    return 0;
}

#endif /* OVNBPF_GENEVE_H */
