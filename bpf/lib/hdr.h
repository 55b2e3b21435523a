/* SPDX-License-Identifier: GPL-2.0 */
/* Wire headers, declared here rather than taken from kernel headers so the layout is
 * explicit and the names cannot clash with whatever bcc pulls in. Multi-byte fields are
 * network byte order (__be*). */
#ifndef OVNBPF_HDR_H
#define OVNBPF_HDR_H

#include "common.h"

struct ovnbpf_eth {
    __u8   dst[6];
    __u8   src[6];
    __be16 type;
} __attribute__((packed));

struct ovnbpf_vlan {
    __be16 tci;
    __be16 type;      /* the ethertype that follows the tag */
};

struct ovnbpf_arp {
    __be16 htype;
    __be16 ptype;
    __u8   hlen;
    __u8   plen;
    __be16 op;
    __u8   sha[6];
    __u8   spa[4];    /* byte arrays: ARP addresses are not 4-byte aligned */
    __u8   tha[6];
    __u8   tpa[4];
} __attribute__((packed));

struct ovnbpf_ip4 {
    __u8   ver_ihl;   /* version << 4 | IHL (32-bit words) */
    __u8   tos;       /* DSCP << 2 | ECN */
    __be16 tot_len;
    __be16 id;
    __be16 frag_off;  /* flags (DF 0x4000, MF 0x2000) | offset in 8-byte units */
    __u8   ttl;
    __u8   proto;
    __be16 csum;
    __be32 saddr;
    __be32 daddr;
};
#define OVNBPF_IP4_DF      0x4000
#define OVNBPF_IP4_MF      0x2000
#define OVNBPF_IP4_OFFSET  0x1fff

struct ovnbpf_ip6 {
    __be32 ver_tc_label;
    __be16 payload_len;
    __u8   nexthdr;
    __u8   hop_limit;
    __u8   saddr[16];
    __u8   daddr[16];
};

struct ovnbpf_udp {
    __be16 sport;
    __be16 dport;
    __be16 len;
    __be16 csum;
};

struct ovnbpf_tcp {
    __be16 sport;
    __be16 dport;
    __be32 seq;
    __be32 ack;
    __be16 doff_flags;  /* data offset << 12 | flags (12 bits incl. NS) */
    __be16 window;
    __be16 csum;
    __be16 urg;
};

struct ovnbpf_sctp {
    __be16 sport;
    __be16 dport;
    __be32 vtag;
    __be32 csum;        /* CRC32c: cannot be updated incrementally */
};

struct ovnbpf_icmp {   /* ICMPv4 and ICMPv6 share the first 4 bytes */
    __u8   type;
    __u8   code;
    __be16 csum;
};

#define OVNBPF_IPPROTO_ICMP   1
#define OVNBPF_IPPROTO_TCP    6
#define OVNBPF_IPPROTO_UDP    17
#define OVNBPF_IPPROTO_ICMPV6 58
#define OVNBPF_IPPROTO_SCTP   132

/* Geneve (RFC 8926) and the one option OVN uses. */
#define OVNBPF_GENEVE_PORT 6081
struct ovnbpf_geneve {
    __u8   ver_optlen;  /* version(2) | option length in 4-byte words (6) */
    __u8   flags;       /* O(1) | C(1) | reserved(6) */
    __be16 proto;
    __u8   vni[3];
    __u8   rsvd;
};
#define OVNBPF_GENEVE_F_OAM  0x80
#define OVNBPF_GENEVE_F_CRIT 0x40

struct ovnbpf_geneve_opt {
    __be16 opt_class;
    __u8   type;        /* top bit = critical */
    __u8   len;         /* reserved(3) | data length in 4-byte words (5) */
    __be32 data;        /* OVN: 0 | ingress port (15) | egress port (16) */
};
#define OVNBPF_GENEVE_OPT_CRIT    0x80
#define OVNBPF_OVN_OPT_CLASS      0x0102
#define OVNBPF_OVN_OPT_TYPE       0x80
#define OVNBPF_OVN_OPT_LEN_WORDS  1

/* Outer Ethernet + IPv4 + UDP + Geneve + the OVN option. */
#define OVNBPF_ENCAP_LEN (14 + 20 + 8 + 8 + 8)

/* ND options walked looking for SLL/TLL (parse.h reads them, rewrite.h writes them back) */
#ifndef OVNBPF_MAX_ND_OPTS
#define OVNBPF_MAX_ND_OPTS 3
#endif

#endif /* OVNBPF_HDR_H */
