/* SPDX-License-Identifier: GPL-2.0 */
/* Complete the TCP/UDP checksum of a frame a guest handed over with CHECKSUM_PARTIAL.
 *
 * A guest with tx checksumming on (the kernel's default for veth; virtio-net through its
 * vnet header) leaves only the pseudo-header sum in the L4 checksum field and lets the
 * device finish it. XDP on the VIF turns the skb into an xdp_buff and that state is lost:
 * a frame we redirect or encapsulate arrives as CHECKSUM_NONE and the receiver drops it.
 * XDP cannot tell a partial checksum from a complete one, so every unfragmented TCP/UDP
 * frame from a VIF gets its checksum computed here (for a frame that had a complete one
 * the result is the same bytes). Cost and the alternatives: bpf/README.md, "Guests'
 * offloads". */
#ifndef OVNBPF_L4CSUM_H
#define OVNBPF_L4CSUM_H

#include "common.h"
#include "hdr.h"
#include "flow.h"
#include "csum.h"

/* Sum of a 16-byte IPv6 address as native 16-bit words (folds later). */
OVNBPF_INLINE __u64 ovnbpf_sum_ip6(const __u8 *a)
{
    const __u32 *w = (const __u32 *)a;
    return (__u64)w[0] + w[1] + w[2] + w[3];
}

/* Returns 1 when the checksum was written, 0 when the frame was left as it is (not
 * TCP/UDP, a fragment, a UDP/IPv4 datagram without checksum, a frame with bytes after
 * the IP datagram, or one too long to sum). */
OVNBPF_INLINE int ovnbpf_l4_csum_complete(void *data, void *end, const struct ovnbpf_flow *f)
{
    __u8 *l3 = data + (f->l3_off & 0xff);
    __u8 *l4 = data + (f->l4_off & 0x3fff);
    __u32 l4len, datagram_end;
    __u16 *csum;
    __u64 sum;
    int udp = 0;

    if (!f->l4_off || (f->present & OVNBPF_P_FRAG))
        return 0;   /* fragments are never CHECKSUM_PARTIAL: the sender summed them */
    if (f->present & OVNBPF_P_TCP) {
        struct ovnbpf_tcp *tcp = (void *)l4;
        if ((void *)(tcp + 1) > end)
            return 0;
        csum = &tcp->csum;
    } else if (f->present & OVNBPF_P_UDP) {
        struct ovnbpf_udp *u = (void *)l4;
        if ((void *)(u + 1) > end)
            return 0;
        csum = &u->csum;
        udp = 1;
    } else {
        return 0;
    }
    if (f->present & OVNBPF_P_IP4) {
        struct ovnbpf_ip4 *ip = (void *)l3;
        if ((void *)(ip + 1) > end)
            return 0;
        if (udp && *csum == 0)
            return 0;   /* "no checksum": a partial one is never 0 (addresses are summed) */
        datagram_end = (f->l3_off & 0xff) + ovnbpf_ntohs(ip->tot_len);
        sum = (__u64)(ip->saddr & 0xffff) + (ip->saddr >> 16) +
              (ip->daddr & 0xffff) + (ip->daddr >> 16);
    } else if (f->present & OVNBPF_P_IP6) {
        struct ovnbpf_ip6 *ip6 = (void *)l3;
        if ((void *)(ip6 + 1) > end)
            return 0;
        datagram_end = (f->l3_off & 0xff) + sizeof(*ip6) + ovnbpf_ntohs(ip6->payload_len);
        sum = ovnbpf_sum_ip6(ip6->saddr) + ovnbpf_sum_ip6(ip6->daddr);
    } else {
        return 0;
    }
    /* the sum runs to the packet's end (the verifier's bound): Ethernet padding after the
     * datagram would be summed too, and a guest's stack never pads what it hands over */
    if (data + datagram_end != end)
        return 0;
    l4len = datagram_end - (f->l4_off & 0x3fff);
    if (l4len > OVNBPF_CSUM_MAX_CHUNKS * 512)
        return 0;
    sum += ovnbpf_htons((__u16)f->ip_proto) + ovnbpf_htons((__u16)l4len);
    *csum = 0;
    __u16 c = ~(__u16)ovnbpf_csum_packet(l4, end, ovnbpf_csum_fold(sum));
    if (udp && c == 0)
        c = 0xffff;
    *csum = c;
    return 1;
}

#endif /* OVNBPF_L4CSUM_H */
