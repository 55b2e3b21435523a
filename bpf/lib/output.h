/* SPDX-License-Identifier: GPL-2.0 */
/* Output, shared by the entry programs and the pipeline programs: after the pipeline chose
 * f->outport, deliver to a local VIF (redirect), a remote chassis (Geneve + redirect to the
 * underlay), a multicast group (hand-off to TC via XDP metadata), or take a patch-port hop
 * into the peer datapath. Nothing here runs pipeline code: the stage programs
 * (pipeline.c) decide which of these to call.
 * Functions return an XDP verdict (>= 0), a drop reason (< 0) or OVNBPF_GO_* (a request
 * to tail-call the next stage). */
#ifndef OVNBPF_OUTPUT_H
#define OVNBPF_OUTPUT_H

#include "common.h"
#include "flow.h"
#include "maps.h"
#include "stats.h"
#include "meta.h"
#include "hash.h"
#include "geneve.h"
#include "split.h"
#include "rewrite.h"
#include "last.h"

/* Benchmarks run encap under BPF_PROG_TEST_RUN, which does not reset the frame between
 * repeats: their build defines this to give the 58 bytes back before returning. */
#ifndef OVNBPF_BENCH_UNDO_ENCAP
#define OVNBPF_BENCH_UNDO_ENCAP(ctx) do { } while (0)
#endif
/* Likewise for decap: their build gives a frame from the tunnel its outer headers back
 * (the bytes are still in the headroom) where its run ends, after the flow cache's fill
 * (pipeline.c) or hit (xdp_tunnel.c). */
#ifndef OVNBPF_BENCH_UNDO_DECAP
#define OVNBPF_BENCH_UNDO_DECAP(ctx, f) do { } while (0)
#endif

/* Patch hops per packet: OVNBPF_MAX_HOPS (flow.h). */

#define OVNBPF_GO_INGRESS 1000   /* tail-call the ingress stage of this generation */
#define OVNBPF_GO_EGRESS  1001   /* tail-call the egress stage of this generation */

#ifndef AF_INET
#define AF_INET 2
#endif

/* Multicast: write back, tag with metadata, let TC replicate. */
OVNBPF_INLINE int ovnbpf_xdp_to_mcast(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_meta *m;

    ovnbpf_rewrite(data, end, f);
    if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct ovnbpf_meta)))
        return OVNBPF_DROP_META_FAILED;
    m = (void *)(long)ctx->data_meta;
    if ((void *)(m + 1) > (void *)(long)ctx->data)
        return OVNBPF_DROP_META_FAILED;
    m->magic = OVNBPF_META_MAGIC;
    m->dp = f->dp;
    m->inport = f->inport;
    m->outport = f->outport;
    m->flags = (f->origin == OVNBPF_ORIGIN_TUNNEL ? OVNBPF_MF_FROM_TUNNEL : 0) |
               ((f->flags & OVNBPF_FLAG_LOOPBACK) ? OVNBPF_MF_LOOPBACK : 0);
    m->hops = f->hops;
    ovnbpf_stat(OVNBPF_STAT_MCAST);
    ovnbpf_last(OVNBPF_OUT_MCAST, 0, 0, f, 0);
    return XDP_PASS;
}

/* OVN's loopback rule: never back out of the port it came in on, unless flags.loopback. */
OVNBPF_INLINE int ovnbpf_loopback_check(const struct ovnbpf_flow *f)
{
    if (f->outport == f->inport && !(f->flags & OVNBPF_FLAG_LOOPBACK))
        return OVNBPF_DROP_LOOPBACK;
    return 0;
}

/* A local VIF gets the frame as it is (f's fields already in it). */
OVNBPF_INLINE int ovnbpf_xdp_to_local_as_is(struct xdp_md *ctx, const struct ovnbpf_flow *f,
                                            __u32 ifindex)
{
    ovnbpf_stat(OVNBPF_STAT_TX_LOCAL);
    ovnbpf_last(OVNBPF_OUT_LOCAL, ifindex, 0, f, 0);
    return bpf_redirect(ifindex, 0);
}

/* After egress: a local VIF gets the rewritten frame. */
OVNBPF_INLINE int ovnbpf_xdp_to_local(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                      __u32 ifindex)
{
    ovnbpf_rewrite((void *)(long)ctx->data, (void *)(long)ctx->data_end, f);
    return ovnbpf_xdp_to_local_as_is(ctx, f, ifindex);
}

/* After egress on a patch port: continue in the peer datapath's ingress, with the logical
 * registers and flags cleared as OVN does across a patch port. */
OVNBPF_INLINE int ovnbpf_patch_hop(struct ovnbpf_flow *f, __u32 peer_dp, __u32 peer_port)
{
    if (f->hops >= OVNBPF_MAX_HOPS)
        return OVNBPF_DROP_HOP_LIMIT;
    f->hops++;
    f->dp = peer_dp;
    f->inport = peer_port;
    f->outport = 0;
    f->flags = 0;
    __builtin_memset(f->reg, 0, sizeof(f->reg));
    f->ct_state = 0;   /* conntrack state is per datapath: OVN clears it at the patch port */
    f->ct_mark = 0;
    f->ct_label_hi = 0;
    f->ct_label_lo = 0;
    return OVNBPF_GO_INGRESS;
}

/* The underlay next hop: bpf_fib_lookup when the tunnel asks for it, else (or when the
 * kernel has no neighbour entry yet) the tunnel's static MACs. */
OVNBPF_INLINE int ovnbpf_next_hop(struct xdp_md *ctx, const struct ovnbpf_tunnel *t,
                                  struct ovnbpf_tunnel *out, __u32 outer_len)
{
    *out = *t;
    if (t->flags & OVNBPF_TUN_FIB) {
        struct bpf_fib_lookup fib = {};
        int rc;

        fib.family = AF_INET;
        fib.l4_protocol = OVNBPF_IPPROTO_UDP;
        fib.tot_len = outer_len;
        fib.ipv4_src = ovnbpf_htonl(t->local_ip);
        fib.ipv4_dst = ovnbpf_htonl(t->remote_ip);
        fib.ifindex = t->ifindex;
        rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
        if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
            out->smac = ovnbpf_mac_load_bytes(fib.smac);   /* stack: byte loads */
            out->dmac = ovnbpf_mac_load_bytes(fib.dmac);
            out->ifindex = fib.ifindex;
            return 0;
        }
        if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
            return OVNBPF_DROP_FIB_TOO_BIG;
    }
    if (!out->dmac)
        return OVNBPF_DROP_NO_NEIGH;
    return 0;
}

/* A unicast outport bound on `chassis`: encapsulate and send on the underlay. The
 * egress pipeline runs over there, after decap, unless `done` (it ran here: the option
 * carries the egress-done bit, lib/split.h). */
OVNBPF_INLINE int ovnbpf_xdp_to_remote(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                       __u32 chassis, int done)
{
    struct ovnbpf_tunnel *t = ovnbpf_tunnels.lookup(&chassis);
    struct ovnbpf_tunnel hop;
    __u32 outer_len;
    void *data, *end;
    __u16 sport;
    int rc;

    if (!t || !t->ifindex)
        return OVNBPF_DROP_UNKNOWN_CHASSIS;
    outer_len = (__u32)f->frame_len - sizeof(struct ovnbpf_eth) + OVNBPF_ENCAP_LEN;
    if (outer_len > OVNBPF_UNDERLAY_MTU)
        return OVNBPF_DROP_ENCAP_TOO_BIG;
    rc = ovnbpf_next_hop(ctx, t, &hop, outer_len);
    if (rc < 0)
        return rc;
    ovnbpf_rewrite((void *)(long)ctx->data, (void *)(long)ctx->data_end, f);
    sport = ovnbpf_sport(ovnbpf_flow_hash(f));

    if (bpf_xdp_adjust_head(ctx, -OVNBPF_ENCAP_LEN))
        return OVNBPF_DROP_ENCAP_FAILED;
    data = (void *)(long)ctx->data;      /* adjust_head moved everything: reload */
    end = (void *)(long)ctx->data_end;
    rc = ovnbpf_geneve_write_md(data, end, &hop, f->dp,
                                ovnbpf_geneve_md(f->inport, f->outport, done), sport);
    if (rc < 0)
        return rc;
    ovnbpf_stat(OVNBPF_STAT_TX_TUNNEL);
    if (done)
        ovnbpf_stat(OVNBPF_STAT_TX_EGRESS_DONE);
    ovnbpf_last(OVNBPF_OUT_REMOTE, hop.ifindex, chassis, f, 0);
    rc = bpf_redirect(hop.ifindex, 0);
    OVNBPF_BENCH_UNDO_ENCAP(ctx);
    return rc;
}

/* What ingress's OUTPUT means (f->outport set): multicast hand-off, egress here (local
 * VIF or patch port), or encap to the chassis that runs egress. */
/* OVN clears the logical registers between the ingress and egress pipelines (as a
 * packet from the tunnel has none): northd's egress flows rely on it, e.g. reg0[0] set by
 * ls_in_pre_acl must not make ls_out_pre_stateful run ct_next for a router port that
 * ls_out_pre_acl exempts. ct_state and flags go on, as in OVN. */
OVNBPF_INLINE void ovnbpf_enter_egress(struct ovnbpf_flow *f)
{
    __builtin_memset(f->reg, 0, sizeof(f->reg));
}

OVNBPF_INLINE int ovnbpf_ingress_output(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    struct ovnbpf_lport_key lk = {};
    struct ovnbpf_lport *lp;
    int rc;

    if (f->outport >= OVNBPF_MCAST_KEY_MIN)
        return ovnbpf_xdp_to_mcast(ctx, f);
    lk.dp = f->dp;
    lk.port = f->outport;
    lp = ovnbpf_lports.lookup(&lk);
    if (!lp)
        return OVNBPF_DROP_UNKNOWN_OUTPORT;
    if (lp->type == OVNBPF_LPORT_LOCAL || lp->type == OVNBPF_LPORT_PATCH) {
        rc = ovnbpf_loopback_check(f);
        if (rc < 0)
            return rc;
        /* egress cannot change the outport (as in OVN): hand it the lookup */
        ovnbpf_enter_egress(f);
        f->out_type = lp->type;
        f->out_a = lp->type == OVNBPF_LPORT_LOCAL ? lp->ifindex : lp->peer_dp;
        f->out_b = lp->peer_port;
        return OVNBPF_GO_EGRESS;
    }
    if (lp->type == OVNBPF_LPORT_REMOTE) {
        if (f->origin == OVNBPF_ORIGIN_TUNNEL)
            return OVNBPF_DROP_OUTPORT_NOT_LOCAL;   /* never back into the overlay */
        if (ovnbpf_split_egress_here(lp->chassis)) {  /* egress here, then encap */
            ovnbpf_enter_egress(f);
            f->out_type = OVNBPF_LPORT_REMOTE;
            f->out_a = lp->chassis;
            return OVNBPF_GO_EGRESS;
        }
        return ovnbpf_xdp_to_remote(ctx, f, lp->chassis, 0);
    }
    return OVNBPF_DROP_UNKNOWN_OUTPORT;
}

/* What egress's OUTPUT means: deliver to the local VIF, hop through the patch port, or
 * (egress on the sending chassis, lib/split.h) encapsulate with the egress-done bit.
 * A packet from the tunnel is delivered only to a local VIF. */
OVNBPF_INLINE int ovnbpf_egress_output(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    struct ovnbpf_lport_key lk = {};
    struct ovnbpf_lport *lp;
    __u32 type = f->out_type, a = f->out_a, b = f->out_b;

    if (!type) {                /* from the tunnel or the loop: not looked up yet */
        lk.dp = f->dp;
        lk.port = f->outport;
        lp = ovnbpf_lports.lookup(&lk);
        if (!lp)
            return OVNBPF_DROP_UNKNOWN_OUTPORT;
        type = lp->type;
        a = type == OVNBPF_LPORT_LOCAL ? lp->ifindex : lp->peer_dp;
        b = lp->peer_port;
    }
    /* REMOTE comes only from this chassis' ingress, in split mode; a looked-up remote
     * port (a tunnel or loop packet) falls through to OUTPORT_NOT_LOCAL */
    if (f->out_type == OVNBPF_LPORT_REMOTE && f->origin != OVNBPF_ORIGIN_TUNNEL) {
        f->out_type = 0;
        return ovnbpf_xdp_to_remote(ctx, f, a, 1);
    }
    f->out_type = 0;
    if (type == OVNBPF_LPORT_LOCAL)
        return ovnbpf_xdp_to_local(ctx, f, a);
    if (type == OVNBPF_LPORT_PATCH && f->origin != OVNBPF_ORIGIN_TUNNEL)
        return ovnbpf_patch_hop(f, a, b);
    return OVNBPF_DROP_OUTPORT_NOT_LOCAL;
}

#endif /* OVNBPF_OUTPUT_H */
