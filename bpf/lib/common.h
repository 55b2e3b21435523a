/* SPDX-License-Identifier: GPL-2.0 */
/* Shared basics for every ovnbpf BPF source. Compiled by bcc, which already provides
 * <uapi/linux/bpf.h>, the helper prototypes and the BPF_TABLE macros. Include only small
 * uapi headers: <linux/if_ether.h> and friends drag in half the kernel and made a compile
 * take 4.5 s instead of 0.5 s. */
#ifndef OVNBPF_COMMON_H
#define OVNBPF_COMMON_H

#include <uapi/linux/bpf.h>
#include <uapi/linux/pkt_cls.h>

#define OVNBPF_INLINE static __always_inline

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Our own byte-order helpers: bcc's and the kernel's differ between versions. x86 only
 * (the project's machines are x86_64). */
#define ovnbpf_htons(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define ovnbpf_ntohs(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define ovnbpf_htonl(x) ((__u32)__builtin_bswap32((__u32)(x)))
#define ovnbpf_ntohl(x) ((__u32)__builtin_bswap32((__u32)(x)))

/* Ethertypes, host order. */
#define OVNBPF_ETH_P_IP     0x0800
#define OVNBPF_ETH_P_ARP    0x0806
#define OVNBPF_ETH_P_IPV6   0x86dd
#define OVNBPF_ETH_P_8021Q  0x8100
#define OVNBPF_ETH_P_8021AD 0x88a8
#define OVNBPF_ETH_P_TEB    0x6558   /* Transparent Ethernet Bridging (Geneve payload) */

/* A MAC in 6 bytes of packet memory <-> the low 48 bits of a u64 (flow.h convention). */
/* Two loads/stores instead of six: x86 takes unaligned accesses (and the verifier only
 * insists on alignment where the CPU needs it). This is on every packet's path twice. */
OVNBPF_INLINE __u64 ovnbpf_mac_load(const __u8 *p)
{
    return ((__u64)ovnbpf_ntohl(*(const __u32 *)p) << 16) |
           ovnbpf_ntohs(*(const __u16 *)(p + 4));
}

OVNBPF_INLINE void ovnbpf_mac_store(__u8 *p, __u64 mac)
{
    *(__u32 *)p = ovnbpf_htonl((__u32)(mac >> 16));
    *(__u16 *)(p + 4) = ovnbpf_htons((__u16)mac);
}

/* Byte-wise store, for stack buffers: the verifier refuses misaligned stack accesses. */
OVNBPF_INLINE void ovnbpf_mac_store_bytes(__u8 *p, __u64 mac)
{
    p[0] = mac >> 40; p[1] = mac >> 32; p[2] = mac >> 24;
    p[3] = mac >> 16; p[4] = mac >> 8;  p[5] = mac;
}

OVNBPF_INLINE __u64 ovnbpf_mac_load_bytes(const __u8 *p)
{
    return ((__u64)p[0] << 40) | ((__u64)p[1] << 32) | ((__u64)p[2] << 24) |
           ((__u64)p[3] << 16) | ((__u64)p[4] << 8) | p[5];
}

/* A map, pinned under OVNBPF_PIN_DIR when the loader gives one (lib/maps.h). */
#ifdef OVNBPF_PIN_DIR
#define OVNBPF_MAP(type, key, val, name, n, flags) \
    BPF_TABLE_PINNED(type, key, val, name, n, OVNBPF_PIN_DIR "/" #name, flags)
#else
#define OVNBPF_MAP(type, key, val, name, n, flags) \
    BPF_F_TABLE(type, key, val, name, n, flags)
#endif

#endif /* OVNBPF_COMMON_H */
