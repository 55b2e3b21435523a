/* SPDX-License-Identifier: GPL-2.0 */
/* Entry: TC ingress (cls_bpf, direct-action) on every interface that has an XDP entry
 * (VIF veths and the underlay). An skb-mode VIF's unicast output: send it (lib/tcout.h).
 * Frames that XDP passed up with ovnbpf metadata are
 * multicast: replicate them (lib/mcast.h). A VIF frame without them bypassed XDP (a tap's
 * GSO frame): a counted drop. Anything else is the host's: TC_ACT_OK. */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/stats.h"
#include "lib/meta.h"
#include "lib/mcast.h"
#include "lib/tcout.h"

int ovnbpf_tc_mcast(struct __sk_buff *skb)
{
    struct ovnbpf_meta *m = (void *)(long)skb->data_meta;
    struct ovnbpf_meta_out *mo = (void *)(long)skb->data_meta;

    if ((void *)(mo + 1) <= (void *)(long)skb->data && mo->magic == OVNBPF_META_OUT_MAGIC) {
        /* an skb-mode VIF's unicast output, decided by XDP (lib/tcout.h) */
        int rc = ovnbpf_tc_output(skb, mo);
        if (rc < 0) {
            ovnbpf_drop(rc);
            return TC_ACT_SHOT;
        }
        return rc;
    }
    if ((void *)(m + 1) > (void *)(long)skb->data || m->magic != OVNBPF_META_MAGIC) {
        /* A VIF's frame that XDP never saw: a tap builds a GSO super-frame larger than a
         * page without running XDP. Counted and dropped: never the chassis' stack's. */
        __u32 ifindex = skb->ifindex;
        struct ovnbpf_vif *vif = ovnbpf_vifs.lookup(&ifindex);
        if (vif && vif->port) {
            ovnbpf_drop(OVNBPF_DROP_GSO_UNSUPPORTED);
            return TC_ACT_SHOT;
        }
        return TC_ACT_OK;
    }
    skb->cb[OVNBPF_CB_DP] = m->dp;
    skb->cb[OVNBPF_CB_INPORT] = m->inport;
    skb->cb[OVNBPF_CB_GROUP] = m->outport;
    /* TC state bits cleared; the patch-hop count rides in the top byte */
    skb->cb[OVNBPF_CB_FLAGS] = (m->flags & (OVNBPF_MF_FROM_TUNNEL | OVNBPF_MF_LOOPBACK)) |
                               ((m->hops & 0xff) << 24);
    skb->cb[OVNBPF_CB_CURSOR] = 0;
    m->magic = 0;            /* consumed: copies must not be replicated again */
    return ovnbpf_mcast_run(skb);
}

/* Reached only by tail call from a batch that had more members to serve. */
int ovnbpf_tc_mcast_cont(struct __sk_buff *skb)
{
    return ovnbpf_mcast_run(skb);
}
