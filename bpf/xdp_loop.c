/* SPDX-License-Identifier: GPL-2.0 */
/* Entry: a multicast copy recirculated by TC (lib/mcast.h) through the chassis-private
 * loop veth pair, seen by XDP on the receiving end. The copy carries the Geneve header
 * TC pushed once per packet, marked with OVNBPF_LOOP_MARK in the reserved byte, with
 * VNI = dp, option = inport | member port, and the outer IPv4 id = hops << 8 | OVNBPF_MF_*.
 * Only TC writes into the loop, so the layout is fixed; the mark guards against anything
 * else. Decap, parse, then the egress stage for the member (a patch member continues into
 * the peer datapath's ingress there). */
#include "lib/common.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/parse.h"
#include "lib/geneve.h"
#include "lib/meta.h"
#include "lib/last.h"
#include "lib/dispatch.h"
#include "lib/fcache.h"

OVNBPF_INLINE int ovnbpf_from_loop(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_encap_hdr *h = data;
    __u32 dp, md, id;
    int rc;

    __builtin_memset(f, 0, sizeof(*f));
    if ((void *)(h + 1) + sizeof(struct ovnbpf_eth) > end)
        return OVNBPF_DROP_LOOP_BAD_HEADER;
    if (h->gnv.rsvd != OVNBPF_LOOP_MARK || h->udp.dport != ovnbpf_htons(OVNBPF_GENEVE_PORT))
        return OVNBPF_DROP_LOOP_BAD_HEADER;
    dp = ((__u32)h->gnv.vni[0] << 16) | ((__u32)h->gnv.vni[1] << 8) | h->gnv.vni[2];
    md = ovnbpf_ntohl(h->opt.data);
    id = ovnbpf_ntohs(h->ip.id);
    if (bpf_xdp_adjust_head(ctx, OVNBPF_ENCAP_LEN))
        return OVNBPF_DROP_DECAP_FAILED;
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    rc = ovnbpf_parse(data, end, f);
    if (rc < 0)
        return rc;
    f->dp = dp;
    f->inport = (md >> 16) & 0x7fff;
    f->outport = md & 0xffff;
    f->hops = id >> 8;
    f->origin = (id & OVNBPF_MF_FROM_TUNNEL) ? OVNBPF_ORIGIN_TUNNEL : OVNBPF_ORIGIN_VIF;
    if (id & OVNBPF_MF_LOOPBACK)
        f->flags |= OVNBPF_FLAG_LOOPBACK;
    return ovnbpf_enter_pipeline(ctx, OVNBPF_PL_STAGE_EGRESS);
}

int ovnbpf_xdp_loop(struct xdp_md *ctx)
{
    struct ovnbpf_flow *f = ovnbpf_flow_get();

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    /* a multicast copy never fills the flow cache: drop any arm left on this CPU */
    ovnbpf_fc_disarm(ovnbpf_fc_state_get());
    return ovnbpf_xdp_exit(f, ovnbpf_from_loop(ctx, f));
}
