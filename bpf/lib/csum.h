/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksums. All sums are over native (little-endian) 16-bit loads, exactly as
 * bpf_csum_diff computes them; folding and storing the result natively yields the right
 * network-order bytes, so no byte swapping is needed anywhere in here. */
#ifndef OVNBPF_CSUM_H
#define OVNBPF_CSUM_H

#include "common.h"
#include "opaque.h"

/* Largest frame whose full checksum we compute (jumbo): 18 x 512 bytes.
 * bpf_csum_diff takes at most 512 bytes per call, so the sum runs in three loops (512-byte
 * chunks, 64-byte chunks, 4-byte words) plus a 2- and a 1-byte step. The verifier knows
 * pointer offsets exactly, so every way out of one loop would be verified separately
 * through all later ones (18 x 8 x 16 x 4 paths: 446 k instructions for one program).
 * Between loops the offset is therefore passed through ovnbpf_opaque_u32(): an unknown
 * but bounded offset makes all ways out look alike, and the verifier prunes them. */
#define OVNBPF_CSUM_MAX_CHUNKS 18

OVNBPF_INLINE __u16 ovnbpf_csum_fold(__u64 sum)
{
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)sum;
}

/* One's-complement sum of the bytes [start, end) of packet memory, folded to 16 bits. */
OVNBPF_INLINE __u32 ovnbpf_csum_packet(void *start, void *end, __u32 seed)
{
    __u8 *base = start, *p = start;
    __u64 s = seed;
    __u32 off;
    int i;

#pragma clang loop unroll(disable)
    for (i = 0; i < OVNBPF_CSUM_MAX_CHUNKS; i++) {
        if (p + 512 > (__u8 *)end)
            break;
        s = bpf_csum_diff(0, 0, (void *)p, 512, (__u32)s);
        p += 512;
    }
    off = ovnbpf_opaque_u32((__u32)(p - base)) & 0x3fff;
    p = base + off;
#pragma clang loop unroll(disable)
    for (i = 0; i < 7; i++) {
        if (p + 64 > (__u8 *)end)
            break;
        s = bpf_csum_diff(0, 0, (void *)p, 64, (__u32)s);
        p += 64;
    }
    off = ovnbpf_opaque_u32((__u32)(p - base)) & 0x3fff;
    p = base + off;
#pragma clang loop unroll(disable)
    for (i = 0; i < 15; i++) {
        if (p + 4 > (__u8 *)end)
            break;
        s += *(__u32 *)p;
        p += 4;
    }
    off = ovnbpf_opaque_u32((__u32)(p - base)) & 0x3fff;
    p = base + off;
    if (p + 2 <= (__u8 *)end) {
        s += *(__u16 *)p;
        p += 2;
    }
    if (p + 1 <= (__u8 *)end)
        s += *p;          /* odd byte, zero-padded: its native u16 value is just p[0] */
    return ovnbpf_csum_fold(s);
}

/* RFC 1624 incremental update of a 16-bit checksum field for a 16-bit word change.
 * Values are as stored in the packet (native loads of network-order bytes). */
OVNBPF_INLINE void ovnbpf_csum_replace2(__u16 *csum, __u16 from, __u16 to)
{
    __u32 s = (__u16)~*csum + (__u16)~from + to;
    *csum = ~ovnbpf_csum_fold(s);
}

OVNBPF_INLINE void ovnbpf_csum_replace4(__u16 *csum, __u32 from, __u32 to)
{
    __u64 s = (__u16)~*csum;
    s += (__u16)~(from & 0xffff) + (__u16)~(from >> 16);
    s += (to & 0xffff) + (to >> 16);
    *csum = ~ovnbpf_csum_fold(s);
}

/* UDP: a zero checksum means "none" and must stay zero; a computed zero is sent as 0xffff. */
OVNBPF_INLINE void ovnbpf_udp_csum_replace4(__u16 *csum, __u32 from, __u32 to)
{
    if (*csum == 0)
        return;
    ovnbpf_csum_replace4(csum, from, to);
    if (*csum == 0)
        *csum = 0xffff;
}

OVNBPF_INLINE void ovnbpf_udp_csum_replace2(__u16 *csum, __u16 from, __u16 to)
{
    if (*csum == 0)
        return;
    ovnbpf_csum_replace2(csum, from, to);
    if (*csum == 0)
        *csum = 0xffff;
}

/* Checksum of a 20-byte IPv4 header (csum field must be 0 when called). */
OVNBPF_INLINE __u16 ovnbpf_ip4_csum20(const __u16 *w)
{
    __u32 s = 0;
    int i;
#pragma unroll
    for (i = 0; i < 10; i++)
        s += w[i];
    return ~ovnbpf_csum_fold(s);
}

#endif /* OVNBPF_CSUM_H */
