/* SPDX-License-Identifier: GPL-2.0 */
/* The pipeline ABI: the per-packet state shared by hand-written datapath code and the
 * C that the compiler generates from logical flows.
 *
 * The datapath parses a packet once into `struct ovnbpf_flow` (every header field a
 * logical flow can match, in host byte order, MACs as the low 48 bits of a u64), runs the
 * generated pipeline on that struct, then writes back whatever the pipeline changed
 * (it keeps the parsed original to compare against). Generated code therefore never
 * touches packet memory and needs no bounds checks: it only reads and writes fields here.
 *
 * Invariants:
 *  - Every field is host byte order. IPv4 addresses: 10.0.1.11 == 0x0a00010b.
 *  - MACs: 0a:00:00:00:01:03 == 0x0a0000000103ULL. IPv6: hi = first 8 bytes, lo = last 8.
 *  - `present` says which headers were parsed (OVNBPF_P_*); a field of an absent header is 0.
 *  - The struct lives in a per-CPU scratch map, valid for one packet's trip through one
 *    program (including its tail calls); nothing survives to the next packet.
 *  - Identifiers are prefixed `ovnbpf_`/`OVNBPF_`: bcc pulls in kernel headers, whose names
 *    (struct key, ...) would otherwise collide.
 */
#ifndef OVNBPF_FLOW_H
#define OVNBPF_FLOW_H

#include <linux/types.h>

/* Headers present in the packet (bits of ovnbpf_flow.present). */
#define OVNBPF_P_VLAN   (1u << 0)
#define OVNBPF_P_ARP    (1u << 1)
#define OVNBPF_P_IP4    (1u << 2)
#define OVNBPF_P_IP6    (1u << 3)
#define OVNBPF_P_TCP    (1u << 4)
#define OVNBPF_P_UDP    (1u << 5)
#define OVNBPF_P_SCTP   (1u << 6)
#define OVNBPF_P_ICMP4  (1u << 7)
#define OVNBPF_P_ICMP6  (1u << 8)
#define OVNBPF_P_ND_NS  (1u << 9)   /* ICMPv6 type 135 with a parsed target */
#define OVNBPF_P_ND_NA  (1u << 10)  /* ICMPv6 type 136 */
#define OVNBPF_P_FRAG   (1u << 11)  /* IP fragment (any) */
#define OVNBPF_P_LATER_FRAG (1u << 12) /* IP fragment with offset != 0: no L4 header */

/* Bits of ovnbpf_flow.flags (OVN's flags.*). The datapath itself reads only LOOPBACK:
 * without it a packet is never output to the port it came in on. */
#define OVNBPF_FLAG_LOOPBACK            (1u << 0)
#define OVNBPF_FLAG_RCV_FROM_RAMP       (1u << 1)  /* OVN: received from VXLAN; northd tests flags[1] raw */
#define OVNBPF_FLAG_FORCE_SNAT_FOR_DNAT (1u << 2)
#define OVNBPF_FLAG_FORCE_SNAT_FOR_LB   (1u << 3)
#define OVNBPF_FLAG_LOCAL_ONLY          (1u << 4)
#define OVNBPF_FLAG_NESTED_CONTAINER    (1u << 5)
/* Bits 0..5 are OVN's own numbering (northd writes some as raw flags[N]).
 * Bits 6..31 are allocated by the compiler's symbol table for the remaining flags.* names. */

#define OVNBPF_NREGS 16   /* reg0..reg15; xreg/xxreg are views of these (reg0 most significant) */

/* Logical ports: keys as in Port_Binding.tunnel_key; 0 = none. Egress keys >= 32768 are
 * Multicast_Group tunnel keys. */
#define OVNBPF_MCAST_KEY_MIN 32768

/* Patch-port hops one packet may take (each costs two of the kernel's 33 tail calls). */
#define OVNBPF_MAX_HOPS 8

struct ovnbpf_flow {
    /* logical metadata */
    __u32 dp;          /* Datapath_Binding.tunnel_key of the datapath being processed */
    __u32 inport;      /* logical ingress port key */
    __u32 outport;     /* logical egress port key (or multicast group key) */
    __u32 flags;       /* OVNBPF_FLAG_* */
    __u32 reg[OVNBPF_NREGS];
    __u32 present;     /* OVNBPF_P_* */
    __u32 _pad0;

    /* L2 */
    __u64 eth_src;
    __u64 eth_dst;
    __u16 eth_type;    /* inner ethertype after any VLAN tag */
    __u16 vlan_tci;    /* outer tag; 0 when untagged, else TCI | 0x1000 (OVS's CFI=present) */
    __u32 _pad1;

    /* ARP (OVNBPF_P_ARP) */
    __u64 arp_sha;
    __u64 arp_tha;
    __u32 arp_spa;
    __u32 arp_tpa;
    __u16 arp_op;
    __u16 _pad2[3];

    /* IP (OVNBPF_P_IP4 / OVNBPF_P_IP6) */
    __u32 ip4_src;
    __u32 ip4_dst;
    __u64 ip6_src_hi, ip6_src_lo;
    __u64 ip6_dst_hi, ip6_dst_lo;
    __u32 ip6_label;
    __u8  ip_proto;
    __u8  ip_ttl;      /* IPv6 hop limit too */
    __u8  ip_dscp;
    __u8  ip_ecn;

    /* L4 */
    __u16 tp_src;      /* TCP/UDP/SCTP ports */
    __u16 tp_dst;
    __u16 tcp_flags;
    __u8  icmp_type;   /* ICMPv4 or ICMPv6 */
    __u8  icmp_code;

    /* Neighbour discovery (OVNBPF_P_ND_NS / OVNBPF_P_ND_NA) */
    __u64 nd_target_hi, nd_target_lo;
    __u64 nd_sll;
    __u64 nd_tll;

    /* Connection tracking (lib/ct.h): ct_next fills these, ct_commit stores ct_mark/label.
     * Matches read them as OVN's ct_state / ct_mark / ct_label fields. */
    __u32 ct_state;    /* OVNBPF_CS_*: OVS's ct_state bits */
    __u32 ct_mark;
    __u64 ct_label_hi, ct_label_lo;

    /* Datapath-private (generated code must not use these): where the headers are in the
     * packet, so the write-back can find them without re-parsing. Offsets are from the
     * start of the frame being processed (the inner frame after decap). */
    __u16 l3_off;      /* ARP / IPv4 / IPv6 header */
    __u16 l4_off;      /* TCP / UDP / SCTP / ICMP header; 0 = none */
    __u16 frame_len;   /* bytes from the Ethernet header to the end of the frame */
    __u8  hops;        /* patch-port hops taken (bounded: OVNBPF_MAX_HOPS) */
    __u8  origin;      /* OVNBPF_ORIGIN_*: where the packet entered this chassis */
    __u32 out_type;    /* ingress -> egress: the outport's lport, looked up once (0 = not yet) */
    __u32 out_a;       /* LOCAL: ifindex; PATCH: peer dp */
    __u32 out_b;       /* PATCH: peer port */
    /* The punt path (lib/pipeline.h, xdp_inject.c) */
    __u32 punt_cookie; /* CONTROLLER verdict: the lflow cookie OVNBPF_PUNT() was given */
    __u32 copy_cookie; /* a learning action (put_arp, ...) asked for a copy; 0 = none */
    __u16 start_table; /* OVNBPF_RESUME_TABLE: the first table to run */
    __u8  resume;      /* OVNBPF_RESUME_*: set by xdp_inject.c for one pipeline run */
    __u8  copy_kind;   /* OVNBPF_COPY_* of the pending copy */
    __u8  punt_depth;  /* generated by the controller from a packet this deep (0 = a VM's) */
    __u8  _pad3[3];

    __u16 icmp_id;     /* conntrack: ICMP/ICMPv6 echo identifier (conntrack's port) */
    __u16 _pad4[3];
};

/* ct_state bits, OVS's numbering (ct.new == ct_state[0], ...). */
#define OVNBPF_CS_NEW  (1u << 0)
#define OVNBPF_CS_EST  (1u << 1)
#define OVNBPF_CS_REL  (1u << 2)
#define OVNBPF_CS_RPL  (1u << 3)
#define OVNBPF_CS_INV  (1u << 4)
#define OVNBPF_CS_TRK  (1u << 5)
#define OVNBPF_CS_SNAT (1u << 6)
#define OVNBPF_CS_DNAT (1u << 7)

/* How a packet re-injected by the controller enters a pipeline stage. */
#define OVNBPF_RESUME_NONE   0
#define OVNBPF_RESUME_TABLE  1   /* run tables start_table.. of the stage */
#define OVNBPF_RESUME_OUTPUT 2   /* the punted action ended in output: act on f->outport */

/* What a learning copy is for (OVNBPF_PUNT_COPY's `what`, ovnbpf_flow.copy_kind). */
#define OVNBPF_COPY_PUT_ARP 1
#define OVNBPF_COPY_PUT_ND  2
#define OVNBPF_COPY_PUT_FDB 3

#define OVNBPF_ORIGIN_VIF    0
#define OVNBPF_ORIGIN_TUNNEL 1   /* egress only; never output back into the overlay */

/* Pipeline verdicts: what ovnbpf_pipeline_ingress() / _egress() return.
 * Negative values are drop reasons from drop.h (counted by the datapath). */
#define OVNBPF_PL_DROP       0  /* dropped by a logical flow (counted as DROP_POLICY) */
#define OVNBPF_PL_OUTPUT     1  /* send to f->outport (a port key or a multicast group key) */
#define OVNBPF_PL_CONTROLLER 2  /* handed to the controller (pinctrl-style actions, lib/punt.h) */
#define OVNBPF_PL_NOT_COMPILED 3 /* a flow the compiler could not lower (conntrack, ...) */
#define OVNBPF_PL_PUNTED     4  /* datapath-internal: the punt was handed up (lib/punt.h) */

#endif /* OVNBPF_FLOW_H */
