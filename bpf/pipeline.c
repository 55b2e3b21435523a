/* SPDX-License-Identifier: GPL-2.0 */
/* One pipeline build: the logical ingress and egress pipelines of every datapath of the
 * chassis (the header named by OVNBPF_PIPELINE, included once so both stages share its
 * maps), as two XDP programs that the entries reach by tail call (lib/dispatch.h).
 * Compiled with -DOVNBPF_GEN=<0|1>: the generation whose program slots it tail-calls.
 *
 *   ingress: pipeline -> multicast hand-off | encap to a remote chassis | -> egress
 *   egress:  pipeline for f->outport -> local VIF | patch hop -> ingress of the peer dp */
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
    return ovnbpf_xdp_exit(f, rc);
}

int ovnbpf_pl_ingress(struct xdp_md *ctx)
{
    struct ovnbpf_flow *f = ovnbpf_flow_get();
    int rc;

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    rc = ovnbpf_pipeline_verdict(ovnbpf_fc_verdict(ovnbpf_pipeline_ingress(f)));
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
    rc = ovnbpf_pipeline_verdict(ovnbpf_fc_verdict(ovnbpf_pipeline_egress(f)));
    if (rc == 0)
        rc = ovnbpf_egress_output(ctx, f);
    return ovnbpf_stage_next(ctx, f, rc);
}
