/* SPDX-License-Identifier: GPL-2.0 */
/* Entry programs -> the active pipeline generation (maps.h: ovnbpf_pl_progs). The entry
 * reads the generation once; from there on every stage tail-calls slots of its own
 * compiled-in generation, so a packet never mixes two pipeline builds. */
#ifndef OVNBPF_DISPATCH_H
#define OVNBPF_DISPATCH_H

#include "common.h"
#include "maps.h"

/* Tail-call `stage` of the active generation. Returns only if the slot is empty. */
OVNBPF_INLINE int ovnbpf_enter_pipeline(struct xdp_md *ctx, __u32 stage)
{
    __u32 zero = 0, slot;
    __u32 *gen = ovnbpf_pl_active.lookup(&zero);

    slot = ((gen ? *gen : 0) & 1) * OVNBPF_PL_STAGES + stage;
    ovnbpf_pl_progs.call(ctx, slot);
    return OVNBPF_DROP_NO_PIPELINE;
}

#endif /* OVNBPF_DISPATCH_H */
