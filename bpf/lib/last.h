/* SPDX-License-Identifier: GPL-2.0 */
/* The per-CPU record of what the last packet did (maps.h: ovnbpf_last_output), and the
 * one way every XDP program ends: a verdict, or a drop that is counted and recorded. */
#ifndef OVNBPF_LAST_H
#define OVNBPF_LAST_H

#include "common.h"
#include "flow.h"
#include "maps.h"
#include "stats.h"

OVNBPF_INLINE void ovnbpf_last(__u32 type, __u32 ifindex, __u32 chassis,
                               const struct ovnbpf_flow *f, int reason)
{
    __u32 zero = 0;
    struct ovnbpf_last_output *o = ovnbpf_last_output.lookup(&zero);

    if (!o)
        return;
    o->type = type;
    o->ifindex = ifindex;
    o->chassis = chassis;
    o->reason = reason;
    if (f) {
        o->dp = f->dp;
        o->inport = f->inport;
        o->outport = f->outport;
        o->hops = f->hops;
    } else {
        o->dp = o->inport = o->outport = o->hops = 0;
    }
}

/* Return an XDP verdict for `rc`: >= 0 is one already, < 0 is a drop reason. */
OVNBPF_INLINE int ovnbpf_xdp_exit(const struct ovnbpf_flow *f, int rc)
{
    if (rc >= 0)
        return rc;
    ovnbpf_drop(rc);
    ovnbpf_last(OVNBPF_OUT_DROP, 0, 0, f, rc);
    return XDP_DROP;
}

/* The scratch flow of this CPU (NULL cannot happen: a 1-entry per-CPU array). */
OVNBPF_INLINE struct ovnbpf_flow *ovnbpf_flow_get(void)
{
    __u32 zero = 0;
    return ovnbpf_scratch.lookup(&zero);
}

#endif /* OVNBPF_LAST_H */
