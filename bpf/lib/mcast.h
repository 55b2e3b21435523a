/* SPDX-License-Identifier: GPL-2.0 */
/* Multicast / BUM replication in TC (XDP cannot clone).
 *
 * Local members (VIFs and patch ports) are served by *recirculation*: the packet gets the
 * Geneve header once, and for each member the option's egress port is set to the member
 * and a copy is cloned into the chassis-private loop veth (config.loop_ifindex); XDP on
 * the other end (xdp_loop.c) runs the egress pipeline for that member and delivers it, or
 * for a patch member continues into the peer datapath's ingress. So every copy runs
 * egress (to-lport ACLs, egress port security) without generated code in this loop.
 * The ingress port is skipped unless flags.loopback; patch members are skipped for
 * packets from the tunnel (the sending chassis already ran the router pipeline).
 * Then, for packets that entered from a local VIF, one Geneve copy per remote chassis in
 * the group, with the header restored to the group's wire key (a synthetic group >= 65536
 * sends the real group key). Packets that came from the tunnel are delivered locally
 * only: never back into the overlay. Our own chassis id is always skipped.
 *
 * Scale: a program serves one chunk of OVNBPF_MCAST_CHUNK (512) members, stores its
 * cursor in skb->cb and tail-calls itself; the kernel allows 33 tail calls, so at most 34
 * chunks per packet. OVNBPF_MCAST_MAX_MEMBERS = 32 x 512 = 16384 (local members + remote
 * chassis): groups of 10,000 ports fit. Members past it count MCAST_TOO_MANY. */
#ifndef OVNBPF_MCAST_H
#define OVNBPF_MCAST_H

#include "common.h"
#include "maps.h"
#include "stats.h"
#include "meta.h"
#include "geneve.h"
#include "hash.h"

/* 32 chunks of 512: within the 34 programs a tail-call chain may run (1 + 33). */
#define OVNBPF_MCAST_MAX_MEMBERS (OVNBPF_MCAST_CHUNK * OVNBPF_MCAST_MAX_CHUNKS)

/* skb->cb slots carried across the tail calls. */
#define OVNBPF_CB_DP     0
#define OVNBPF_CB_INPORT 1
#define OVNBPF_CB_GROUP  2
#define OVNBPF_CB_FLAGS  3
#define OVNBPF_CB_CURSOR 4

/* Push the outer headers once, before the first remote copy; each copy then only
 * re-targets them (lib/geneve.h). The first tunnel fills the template; if the first
 * member is unusable a zero template is re-targeted like any other. */
OVNBPF_INLINE int ovnbpf_mcast_encap(struct __sk_buff *skb, __u32 dp, __u32 inport,
                                     __u32 group, __u32 first_chassis)
{
    struct ovnbpf_tunnel zero_t = {};
    struct ovnbpf_tunnel *t = ovnbpf_tunnels.lookup(&first_chassis);
    __u16 sport = ovnbpf_sport(bpf_get_hash_recalc(skb));

    if (!t)
        t = &zero_t;
    /* linear + writable, so the checksum can read the whole inner frame */
    if (bpf_skb_pull_data(skb, skb->len) || bpf_skb_change_head(skb, OVNBPF_ENCAP_LEN, 0))
        return OVNBPF_DROP_ENCAP_FAILED;
    return ovnbpf_geneve_write((void *)(long)skb->data, (void *)(long)skb->data_end, t,
                               dp, inport, group, sport);
}

/* Offsets in the encapsulated frame (lib/geneve.h layout). */
#define OVNBPF_OFF_IP_CSUM  (14 + 10)
#define OVNBPF_OFF_IP_SADDR (14 + 12)    /* saddr, daddr: 8 contiguous bytes */
#define OVNBPF_OFF_UDP_CSUM (14 + 20 + 6)
#define OVNBPF_OFF_IP_ID    (14 + 4)
#define OVNBPF_OFF_GNV_RSVD (14 + 20 + 8 + 7)
#define OVNBPF_OFF_OPT_DATA (14 + 20 + 8 + 8 + 4)

/* The header's mark / flags / option bytes are rewritten for loop copies and restored
 * before remote copies; the restored bytes are the ones the checksums were computed over,
 * so no checksum update is needed either way (the loop end does not verify them). */
OVNBPF_INLINE void ovnbpf_mcast_mark(struct __sk_buff *skb, __u8 mark, __u16 id)
{
    __be16 idn = ovnbpf_htons(id);
    bpf_skb_store_bytes(skb, OVNBPF_OFF_GNV_RSVD, &mark, 1, 0);
    bpf_skb_store_bytes(skb, OVNBPF_OFF_IP_ID, &idn, 2, 0);
}

OVNBPF_INLINE void ovnbpf_mcast_set_ports(struct __sk_buff *skb, __u32 inport, __u32 outport)
{
    __be32 md = ovnbpf_htonl(((inport & 0x7fff) << 16) | (outport & 0xffff));
    bpf_skb_store_bytes(skb, OVNBPF_OFF_OPT_DATA, &md, 4, 0);
}

/* Where the remote members start: local members fill whole chunks, so no chunk mixes the
 * two kinds (datapath/maps.py lays groups out this way). */
OVNBPF_INLINE __u32 ovnbpf_mcast_remote_base(__u32 n_local)
{
    return (n_local + OVNBPF_MCAST_CHUNK - 1) / OVNBPF_MCAST_CHUNK * OVNBPF_MCAST_CHUNK;
}

/* One chunk of members from the cursor in skb->cb; tail-calls the continuation for more. */
OVNBPF_INLINE int ovnbpf_mcast_run(struct __sk_buff *skb)
{
    struct ovnbpf_mcast_key k = {};
    struct ovnbpf_mcast_chunk_key ck = {};
    struct ovnbpf_mcast_group *g;
    struct ovnbpf_mcast_chunk *c;
    struct ovnbpf_config *cfg;
    __u32 dp = skb->cb[OVNBPF_CB_DP], inport = skb->cb[OVNBPF_CB_INPORT];
    __u32 group = skb->cb[OVNBPF_CB_GROUP], flags = skb->cb[OVNBPF_CB_FLAGS];
    __u32 cursor = skb->cb[OVNBPF_CB_CURSOR];
    __u32 n_local, remote_base, n_end, wire_key, self = 0, zero = 0, loop_if = 0;
    int i;

    k.dp = dp;
    k.group = group;
    g = ovnbpf_mcast.lookup(&k);
    if (!g) {
        ovnbpf_drop(OVNBPF_DROP_MCAST_UNKNOWN_GROUP);
        return TC_ACT_SHOT;
    }
    n_local = g->n_local;
    wire_key = g->wire_key ? g->wire_key : group;
    remote_base = ovnbpf_mcast_remote_base(n_local);
    n_end = g->n_remote ? remote_base + g->n_remote : n_local;
    if (flags & OVNBPF_MF_FROM_TUNNEL)
        n_end = n_local;              /* from the overlay: local delivery only */
    if (cursor >= n_end)
        return TC_ACT_SHOT;           /* every copy is out; the original is consumed */
    if (cursor >= OVNBPF_MCAST_MAX_MEMBERS) {
        ovnbpf_drop(OVNBPF_DROP_MCAST_TOO_MANY);
        return TC_ACT_SHOT;
    }
    ck.dp = dp;
    ck.group = group;
    ck.chunk = cursor / OVNBPF_MCAST_CHUNK;
    c = ovnbpf_mcast_chunks.lookup(&ck);
    if (!c) {
        ovnbpf_drop(OVNBPF_DROP_MCAST_UNKNOWN_GROUP);
        return TC_ACT_SHOT;
    }

    cfg = ovnbpf_config.lookup(&zero);
    if (cfg) {
        self = cfg->chassis;
        loop_if = cfg->loop_ifindex;
    }
    if (!(flags & OVNBPF_MF_ENCAPPED)) {
        int rc = ovnbpf_mcast_encap(skb, dp, inport, wire_key,
                                    cursor < remote_base ? 0 : c->member[0]);
        if (rc < 0) {
            ovnbpf_drop(rc);
            return TC_ACT_SHOT;
        }
        flags |= OVNBPF_MF_ENCAPPED;
    }

    if (cursor < remote_base) {
        /* Verifier cost is per iteration x paths, so the body has no branch that leaves
         * different state behind: counts are plain sums, skips are `continue`. */
        struct ovnbpf_lport_key lk = { .dp = dp };
        __u32 skip, from_tunnel, sent, missing;
        if (!loop_if) {
            ovnbpf_drop(OVNBPF_DROP_NO_LOOP);
            return TC_ACT_SHOT;
        }
        if (!(flags & OVNBPF_MF_LOOP_MARKED)) {
            ovnbpf_mcast_mark(skb, OVNBPF_LOOP_MARK,
                              (__u16)(((flags >> 24) << 8) |
                                      (flags & (OVNBPF_MF_FROM_TUNNEL | OVNBPF_MF_LOOPBACK))));
            flags |= OVNBPF_MF_LOOP_MARKED;
        }
        /* Everything live across the loop goes through ovnbpf_opaque_u32: the paths that
         * led here (encapped or not, marked or not, loopback or not) then reach the loop
         * in one state, and the 512 iterations are verified once rather than per path.
         * The counters too: paths that counted differently still prune. */
        skip = ovnbpf_opaque_u32((flags & OVNBPF_MF_LOOPBACK) ? 0 : inport);
        from_tunnel = ovnbpf_opaque_u32(flags & OVNBPF_MF_FROM_TUNNEL);
        flags = ovnbpf_opaque_u32(flags);
        loop_if = ovnbpf_opaque_u32(loop_if);
        inport = ovnbpf_opaque_u32(inport);
        cursor = ovnbpf_opaque_u32(cursor) & 0x7fff;
        n_local = ovnbpf_opaque_u32(n_local);
        remote_base = ovnbpf_opaque_u32(remote_base);
        n_end = ovnbpf_opaque_u32(n_end);
        sent = ovnbpf_opaque_u32(0);
        missing = ovnbpf_opaque_u32(0);
#pragma clang loop unroll(disable)   /* bounded loops: verified, not unrolled */
        for (i = 0; i < OVNBPF_MCAST_CHUNK; i++) {
            struct ovnbpf_lport *lp;
            if (cursor + i >= n_local)
                break;
            lk.port = c->member[i];
            if (lk.port == skip)
                continue;
            lp = ovnbpf_lports.lookup(&lk);
            if (!lp || lp->type == OVNBPF_LPORT_REMOTE) {
                missing++;
                continue;
            }
            if (from_tunnel && lp->type == OVNBPF_LPORT_PATCH)
                continue;
            ovnbpf_mcast_set_ports(skb, inport, lk.port);
            sent += bpf_clone_redirect(skb, loop_if, 0) == 0;
        }
        ovnbpf_stat_add(OVNBPF_STAT_MCAST_LOCAL, sent);
        ovnbpf_drop_add(OVNBPF_DROP_UNKNOWN_OUTPORT, missing);
    } else {
        if (flags & OVNBPF_MF_LOOP_MARKED) {
            ovnbpf_mcast_mark(skb, 0, 0);
            ovnbpf_mcast_set_ports(skb, inport, wire_key);
            flags &= ~OVNBPF_MF_LOOP_MARKED;
        }
        if (skb->len - sizeof(struct ovnbpf_eth) > OVNBPF_UNDERLAY_MTU) {
            ovnbpf_drop(OVNBPF_DROP_ENCAP_TOO_BIG);
            return TC_ACT_SHOT;
        }
        /* Re-target the outer header per chassis with offset-based helpers: no packet
         * pointers to re-validate after every clone, so every path through the body
         * leaves the same state behind and the verifier prunes it. */
        {
            __u32 sent = ovnbpf_opaque_u32(0), missing = ovnbpf_opaque_u32(0);
            __u32 cur[2], nxt[2];
            bpf_skb_load_bytes(skb, OVNBPF_OFF_IP_SADDR, cur, sizeof(cur));
#pragma clang loop unroll(disable)
            for (i = 0; i < OVNBPF_MCAST_CHUNK; i++) {
                struct ovnbpf_tunnel *t;
                __u32 ch;
                __u8 macs[12];
                if (cursor + i >= n_end)
                    break;
                ch = c->member[i];
                if (ch == self)
                    continue;
                t = ovnbpf_tunnels.lookup(&ch);
                if (!t || !t->ifindex) {
                    missing++;
                    continue;
                }
                nxt[0] = ovnbpf_htonl(t->local_ip);
                nxt[1] = ovnbpf_htonl(t->remote_ip);
                ovnbpf_mac_store_bytes(macs, t->dmac);
                ovnbpf_mac_store_bytes(macs + 6, t->smac);
                bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);
                bpf_l3_csum_replace(skb, OVNBPF_OFF_IP_CSUM, cur[0], nxt[0], 4);
                bpf_l3_csum_replace(skb, OVNBPF_OFF_IP_CSUM, cur[1], nxt[1], 4);
                bpf_l4_csum_replace(skb, OVNBPF_OFF_UDP_CSUM, cur[0], nxt[0],
                                    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4);
                bpf_l4_csum_replace(skb, OVNBPF_OFF_UDP_CSUM, cur[1], nxt[1],
                                    BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4);
                bpf_skb_store_bytes(skb, OVNBPF_OFF_IP_SADDR, nxt, sizeof(nxt), 0);
                cur[0] = nxt[0];
                cur[1] = nxt[1];
                sent += bpf_clone_redirect(skb, t->ifindex, 0) == 0;
            }
            ovnbpf_stat_add(OVNBPF_STAT_MCAST_REMOTE, sent);
            ovnbpf_drop_add(OVNBPF_DROP_UNKNOWN_CHASSIS, missing);
        }
    }
    cursor += OVNBPF_MCAST_CHUNK;
    if (cursor < remote_base && cursor >= n_local)
        cursor = remote_base;         /* (defensive; local chunks end at remote_base) */
    if (cursor >= n_end)
        return TC_ACT_SHOT;
    skb->cb[OVNBPF_CB_FLAGS] = flags;
    skb->cb[OVNBPF_CB_CURSOR] = cursor;
    ovnbpf_tail.call(skb, OVNBPF_TAIL_MCAST_CONT);
    ovnbpf_drop(OVNBPF_DROP_MISSED_TAIL_CALL);
    return TC_ACT_SHOT;
}

#endif /* OVNBPF_MCAST_H */
