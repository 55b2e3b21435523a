/* SPDX-License-Identifier: GPL-2.0 */
/* Entry: a frame sent by a VM, seen by XDP on the chassis-side veth of its VIF.
 * parse -> ingress pipeline -> local VIF / remote chassis / multicast hand-off. */
#include "lib/common.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/parse.h"
#include "lib/pipeline.h"
#include "lib/output.h"

OVNBPF_INLINE int ovnbpf_from_vif(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 ifindex = ctx->ingress_ifindex, zero = 0;
    struct ovnbpf_vif *vif = ovnbpf_vifs.lookup(&ifindex);
    struct ovnbpf_flow *f = ovnbpf_scratch.lookup(&zero);
    struct ovnbpf_lport_key lk = {};
    struct ovnbpf_lport *lp;
    int rc;

    if (!vif || !vif->port)
        return OVNBPF_DROP_UNKNOWN_VIF;
    if (!f)
        return OVNBPF_DROP_PIPELINE_ERROR;   /* cannot happen: 1-entry per-CPU array */
    __builtin_memset(f, 0, sizeof(*f));
    rc = ovnbpf_parse(data, end, f);
    if (rc < 0)
        return rc;
    ovnbpf_stat(OVNBPF_STAT_RX_VIF);
    f->dp = vif->dp;
    f->inport = vif->port;

    rc = ovnbpf_pipeline_verdict(ovnbpf_pipeline_ingress(f));
    if (rc < 0)
        return rc;
    if (f->outport >= OVNBPF_MCAST_KEY_MIN)
        return ovnbpf_xdp_to_mcast(ctx, f, 0);

    lk.dp = f->dp;
    lk.port = f->outport;
    lp = ovnbpf_lports.lookup(&lk);
    if (!lp)
        return OVNBPF_DROP_UNKNOWN_OUTPORT;
    if (lp->type == OVNBPF_LPORT_LOCAL)
        return ovnbpf_xdp_to_local(ctx, f, lp);
    if (lp->type == OVNBPF_LPORT_REMOTE)
        return ovnbpf_xdp_to_remote(ctx, f, lp);
    return OVNBPF_DROP_UNKNOWN_OUTPORT;
}

int ovnbpf_xdp_vif(struct xdp_md *ctx)
{
    int rc = ovnbpf_from_vif(ctx);

    if (rc < 0) {
        ovnbpf_drop(rc);
        return XDP_DROP;
    }
    return rc;
}
