/* SPDX-License-Identifier: GPL-2.0 */
/* The include contract between the datapath and a logical pipeline.
 *
 * A pipeline is one C header, named by the macro OVNBPF_PIPELINE (a quoted path relative
 * to bpf/, e.g. -DOVNBPF_PIPELINE='"test/l2_pipeline.h"' or an absolute path of generated
 * code). It is included after lib/maps.h and lib/stats.h, so it may use OVNBPF_MAP(),
 * OVNBPF_LFLOW_HIT() and OVNBPF_STAGE_HIT(), and it must define:
 *
 *   static __always_inline int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f);
 *   static __always_inline int ovnbpf_pipeline_egress(struct ovnbpf_flow *f);
 *
 * returning OVNBPF_PL_OUTPUT / _DROP / _CONTROLLER / _NOT_COMPILED (flow.h; the values
 * match controller/lflow/ovnbpf_pipeline.h) or a negative drop reason. `#include "flow.h"`
 * in a pipeline header resolves to bpf/lib/flow.h (datapath/csource.py searches bpf/lib).
 * Ingress runs on the chassis the packet entered from a VIF with f->dp and f->inport set;
 * when it returns OUTPUT, f->dp and f->outport name the destination (a port key, or a
 * multicast group key >= 32768) in the datapath the packet leaves from: patch ports
 * (switch <-> router) are the pipeline's own business and never reach the datapath.
 * Egress runs on the chassis that owns f->outport (after decap when it is remote) and
 * may still drop. Only struct ovnbpf_flow fields are read or written; the datapath writes
 * changes back to the packet (lib/rewrite.h lists which fields).
 *
 * Maps a pipeline declares must be named ovnbpf_pl_* and, since they are pinned beside
 * ours, should carry a layout version in their name if their key/value shape can change. */
#ifndef OVNBPF_LIB_PIPELINE_H   /* not OVNBPF_PIPELINE_H: the generated side uses that */
#define OVNBPF_LIB_PIPELINE_H

#include "flow.h"
#include "maps.h"
#include "stats.h"

#ifndef OVNBPF_PIPELINE
#error "define OVNBPF_PIPELINE to the header providing ovnbpf_pipeline_ingress/_egress"
#endif
#include OVNBPF_PIPELINE

/* Turn a pipeline verdict into 0 (continue to output) or a drop reason. */
OVNBPF_INLINE int ovnbpf_pipeline_verdict(int rc)
{
    if (rc == OVNBPF_PL_OUTPUT)
        return 0;
    if (rc == OVNBPF_PL_DROP)
        return OVNBPF_DROP_POLICY;
    if (rc == OVNBPF_PL_CONTROLLER)
        return OVNBPF_DROP_NEED_CONTROLLER;
    if (rc == OVNBPF_PL_NOT_COMPILED)
        return OVNBPF_DROP_NOT_COMPILED;
    if (rc < 0)
        return rc;
    return OVNBPF_DROP_PIPELINE_ERROR;
}

#endif /* OVNBPF_LIB_PIPELINE_H */
