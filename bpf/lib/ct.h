/* SPDX-License-Identifier: GPL-2.0 */
/* Connection tracking with OVN's semantics, in our own maps (bpf/README.md says why not
 * the kernel's conntrack kfuncs: bcc cannot call kfuncs, they track TCP/UDP only and BPF
 * cannot write ct_label).
 *
 *   ovnbpf_ct_next(f, port)    look the packet up in the zone (f->dp, port): fills
 *                              f->ct_state (OVS's bits), f->ct_mark, f->ct_label, moves the
 *                              connection's TCP state and last-seen time
 *   ovnbpf_ct_commit(f, port)  create the connection (this packet's direction is the
 *                              original one) or update it; stores f->ct_mark/ct_label
 *   ovnbpf_ct_clear(f)         forget the packet's conntrack fields
 *
 * Zones are OVN's for a logical switch: one per logical port, the inport's in the ingress
 * pipeline and the outport's in egress (generated code passes the port). The key is the
 * zone and the 5-tuple normalized so both directions find one entry: endpoint A is the
 * lower (address, port). ICMP/ICMPv6 echo uses its identifier as both ports.
 *
 * The table is an LRU hash, bounded (OVNBPF_CT_MAX, pinned: it outlives pipeline swaps
 * and controller restarts). An entry past its state's timeout is removed when a lookup
 * finds it; the LRU evicts the least recently used when the table is full. Commits while
 * the live estimate is at the bound count as OVERFLOW (each evicts an entry).
 *
 * Gaps (stated in bpf/README.md): no TCP window/sequence checks; ICMP errors are not
 * matched to the connection they quote (ct.rel is never set: each is ct.new); IP
 * fragments are ct.inv (no reassembly); updates from two CPUs to one entry may race
 * (last writer wins, as the kernel's own counters do without locks). */
#ifndef OVNBPF_CT_H
#define OVNBPF_CT_H

#include "common.h"
#include "flow.h"
#include "maps.h"

#ifndef OVNBPF_CT_MAP_FLAGS
#define OVNBPF_CT_MAP_FLAGS 0   /* one LRU for all CPUs (BPF_F_NO_COMMON_LRU: no gain measured) */
#endif
#ifndef OVNBPF_CT_MAX
#define OVNBPF_CT_MAX 65536
#endif

struct ovnbpf_ct_key {
    __u32 dp;          /* zone: datapath tunnel key ... */
    __u16 port;        /* ... and logical port key */
    __u8  proto;
    __u8  family;      /* 4 or 6 */
    __u64 a_hi, a_lo;  /* endpoint A: the lower (address, port); IPv4 in a_lo */
    __u64 b_hi, b_lo;
    __u16 a_port, b_port;
    __u32 _pad;
};

#define OVNBPF_CT_TCP_NONE     0   /* not TCP */
#define OVNBPF_CT_TCP_SYN_SENT 1
#define OVNBPF_CT_TCP_SYN_RECV 2
#define OVNBPF_CT_TCP_EST      3
#define OVNBPF_CT_TCP_FIN_WAIT 4   /* one side sent FIN */
#define OVNBPF_CT_TCP_CLOSING  5   /* both sides sent FIN (TIME_WAIT after) */
#define OVNBPF_CT_TCP_CLOSE    6   /* RST seen */

#define OVNBPF_CTF_SEEN_REPLY (1u << 0)
#define OVNBPF_CTF_FIN_ORIG   (1u << 1)
#define OVNBPF_CTF_FIN_REPLY  (1u << 2)

struct ovnbpf_ct_val {
    __u64 last_ns;     /* bpf_ktime_get_ns() of the last packet */
    __u32 mark;
    __u8  orig_is_a;   /* the originator (first committed packet's source) is endpoint A */
    __u8  tcp;         /* OVNBPF_CT_TCP_* */
    __u8  flags;       /* OVNBPF_CTF_* */
    __u8  _pad;
    __u64 label_hi, label_lo;
};

/* Counters (per CPU), read by `ovnbpf ctl` (datapath/drops.py names them). */
#define OVNBPF_CT_LOOKUP   0
#define OVNBPF_CT_HIT      1
#define OVNBPF_CT_CREATED  2
#define OVNBPF_CT_EXPIRED  3
#define OVNBPF_CT_INVALID  4
#define OVNBPF_CT_OVERFLOW 5
#define OVNBPF_CT_REOPENED 6
#define OVNBPF_CT_NSTATS   8

OVNBPF_MAP("lru_hash", struct ovnbpf_ct_key, struct ovnbpf_ct_val, ovnbpf_ct_v1, OVNBPF_CT_MAX, OVNBPF_CT_MAP_FLAGS);
OVNBPF_MAP("percpu_array", __u32, __u64, ovnbpf_ct_stats, OVNBPF_CT_NSTATS, 0);
OVNBPF_MAP("array", __u32, __u64, ovnbpf_ct_live, 1, 0);   /* entries committed - expired */

#define OVNBPF_SEC 1000000000ULL

OVNBPF_INLINE void ovnbpf_ct_count(__u32 what)
{
    __u64 *n = ovnbpf_ct_stats.lookup(&what);
    if (n)
        *n += 1;
}

OVNBPF_INLINE void ovnbpf_ct_live_add(__s64 delta)
{
    __u32 zero = 0;
    __u64 *n = ovnbpf_ct_live.lookup(&zero);
    if (n)
        __sync_fetch_and_add(n, delta);
}

/* Fill *k for f in zone (f->dp, port). Returns 1 if the packet's source is endpoint A,
 * 0 if it is B, -1 if the packet cannot be tracked (not IP, a fragment). */
OVNBPF_INLINE int ovnbpf_ct_key_of(const struct ovnbpf_flow *f, __u32 port,
                                   struct ovnbpf_ct_key *k)
{
    __u64 s_hi = 0, s_lo, d_hi = 0, d_lo;
    __u16 sp = 0, dp = 0;
    int src_is_a;

    __builtin_memset(k, 0, sizeof(*k));
    if (f->present & OVNBPF_P_FRAG)
        return -1;
    if (f->present & OVNBPF_P_IP4) {
        k->family = 4;
        s_lo = f->ip4_src;
        d_lo = f->ip4_dst;
    } else if (f->present & OVNBPF_P_IP6) {
        k->family = 6;
        s_hi = f->ip6_src_hi; s_lo = f->ip6_src_lo;
        d_hi = f->ip6_dst_hi; d_lo = f->ip6_dst_lo;
    } else {
        return -1;
    }
    if (f->present & (OVNBPF_P_TCP | OVNBPF_P_UDP | OVNBPF_P_SCTP)) {
        sp = f->tp_src;
        dp = f->tp_dst;
    } else if (f->present & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6)) {
        sp = dp = f->icmp_id;
    }
    k->dp = f->dp;
    k->port = (__u16)port;
    k->proto = f->ip_proto;
    src_is_a = s_hi < d_hi || (s_hi == d_hi && (s_lo < d_lo || (s_lo == d_lo && sp <= dp)));
    if (src_is_a) {
        k->a_hi = s_hi; k->a_lo = s_lo; k->a_port = sp;
        k->b_hi = d_hi; k->b_lo = d_lo; k->b_port = dp;
    } else {
        k->a_hi = d_hi; k->a_lo = d_lo; k->a_port = dp;
        k->b_hi = s_hi; k->b_lo = s_lo; k->b_port = sp;
    }
    return src_is_a;
}

#define OVNBPF_TCP_FIN 0x01
#define OVNBPF_TCP_SYN 0x02
#define OVNBPF_TCP_RST 0x04
#define OVNBPF_TCP_ACK 0x10

/* May this packet start a connection? (OVS's userspace conntrack rules: a TCP SYN+ACK or
 * RST, or a packet with neither SYN, ACK nor RST, cannot; nor can an ICMP echo reply.) */
OVNBPF_INLINE int ovnbpf_ct_may_start(const struct ovnbpf_flow *f)
{
    if (f->present & OVNBPF_P_TCP) {
        __u16 fl = f->tcp_flags;
        if (fl & OVNBPF_TCP_RST)
            return 0;
        if ((fl & OVNBPF_TCP_SYN) && (fl & (OVNBPF_TCP_ACK | OVNBPF_TCP_FIN)))
            return 0;
        return (fl & (OVNBPF_TCP_SYN | OVNBPF_TCP_ACK)) != 0;
    }
    if (f->present & OVNBPF_P_ICMP4)
        return f->icmp_type != 0;
    if (f->present & OVNBPF_P_ICMP6)
        return f->icmp_type != 129;
    return 1;
}

/* ICMP that is not an echo (errors above all) is not tracked: we do not match an error to
 * the connection it quotes (ct.rel, a gap), so each one is ct.new and the ACLs judge it,
 * as ovn-trace --ct=new does; never committed. */
OVNBPF_INLINE int ovnbpf_ct_untracked_icmp(const struct ovnbpf_flow *f)
{
    if (f->present & OVNBPF_P_ICMP4)
        return f->icmp_type != 8 && f->icmp_type != 0;
    if (f->present & OVNBPF_P_ICMP6)
        return f->icmp_type != 128 && f->icmp_type != 129;
    return 0;
}

OVNBPF_INLINE __u64 ovnbpf_ct_timeout(const struct ovnbpf_ct_val *v, const struct ovnbpf_flow *f)
{
    if (f->present & OVNBPF_P_TCP) {
        switch (v->tcp) {
        case OVNBPF_CT_TCP_EST:      return 86400 * OVNBPF_SEC;   /* OVS's tcp_established */
        case OVNBPF_CT_TCP_SYN_SENT:
        case OVNBPF_CT_TCP_SYN_RECV: return 30 * OVNBPF_SEC;
        case OVNBPF_CT_TCP_CLOSE:    return 10 * OVNBPF_SEC;
        default:                     return 120 * OVNBPF_SEC;     /* FIN_WAIT, TIME_WAIT */
        }
    }
    if (f->present & OVNBPF_P_UDP)
        return (v->flags & OVNBPF_CTF_SEEN_REPLY ? 120 : 30) * OVNBPF_SEC;
    if (f->present & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6))
        return 30 * OVNBPF_SEC;
    return 600 * OVNBPF_SEC;
}

/* Move the TCP state for one packet of direction `reply`. Returns 0 if the packet is
 * invalid for the connection's state (the state is then left as it was). */
OVNBPF_INLINE int ovnbpf_ct_tcp(struct ovnbpf_ct_val *v, __u16 fl, int reply)
{
    __u8 st = v->tcp;

    if (fl & OVNBPF_TCP_RST) {
        v->tcp = OVNBPF_CT_TCP_CLOSE;
        return 1;
    }
    if (fl & OVNBPF_TCP_SYN) {
        if (fl & OVNBPF_TCP_FIN)
            return 0;
        if (!(fl & OVNBPF_TCP_ACK))   /* a SYN: retransmitted, or a simultaneous open */
            return st == OVNBPF_CT_TCP_SYN_SENT;
        /* SYN+ACK: the answer, in the reply direction only */
        if (!reply || (st != OVNBPF_CT_TCP_SYN_SENT && st != OVNBPF_CT_TCP_SYN_RECV &&
                       st != OVNBPF_CT_TCP_EST))
            return 0;
        if (st == OVNBPF_CT_TCP_SYN_SENT)
            v->tcp = OVNBPF_CT_TCP_SYN_RECV;
        return 1;
    }
    if (!(fl & OVNBPF_TCP_ACK))
        return 0;                      /* neither SYN, ACK nor RST */
    if (st == OVNBPF_CT_TCP_SYN_SENT)
        return 0;                      /* an ACK before any SYN+ACK */
    if (st == OVNBPF_CT_TCP_CLOSE)
        return 0;
    if (st == OVNBPF_CT_TCP_SYN_RECV && !reply)
        st = OVNBPF_CT_TCP_EST;        /* the handshake's third packet */
    if (fl & OVNBPF_TCP_FIN) {
        v->flags |= reply ? OVNBPF_CTF_FIN_REPLY : OVNBPF_CTF_FIN_ORIG;
        st = (v->flags & OVNBPF_CTF_FIN_ORIG) && (v->flags & OVNBPF_CTF_FIN_REPLY)
             ? OVNBPF_CT_TCP_CLOSING : OVNBPF_CT_TCP_FIN_WAIT;
    }
    v->tcp = st;
    return 1;
}

OVNBPF_INLINE void ovnbpf_ct_clear(struct ovnbpf_flow *f)
{
    f->ct_state = 0;
    f->ct_mark = 0;
    f->ct_label_hi = 0;
    f->ct_label_lo = 0;
}

/* Is this entry gone for this packet: past its timeout, or closed and the packet opens
 * the connection again (a SYN after RST or FIN)? Deletes it if so. */
OVNBPF_INLINE int ovnbpf_ct_stale(struct ovnbpf_ct_key *k, struct ovnbpf_ct_val *v,
                                  const struct ovnbpf_flow *f, __u64 now)
{
    if (now - v->last_ns > ovnbpf_ct_timeout(v, f)) {
        ovnbpf_ct_count(OVNBPF_CT_EXPIRED);
    } else if ((f->present & OVNBPF_P_TCP) && v->tcp >= OVNBPF_CT_TCP_FIN_WAIT &&
               (f->tcp_flags & (OVNBPF_TCP_SYN | OVNBPF_TCP_ACK | OVNBPF_TCP_RST)) == OVNBPF_TCP_SYN) {
        ovnbpf_ct_count(OVNBPF_CT_REOPENED);
    } else {
        return 0;
    }
    if (ovnbpf_ct_v1.delete(k) == 0)
        ovnbpf_ct_live_add(-1);
    return 1;
}

OVNBPF_INLINE void ovnbpf_ct_next(struct ovnbpf_flow *f, __u32 port)
{
    struct ovnbpf_ct_key k;
    struct ovnbpf_ct_val *v;
    __u64 now;
    int src_is_a, reply;

    ovnbpf_ct_clear(f);
    f->ct_state = OVNBPF_CS_TRK;
    ovnbpf_ct_count(OVNBPF_CT_LOOKUP);
    src_is_a = ovnbpf_ct_key_of(f, port, &k);
    if (src_is_a < 0)
        goto invalid;
    if (ovnbpf_ct_untracked_icmp(f)) {
        f->ct_state |= OVNBPF_CS_NEW;
        return;
    }
    now = bpf_ktime_get_ns();
    v = ovnbpf_ct_v1.lookup(&k);
    if (v && ovnbpf_ct_stale(&k, v, f, now))
        v = 0;
    if (!v) {
        if (!ovnbpf_ct_may_start(f))
            goto invalid;
        f->ct_state |= OVNBPF_CS_NEW;
        return;
    }
    ovnbpf_ct_count(OVNBPF_CT_HIT);
    reply = src_is_a != v->orig_is_a;
    if ((f->present & OVNBPF_P_TCP) && !ovnbpf_ct_tcp(v, f->tcp_flags, reply))
        goto invalid;
    if (!(f->present & (OVNBPF_P_TCP)) && (f->present & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6)) &&
        !reply && !ovnbpf_ct_may_start(f))
        goto invalid;                  /* an echo reply in the requester's direction */
    if (reply)
        v->flags |= OVNBPF_CTF_SEEN_REPLY;
    v->last_ns = now;
    f->ct_state |= (v->flags & OVNBPF_CTF_SEEN_REPLY) ? OVNBPF_CS_EST : OVNBPF_CS_NEW;
    if (reply)
        f->ct_state |= OVNBPF_CS_RPL;
    f->ct_mark = v->mark;
    f->ct_label_hi = v->label_hi;
    f->ct_label_lo = v->label_lo;
    return;
invalid:
    ovnbpf_ct_count(OVNBPF_CT_INVALID);
    f->ct_state |= OVNBPF_CS_INV;
}

OVNBPF_INLINE void ovnbpf_ct_commit(struct ovnbpf_flow *f, __u32 port)
{
    struct ovnbpf_ct_key k;
    struct ovnbpf_ct_val *v, nv;
    __u32 zero = 0;
    __u64 *live;
    int src_is_a;

    if ((f->ct_state & OVNBPF_CS_INV) || ovnbpf_ct_untracked_icmp(f))
        return;                        /* never commit what the lookup found invalid */
    src_is_a = ovnbpf_ct_key_of(f, port, &k);
    if (src_is_a < 0)
        return;
    v = ovnbpf_ct_v1.lookup(&k);
    if (v) {
        v->mark = f->ct_mark;
        v->label_hi = f->ct_label_hi;
        v->label_lo = f->ct_label_lo;
        return;
    }
    __builtin_memset(&nv, 0, sizeof(nv));
    nv.last_ns = bpf_ktime_get_ns();
    nv.mark = f->ct_mark;
    nv.label_hi = f->ct_label_hi;
    nv.label_lo = f->ct_label_lo;
    nv.orig_is_a = (__u8)src_is_a;
    if (f->present & OVNBPF_P_TCP)
        nv.tcp = (f->tcp_flags & OVNBPF_TCP_SYN) ? OVNBPF_CT_TCP_SYN_SENT : OVNBPF_CT_TCP_EST;
    if (ovnbpf_ct_v1.update(&k, &nv) != 0)
        return;
    ovnbpf_ct_count(OVNBPF_CT_CREATED);
    live = ovnbpf_ct_live.lookup(&zero);
    if (live && *live >= OVNBPF_CT_MAX)
        ovnbpf_ct_count(OVNBPF_CT_OVERFLOW);   /* the LRU evicted an entry for this one */
    else
        ovnbpf_ct_live_add(1);
}

#endif /* OVNBPF_CT_H */
