/* SPDX-License-Identifier: GPL-2.0 */
/* Entry: a packet the controller generated or resumes after a punt (lib/punt.h), run by
 * BPF_PROG_TEST_RUN (with live frames, so XDP_REDIRECT really transmits) and never
 * attached to an interface: only the controller can feed it, so the resume header it
 * reads is trusted like a map value.
 *
 * Frame = struct ovnbpf_inject_hdr + Ethernet frame. The header names the logical
 * metadata (as OVN's continuation carries it) and where to go on: a stage and either a
 * table to start at (`next;` inside the punted action) or its output decision (`output;`).
 * Mirror: controller/punt/event.py. */
#include "lib/common.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/parse.h"
#include "lib/last.h"
#include "lib/dispatch.h"
#include "lib/fcache.h"

#define OVNBPF_INJECT_MAGIC 0x6f766e69u   /* "ovni" */

struct ovnbpf_inject_hdr {
    __u32 magic;       /* OVNBPF_INJECT_MAGIC */
    __u32 stage;       /* OVNBPF_PL_STAGE_INGRESS / _EGRESS */
    __u32 resume;      /* OVNBPF_RESUME_TABLE / _OUTPUT */
    __u32 table;       /* RESUME_TABLE: first table to run */
    __u32 dp;
    __u32 inport;
    __u32 outport;
    __u32 flags;
    __u32 reg[OVNBPF_NREGS];
    __u32 hops;
    __u32 origin;      /* OVNBPF_ORIGIN_* of the punted packet */
    __u32 depth;       /* punt -> inject generations so far (the controller bounds it) */
};

OVNBPF_INLINE int ovnbpf_from_controller(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_inject_hdr *h = data;
    __u32 stage, resume, table, dp, inport, outport, flags, hops, origin, depth;
    __u32 reg[OVNBPF_NREGS];
    int rc, i;

    __builtin_memset(f, 0, sizeof(*f));
    if ((void *)(h + 1) > end || h->magic != OVNBPF_INJECT_MAGIC)
        return OVNBPF_DROP_INJECT_BAD_HEADER;
    stage = h->stage;
    resume = h->resume;
    table = h->table;
    dp = h->dp;
    inport = h->inport;
    outport = h->outport;
    flags = h->flags;
    hops = h->hops;
    origin = h->origin;
    depth = h->depth;
#pragma unroll
    for (i = 0; i < OVNBPF_NREGS; i++)
        reg[i] = h->reg[i];
    if (stage > OVNBPF_PL_STAGE_EGRESS || (resume != OVNBPF_RESUME_TABLE &&
                                           resume != OVNBPF_RESUME_OUTPUT))
        return OVNBPF_DROP_INJECT_BAD_HEADER;
    if (bpf_xdp_adjust_head(ctx, sizeof(*h)))
        return OVNBPF_DROP_INJECT_BAD_HEADER;
    data = (void *)(long)ctx->data;      /* adjust_head moved everything: reload */
    end = (void *)(long)ctx->data_end;
    rc = ovnbpf_parse(data, end, f);
    if (rc < 0)
        return rc;
    ovnbpf_stat(OVNBPF_STAT_INJECT);
    f->dp = dp;
    f->inport = inport;
    f->outport = outport;
    f->flags = flags;
#pragma unroll
    for (i = 0; i < OVNBPF_NREGS; i++)
        f->reg[i] = reg[i];
    f->hops = hops > OVNBPF_MAX_HOPS ? OVNBPF_MAX_HOPS : hops;
    f->origin = origin == OVNBPF_ORIGIN_TUNNEL ? OVNBPF_ORIGIN_TUNNEL : OVNBPF_ORIGIN_VIF;
    f->punt_depth = depth > 255 ? 255 : depth;
    f->resume = resume;
    f->start_table = table;
    return ovnbpf_enter_pipeline(ctx, stage);
}

int ovnbpf_xdp_inject(struct xdp_md *ctx)
{
    struct ovnbpf_flow *f = ovnbpf_flow_get();

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    /* a controller packet never fills the flow cache: drop any arm left on this CPU by
     * a VIF packet whose run ended in a punt */
    ovnbpf_fc_begin();
    return ovnbpf_xdp_exit(f, ovnbpf_from_controller(ctx, f));
}
