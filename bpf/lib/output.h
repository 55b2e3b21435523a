/* SPDX-License-Identifier: GPL-2.0 */
/* XDP output stage, shared by both XDP entry programs: after the pipeline chose
 * f->outport, deliver to a local VIF (redirect), a remote chassis (Geneve + redirect to
 * the underlay) or a multicast group (hand-off to TC via XDP metadata).
 * Functions return an XDP verdict (>= 0) or a drop reason (< 0). */
#ifndef OVNBPF_OUTPUT_H
#define OVNBPF_OUTPUT_H

#include "common.h"
#include "flow.h"
#include "maps.h"
#include "stats.h"
#include "meta.h"
#include "hash.h"
#include "geneve.h"
#include "rewrite.h"
#include "pipeline.h"

/* Benchmarks run encap under BPF_PROG_TEST_RUN, which does not reset the frame between
 * repeats: their build defines this to give the 58 bytes back before returning. */
#ifndef OVNBPF_BENCH_UNDO_ENCAP
#define OVNBPF_BENCH_UNDO_ENCAP(ctx) do { } while (0)
#endif

/* Multicast: write back, tag with metadata, let TC replicate. */
OVNBPF_INLINE int ovnbpf_xdp_to_mcast(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                      __u32 mflags)
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
    m->flags = mflags | ((f->flags & OVNBPF_FLAG_LOOPBACK) ? OVNBPF_MF_LOOPBACK : 0);
    ovnbpf_stat(OVNBPF_STAT_MCAST);
    return XDP_PASS;
}

/* A unicast outport bound on this chassis: egress pipeline, write back, redirect. */
OVNBPF_INLINE int ovnbpf_xdp_to_local(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                      const struct ovnbpf_lport *lp)
{
    int rc;

    if (f->outport == f->inport && !(f->flags & OVNBPF_FLAG_LOOPBACK))
        return OVNBPF_DROP_LOOPBACK;
    rc = ovnbpf_pipeline_verdict(ovnbpf_pipeline_egress(f));
    if (rc < 0)
        return rc;
    ovnbpf_rewrite((void *)(long)ctx->data, (void *)(long)ctx->data_end, f);
    ovnbpf_stat(OVNBPF_STAT_TX_LOCAL);
    return bpf_redirect(lp->ifindex, 0);
}

/* A unicast outport bound on another chassis: encapsulate and send on the underlay.
 * The egress pipeline runs over there, after decap. */
OVNBPF_INLINE int ovnbpf_xdp_to_remote(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                       const struct ovnbpf_lport *lp)
{
    __u32 chassis = lp->chassis;
    struct ovnbpf_tunnel *t = ovnbpf_tunnels.lookup(&chassis);
    void *data, *end;
    __u16 sport;
    int rc;

    if (!t || !t->ifindex)
        return OVNBPF_DROP_UNKNOWN_CHASSIS;
    if ((__u32)f->frame_len - sizeof(struct ovnbpf_eth) + OVNBPF_ENCAP_LEN >
        OVNBPF_UNDERLAY_MTU)
        return OVNBPF_DROP_ENCAP_TOO_BIG;
    ovnbpf_rewrite((void *)(long)ctx->data, (void *)(long)ctx->data_end, f);
    sport = ovnbpf_sport(ovnbpf_flow_hash(f));

    if (bpf_xdp_adjust_head(ctx, -OVNBPF_ENCAP_LEN))
        return OVNBPF_DROP_ENCAP_FAILED;
    data = (void *)(long)ctx->data;      /* adjust_head moved everything: reload */
    end = (void *)(long)ctx->data_end;
    rc = ovnbpf_geneve_write(data, end, t, f->dp, f->inport, f->outport, sport);
    if (rc < 0)
        return rc;
    ovnbpf_stat(OVNBPF_STAT_TX_TUNNEL);
    rc = bpf_redirect(t->ifindex, 0);
    OVNBPF_BENCH_UNDO_ENCAP(ctx);
    return rc;
}

#endif /* OVNBPF_OUTPUT_H */
