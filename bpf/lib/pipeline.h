/* SPDX-License-Identifier: GPL-2.0 */
/* The include contract between the datapath and a logical pipeline.
 *
 * A pipeline is one C header, named by the macro OVNBPF_PIPELINE (a quoted path relative
 * to bpf/ or an absolute path: generated code, or a stand-in of tests/datapath/pipelines/
 * code). It is included after lib/maps.h and lib/stats.h, so it may use OVNBPF_MAP(),
 * OVNBPF_LFLOW_HIT() and OVNBPF_STAGE_HIT(), and it must define:
 *
 *   static __always_inline int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f);
 *   static __always_inline int ovnbpf_pipeline_egress(struct ovnbpf_flow *f);
 *
 * returning OVNBPF_PL_OUTPUT / _DROP / _CONTROLLER / _NOT_COMPILED (flow.h, the one
 * definition; generated code gets them through lib/ovnbpf_pipeline.h) or a negative drop reason. `#include "flow.h"`
 * in a pipeline header resolves to bpf/lib/flow.h (datapath/csource.py searches bpf/lib).
 * The header is included once per pipeline build (bpf/pipeline.c), which runs ingress and
 * egress as two tail-called programs sharing the header's maps, for ALL datapaths of the
 * chassis (dispatch on f->dp).
 * Ingress runs with f->dp and f->inport set; when it returns OUTPUT, f->outport names the
 * destination (a port key, or a multicast group key >= 32768). The datapath then runs
 * egress for a local VIF or patch port here, or encapsulates to the chassis of a remote
 * port (egress runs there, after decap). After egress on a patch port the datapath
 * continues in the peer datapath's ingress with inport = the peer port and outport,
 * flags and reg[] cleared (as OVN does across a patch port); hops are bounded. Only struct ovnbpf_flow fields are read or written; the datapath writes
 * changes back to the packet (lib/rewrite.h lists which fields).
 *
 * The generated pipeline's maps are lib/pl_maps.h's (per build, unpinned). A hand-written
 * stand-in (tests only) declares its own, named ovnbpf_pl_*. */
#ifndef OVNBPF_LIB_PIPELINE_H   /* not OVNBPF_PIPELINE_H: the generated side uses that */
#define OVNBPF_LIB_PIPELINE_H

#include "flow.h"
#include "maps.h"
#include "stats.h"
#include "punt.h"
/* ovnbpf_ct_next/_commit/_clear: generated code calls them */
#include "ct.h"

#ifndef OVNBPF_PIPELINE
#error "define OVNBPF_PIPELINE to the header providing ovnbpf_pipeline_ingress/_egress"
#endif
#include OVNBPF_PIPELINE

/* A pipeline that cannot start at a given table (the hand-written test pipelines) runs
 * from its first table; a generated one defines OVNBPF_PIPELINE_HAS_RESUME. */
#ifndef OVNBPF_PIPELINE_HAS_RESUME
#define ovnbpf_pipeline_ingress_from(f, start) ovnbpf_pipeline_ingress(f)
#define ovnbpf_pipeline_egress_from(f, start) ovnbpf_pipeline_egress(f)
#endif

/* Turn a pipeline verdict into 0 (continue to output) or a drop reason. */
OVNBPF_INLINE int ovnbpf_pipeline_verdict(int rc)
{
    if (rc == OVNBPF_PL_OUTPUT)
        return 0;
    if (rc == OVNBPF_PL_DROP)
        return OVNBPF_DROP_POLICY;
    if (rc == OVNBPF_PL_CONTROLLER)
        return OVNBPF_DROP_NEED_CONTROLLER;   /* pipeline.c hands it up before this */
    if (rc == OVNBPF_PL_NOT_COMPILED)
        return OVNBPF_DROP_NOT_COMPILED;
    if (rc < 0)
        return rc;
    return OVNBPF_DROP_PIPELINE_ERROR;
}

#endif /* OVNBPF_LIB_PIPELINE_H */
