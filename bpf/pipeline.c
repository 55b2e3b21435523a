/* SPDX-License-Identifier: GPL-2.0 */
/* One pipeline build: the logical ingress and egress pipelines of every datapath of the
 * chassis (the header named by OVNBPF_PIPELINE, included once so both stages share its
 * maps), as two XDP programs that the entries reach by tail call (lib/dispatch.h).
 * Compiled with -DOVNBPF_GEN=<0|1>: the generation whose program slots it tail-calls.
 *
 *   ingress: pipeline -> multicast hand-off | encap to a remote chassis | -> egress
 *   egress:  pipeline for f->outport -> local VIF | patch hop -> ingress of the peer dp
 * Either stage may end in a punt (lib/punt.h): the packet goes to the controller, which
 * may inject a generated one back at a given table (xdp_inject.c; f->resume says where). */
#include "lib/common.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/output.h"
/* before the pipeline, which may use OVNBPF_FC_NOCACHE */
#include "lib/fcache.h"
#include "lib/pipeline.h"

#ifndef OVNBPF_GEN
#define OVNBPF_GEN 0
#endif
#define OVNBPF_SLOT(stage) (OVNBPF_GEN * OVNBPF_PL_STAGES + (stage))

/* Go on with the next stage of this generation, or end with a verdict. */
OVNBPF_INLINE int ovnbpf_stage_next(struct xdp_md *ctx, struct ovnbpf_flow *f, int rc)
{
    if (rc == OVNBPF_GO_EGRESS) {
        ovnbpf_pl_progs.call(ctx, OVNBPF_SLOT(OVNBPF_PL_STAGE_EGRESS));
        rc = OVNBPF_DROP_MISSED_TAIL_CALL;
    } else if (rc == OVNBPF_GO_INGRESS) {
        ovnbpf_pl_progs.call(ctx, OVNBPF_SLOT(OVNBPF_PL_STAGE_INGRESS));
        rc = OVNBPF_DROP_MISSED_TAIL_CALL;
    }
    ovnbpf_fc_end(ctx, f, rc);   /* the run ends here: fill the flow cache if replayable */
    OVNBPF_BENCH_UNDO_DECAP(ctx, f);
    return ovnbpf_xdp_exit(f, rc);
}

/* Run one stage's logical pipeline: from its first table, or where the controller
 * resumes an injected packet (once: patch hops start over at table 0). */
OVNBPF_INLINE int ovnbpf_run_stage(struct xdp_md *ctx, struct ovnbpf_flow *f, __u32 stage)
{
    __u32 resume = f->resume, start = f->start_table;
    int rc;

    f->resume = OVNBPF_RESUME_NONE;
    f->start_table = 0;
    f->punt_cookie = 0;
    f->copy_cookie = 0;
    if (resume == OVNBPF_RESUME_OUTPUT)
        return 0;
    if (resume != OVNBPF_RESUME_TABLE)
        start = 0;
    if (stage == OVNBPF_PL_STAGE_INGRESS)
        rc = ovnbpf_pipeline_ingress_from(f, start);
    else
        rc = ovnbpf_pipeline_egress_from(f, start);
    rc = ovnbpf_fc_verdict(rc);   /* anything but OUTPUT (a punt too) is not replayable */
    rc = ovnbpf_punt_finish(ctx, f, rc, stage);
    if (rc == OVNBPF_PL_PUNTED)
        return XDP_DROP;      /* the controller has it now (counted as a punt) */
    rc = ovnbpf_pipeline_verdict(rc);
    return rc == 0 ? 0 : (rc > 0 ? OVNBPF_DROP_PIPELINE_ERROR : rc);
}

int ovnbpf_pl_ingress(struct xdp_md *ctx)
{
    struct ovnbpf_flow *f = ovnbpf_flow_get();
    int rc;

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    rc = ovnbpf_run_stage(ctx, f, OVNBPF_PL_STAGE_INGRESS);
    if (rc == XDP_DROP)
        return XDP_DROP;
    if (rc == 0)
        rc = ovnbpf_ingress_output(ctx, f);
    return ovnbpf_stage_next(ctx, f, rc);
}

int ovnbpf_pl_egress(struct xdp_md *ctx)
{
    struct ovnbpf_flow *f = ovnbpf_flow_get();
    int rc;

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    rc = ovnbpf_run_stage(ctx, f, OVNBPF_PL_STAGE_EGRESS);
    if (rc == XDP_DROP)
        return XDP_DROP;
    if (rc == 0)
        rc = ovnbpf_egress_output(ctx, f);
    return ovnbpf_stage_next(ctx, f, rc);
}
