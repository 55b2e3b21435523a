/* SPDX-License-Identifier: GPL-2.0 */
/* Drop reasons: every drop in ovnbpf returns one of these negative codes and bumps its
 * per-CPU counter (ovnbpf_drops[-reason]). datapath/drops.py mirrors this enum; a test
 * parses this file and fails if the two differ, so edit both together.
 * Keep one `OVNBPF_DROP_NAME = -N,` per line: the Python side parses that shape. */
#ifndef OVNBPF_DROP_H
#define OVNBPF_DROP_H

#include "common.h"

enum ovnbpf_drop_reason {
    OVNBPF_DROP_RUNT = -1,                /* shorter than an Ethernet header */
    OVNBPF_DROP_VLAN_TRUNCATED = -2,      /* a VLAN tag cut short */
    OVNBPF_DROP_VLAN_TOO_DEEP = -3,       /* more than two VLAN tags */
    OVNBPF_DROP_ARP_TRUNCATED = -4,       /* ARP message cut short */
    OVNBPF_DROP_ARP_UNSUPPORTED = -5,     /* not Ethernet/IPv4 ARP */
    OVNBPF_DROP_IP4_TRUNCATED = -6,       /* shorter than its IPv4 header */
    OVNBPF_DROP_IP4_BAD_HEADER = -7,      /* version != 4 or IHL < 5 */
    OVNBPF_DROP_IP4_BAD_LENGTH = -8,      /* total length vs IHL / frame */
    OVNBPF_DROP_IP6_TRUNCATED = -9,       /* shorter than its IPv6 header */
    OVNBPF_DROP_IP6_EXT_HEADERS = -10,    /* truncated or too many extension headers */
    OVNBPF_DROP_L4_TRUNCATED = -11,       /* TCP/UDP/SCTP/ICMP header cut short */
    OVNBPF_DROP_TCP_BAD_DOFF = -12,       /* TCP data offset below 5 or past the frame */
    OVNBPF_DROP_ND_TRUNCATED = -13,       /* neighbour discovery message cut short */
    OVNBPF_DROP_GENEVE_TRUNCATED = -14,   /* Geneve header or options cut short */
    OVNBPF_DROP_GENEVE_BAD_VERSION = -15, /* Geneve version other than 0 */
    OVNBPF_DROP_GENEVE_BAD_OPT_LEN = -16, /* Geneve option length past the header */
    OVNBPF_DROP_GENEVE_UNKNOWN_CRIT_OPT = -17,/* a critical Geneve option we do not know */
    OVNBPF_DROP_GENEVE_NO_OVN_OPT = -18,  /* no OVN option (class 0x0102 type 0x80) */
    OVNBPF_DROP_GENEVE_BAD_PROTO = -19,   /* payload is not Ethernet (0x6558) */
    OVNBPF_DROP_GENEVE_OAM = -20,         /* O bit: control packet, no handler yet */
    OVNBPF_DROP_TUNNEL_UNKNOWN_SRC = -21, /* outer source is not a known chassis */
    OVNBPF_DROP_TUNNEL_FRAGMENT = -22,    /* fragmented outer IPv4 */
    OVNBPF_DROP_UNKNOWN_VIF = -23,        /* ingress interface is not a bound VIF */
    OVNBPF_DROP_POLICY = -24,             /* a logical flow dropped it */
    OVNBPF_DROP_UNKNOWN_OUTPORT = -25,    /* outport not in ovnbpf_lports */
    OVNBPF_DROP_OUTPORT_NOT_LOCAL = -26,  /* tunnel packet for a port not bound here */
    OVNBPF_DROP_UNKNOWN_CHASSIS = -27,    /* remote port's chassis has no tunnel */
    OVNBPF_DROP_LOOPBACK = -28,           /* outport == inport without flags.loopback */
    OVNBPF_DROP_ENCAP_FAILED = -29,       /* could not grow the frame */
    OVNBPF_DROP_DECAP_FAILED = -30,       /* could not shrink the frame */
    OVNBPF_DROP_MCAST_UNKNOWN_GROUP = -31,/* multicast outport with no Multicast_Group here */
    OVNBPF_DROP_MCAST_TOO_MANY = -32,     /* members beyond OVNBPF_MCAST_MAX_MEMBERS */
    OVNBPF_DROP_MISSED_TAIL_CALL = -33,   /* a tail call found no program (pipeline being replaced?) */
    OVNBPF_DROP_NEED_CONTROLLER = -34,    /* a punt, but no controller reads the punt buffer */
    OVNBPF_DROP_META_FAILED = -35,        /* could not attach XDP metadata for TC */
    OVNBPF_DROP_ENCAP_TOO_BIG = -36,      /* frame + 58 B exceeds OVNBPF_MAX_FRAME */
    OVNBPF_DROP_PIPELINE_ERROR = -37,     /* pipeline returned an unknown verdict */
    OVNBPF_DROP_IP6_BAD_HEADER = -38,     /* version != 6 */
    OVNBPF_DROP_NOT_COMPILED = -39,       /* a logical flow the compiler could not lower */
    OVNBPF_DROP_NO_PIPELINE = -40,        /* no pipeline installed (empty program slot) */
    OVNBPF_DROP_HOP_LIMIT = -41,          /* too many patch-port hops */
    OVNBPF_DROP_LOOP_BAD_HEADER = -42,    /* recirculated frame without our mark */
    OVNBPF_DROP_NO_LOOP = -43,            /* multicast copy, but no recirculation device */
    OVNBPF_DROP_NO_NEIGH = -44,           /* underlay next hop unknown (fib + static MAC) */
    OVNBPF_DROP_FIB_TOO_BIG = -45,        /* fib lookup: frame above the route's MTU */
    OVNBPF_DROP_PUNT_LOST = -46,          /* punt buffer full: the controller is behind */
    OVNBPF_DROP_INJECT_BAD_HEADER = -47,  /* xdp_inject: no/short resume header */
    OVNBPF_DROP_PUNT_RATE = -48,          /* over the punt meter (lib/maps.h): controller protected */
    OVNBPF_DROP_GSO_UNSUPPORTED = -49,    /* a guest's GSO super-frame (tap VIF): not segmented here */
    OVNBPF_DROP_SKB_L4_REWRITE = -50,     /* skb-mode VIF: an address/port rewrite on a frame whose checksum may be partial */
    OVNBPF_DROP_SKB_OUT_FAILED = -51,     /* skb-mode VIF: TC could not encapsulate or redirect */
};

#define OVNBPF_DROP_MAX 64   /* size of the counter array; reasons are 1..63 */

#endif /* OVNBPF_DROP_H */
