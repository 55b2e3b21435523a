/* SPDX-License-Identifier: GPL-2.0 */
/* Entry: a frame on the underlay interface, seen by XDP. Geneve from a known chassis is
 * validated, decapsulated and handed to the active pipeline's egress stage (which
 * delivers only to a local VIF), delivered straight to the VIF when the sender already
 * ran egress (the egress-done bit, lib/split.h, honoured only from a source the
 * controller trusts to send it), or handed to TC for local multicast
 * fan-out. A unicast packet for the egress stage is first looked up in the flow cache
 * (lib/fcache.h): a hit replays the delivery an earlier egress run of the same flow
 * made. Everything else is the host's: XDP_PASS. */
#include "lib/common.h"
#include "lib/flow.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/parse.h"
#include "lib/geneve.h"
#include "lib/last.h"
#include "lib/output.h"
#include "lib/dispatch.h"
#include "lib/fcache.h"
#include "lib/l4csum.h"

/* Outer Ethernet/IPv4/UDP. Returns the Geneve offset (> 0), 0 for "not ours", or a drop. */
OVNBPF_INLINE int ovnbpf_tunnel_outer(void *data, void *end, __u32 *src_ip)
{
    struct ovnbpf_eth *eth = data;
    struct ovnbpf_ip4 *ip = (void *)(eth + 1);
    struct ovnbpf_udp *udp;
    __u32 hlen, zero = 0;
    struct ovnbpf_config *cfg;

    if ((void *)(ip + 1) > end || eth->type != ovnbpf_htons(OVNBPF_ETH_P_IP))
        return 0;
    if (ip->proto != OVNBPF_IPPROTO_UDP || (ip->ver_ihl >> 4) != 4)
        return 0;
    hlen = (ip->ver_ihl & 0xf) * 4;
    if (hlen < 20)
        return 0;
    if (ip->frag_off & ovnbpf_htons(OVNBPF_IP4_OFFSET))
        return 0;                          /* later fragment: the host's business */
    udp = (void *)ip + hlen;
    if ((void *)(udp + 1) > end || udp->dport != ovnbpf_htons(OVNBPF_GENEVE_PORT))
        return 0;
    cfg = ovnbpf_config.lookup(&zero);
    if (cfg && (cfg->flags & OVNBPF_CFG_CHECK_OUTER_DST) &&
        ip->daddr != ovnbpf_htonl(cfg->encap_ip))
        return 0;                          /* Geneve, but not addressed to us */
    if (ip->frag_off & ovnbpf_htons(OVNBPF_IP4_MF))
        return OVNBPF_DROP_TUNNEL_FRAGMENT;
    *src_ip = ovnbpf_ntohl(ip->saddr);
    return sizeof(*eth) + hlen + sizeof(*udp);
}

/* A unicast packet whose sender already ran egress (the egress-done bit, lib/split.h):
 * deliver it to the local VIF, no pipeline. Anything but a local VIF is not ours. */
OVNBPF_INLINE int ovnbpf_deliver_egress_done(struct xdp_md *ctx, struct ovnbpf_flow *f)
{
    struct ovnbpf_lport_key lk = {};
    struct ovnbpf_lport *lp;

    lk.dp = f->dp;
    lk.port = f->outport;
    lp = ovnbpf_lports.lookup(&lk);
    if (!lp)
        return OVNBPF_DROP_UNKNOWN_OUTPORT;
    if (lp->type != OVNBPF_LPORT_LOCAL)
        return OVNBPF_DROP_OUTPORT_NOT_LOCAL;
    ovnbpf_stat(OVNBPF_STAT_RX_EGRESS_DONE);
    return ovnbpf_xdp_to_local(ctx, f, lp->ifindex);
}

/* Validate the Geneve header at `off` and strip the outer headers and Geneve. */
OVNBPF_INLINE int ovnbpf_tunnel_decap(struct xdp_md *ctx, int off,
                                      struct ovnbpf_geneve_info *info)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    int rc = ovnbpf_geneve_parse(data + (off & 0xff), end, info);

    if (rc < 0)
        return rc;
    if (data + off + info->hdr_len + sizeof(struct ovnbpf_eth) > end)
        return OVNBPF_DROP_RUNT;             /* the inner frame has no Ethernet header */
    if (bpf_xdp_adjust_head(ctx, off + info->hdr_len))
        return OVNBPF_DROP_DECAP_FAILED;
    return 0;
}

/* The decapsulated frame -> f: parsed fields + the logical metadata of the Geneve header. */
OVNBPF_INLINE int ovnbpf_tunnel_inner(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                      const struct ovnbpf_geneve_info *info, int outer_csum0)
{
    int rc = ovnbpf_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, f);

    if (rc < 0)
        return rc;
    /* Without an outer UDP checksum the inner one may be a partial seed: a GSO frame an
     * skb-mode VIF sent (lib/tcout.h) and the underlay cut into segments keeps its
     * CHECKSUM_PARTIAL state only as skb metadata, which XDP does not see and a redirect
     * drops. Complete it (the same bytes when it was whole already). */
    if (outer_csum0)
        ovnbpf_l4_csum_complete((void *)(long)ctx->data, (void *)(long)ctx->data_end, f);
    f->dp = info->vni;
    f->inport = info->inport;
    f->outport = info->outport;
    f->origin = OVNBPF_ORIGIN_TUNNEL;
    return 0;
}

OVNBPF_INLINE int ovnbpf_from_tunnel(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                     struct ovnbpf_fc_state *fc)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_geneve_info info = {};
    __u32 src_ip = 0, *src;
    int off, decap, inner, rc, csum0 = 0;

    __builtin_memset(f, 0, sizeof(*f));
    off = ovnbpf_tunnel_outer(data, end, &src_ip);
    if (off <= 0) {
        if (off == 0) {
            ovnbpf_stat(OVNBPF_STAT_PASS);
            ovnbpf_last(OVNBPF_OUT_PASS, 0, 0, 0, 0);
        }
        return off == 0 ? XDP_PASS : off;
    }
    {
        struct ovnbpf_udp *u = data + ((off - sizeof(struct ovnbpf_udp)) & 0xff);
        if ((void *)(u + 1) <= end)
            csum0 = u->csum == 0;
    }
    decap = ovnbpf_tunnel_decap(ctx, off, &info);
    inner = decap < 0 ? decap : ovnbpf_tunnel_inner(ctx, f, &info, csum0);

    /* A unicast packet for the egress stage: the flow cache may know its outcome. Its key
     * holds the outer source, and only a run that passed the source check below filled
     * it (in the same epoch, and ovnbpf_tunnel_srcs is epoch-covered), so a hit skips
     * that hash lookup. Every other packet meets the check before any other verdict, as
     * if it came first: an unknown source is TUNNEL_UNKNOWN_SRC whatever else is wrong. */
    if (inner == 0 && f->outport < OVNBPF_MCAST_KEY_MIN && !info.egress_done) {
        rc = ovnbpf_fc_lookup(ctx, f, fc, src_ip, ovnbpf_fc_tun(f));
        if (rc != OVNBPF_FC_MISS) {
            ovnbpf_stat(OVNBPF_STAT_RX_TUNNEL);
            return rc;
        }
    }
    src = ovnbpf_tunnel_srcs.lookup(&src_ip);
    if (!src) {
        ovnbpf_fc_disarm(fc);
        return OVNBPF_DROP_TUNNEL_UNKNOWN_SRC;
    }
    if (decap < 0)
        return decap;
    ovnbpf_stat(OVNBPF_STAT_RX_TUNNEL);
    if (inner < 0)
        return inner;
    if (info.egress_done && !(*src & OVNBPF_TSRC_TRUST_DONE)) {
        /* a mark from a source not trusted to send it: egress runs here as for an
         * unmarked packet (never cached: the lookup above was skipped, nothing armed) */
        ovnbpf_stat(OVNBPF_STAT_RX_DONE_UNTRUSTED);
        info.egress_done = 0;
    }

    if (f->outport >= OVNBPF_MCAST_KEY_MIN)
        return ovnbpf_xdp_to_mcast(ctx, f);   /* egress per copy here, marked or not */
    if (info.egress_done)
        return ovnbpf_deliver_egress_done(ctx, f);
    rc = ovnbpf_enter_pipeline(ctx, OVNBPF_PL_STAGE_EGRESS);   /* armed when cacheable */
    ovnbpf_fc_disarm(fc);
    return rc;
}

int ovnbpf_xdp_tunnel(struct xdp_md *ctx)
{
    struct ovnbpf_fc_state *fc = ovnbpf_fc_begin();   /* epoch first: see fcache.h */
    struct ovnbpf_flow *f = ovnbpf_flow_get();
    int rc;

    if (!f)
        return ovnbpf_xdp_exit(0, OVNBPF_DROP_PIPELINE_ERROR);
    rc = ovnbpf_from_tunnel(ctx, f, fc);
    OVNBPF_BENCH_UNDO_DECAP(ctx, f);
    return ovnbpf_xdp_exit(f, rc);
}
