/* SPDX-License-Identifier: GPL-2.0 */
/* Entry: a frame sent by a VM, seen by XDP on the chassis-side veth of its VIF.
 * parse -> complete a partial L4 checksum (native mode) -> set dp/inport -> flow cache hit: replay (lib/fcache.h), else tail call into
 * the active pipeline's ingress stage. */
#include "lib/common.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/parse.h"
#include "lib/last.h"
#include "lib/dispatch.h"
#include "lib/fcache.h"
#include "lib/l4csum.h"
#include "lib/geneve.h"

/* -DOVNBPF_L4CSUM=0 compiles the checksum completion out (benchmarks only: guests with
 * tx checksumming on then lose every TCP/UDP packet) */
#ifndef OVNBPF_L4CSUM
#define OVNBPF_L4CSUM 1
#endif

/* the largest frame a VIF may hand over unsegmented: the underlay's MTU + Ethernet + 2 tags */
#define OVNBPF_VIF_MAX_FRAME (OVNBPF_UNDERLAY_MTU + 14 + 8)

OVNBPF_INLINE int ovnbpf_from_vif(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 ifindex = ctx->ingress_ifindex;
    struct ovnbpf_vif *vif = ovnbpf_vifs.lookup(&ifindex);
    int rc;

    if (!vif || !vif->port)
        return OVNBPF_DROP_UNKNOWN_VIF;
    __builtin_memset(f, 0, sizeof(*f));
    rc = ovnbpf_parse(data, end, f);
    if (rc < 0)
        return rc;
    ovnbpf_stat(OVNBPF_STAT_RX_VIF);
    if (vif->flags & OVNBPF_VIF_SKB) {
        /* skb (generic) mode: the guest keeps TSO/GSO, the frame may be a super-frame
         * with a partial checksum, and TC sends it with that state intact (lib/tcout.h):
         * no checksum to complete here, no size limit but the kernel's */
        f->skb_out = 1;
    } else {
        /* Longer than any frame the underlay carries: a GSO super-frame a tap hands to
         * generic XDP (virtio-net TSO/USO). XDP cannot segment it: counted, not lost. */
        if ((__u32)(end - data) > OVNBPF_VIF_MAX_FRAME)
            return OVNBPF_DROP_GSO_UNSUPPORTED;
        /* before the cache and the pipeline: every way out (redirect, Geneve) loses the
         * skb's CHECKSUM_PARTIAL state (lib/l4csum.h) */
        if (OVNBPF_L4CSUM)
            ovnbpf_l4_csum_complete(data, end, f);
    }
    f->dp = vif->dp;
    f->inport = vif->port;
    f->origin = OVNBPF_ORIGIN_VIF;
    return 0;
}

int ovnbpf_xdp_vif(struct xdp_md *ctx)
{
    struct ovnbpf_fc_state *fc = ovnbpf_fc_begin();   /* epoch first: see fcache.h */
    struct ovnbpf_flow *f = ovnbpf_flow_get();
    int rc;

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    rc = ovnbpf_from_vif(ctx, f);
    if (rc == 0)
        rc = ovnbpf_fc_lookup(ctx, f, fc, ctx->ingress_ifindex, 0);
    if (rc == OVNBPF_FC_MISS) {
        rc = ovnbpf_enter_pipeline(ctx, OVNBPF_PL_STAGE_INGRESS);
        ovnbpf_fc_disarm(fc);
    }
    return ovnbpf_xdp_exit(f, rc);
}
