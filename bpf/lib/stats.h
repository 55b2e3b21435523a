/* SPDX-License-Identifier: GPL-2.0 */
/* Counters: drops by reason, forwarding events, and the hit counters generated code bumps.
 *
 * For the compiler: OVNBPF_LFLOW_HIT(id) counts one logical flow (id < OVNBPF_MAX_LFLOWS,
 * assigned by the compiler, e.g. its index in a table it also gives userspace);
 * OVNBPF_STAGE_HIT(stage) counts one pipeline stage (ingress table n -> n, egress -> 32+n).
 * Both are a per-CPU array update: no hash, no lock. */
#ifndef OVNBPF_STATS_H
#define OVNBPF_STATS_H

#include "maps.h"

/* bcc rewrites `map.lookup(...)` only as a plain expression, not nested in a call's
 * arguments: always look up into a variable first. */
#define OVNBPF_COUNT_IN(map, idx) do {                  \
        __u32 __ovnbpf_k = (idx);                       \
        __u64 *__ovnbpf_c = map.lookup(&__ovnbpf_k);    \
        if (__ovnbpf_c)                                 \
            *__ovnbpf_c += 1;                           \
    } while (0)

#define OVNBPF_LFLOW_HIT(id)    OVNBPF_COUNT_IN(ovnbpf_lflow_hits, (id))
#define OVNBPF_STAGE_HIT(stage) OVNBPF_COUNT_IN(ovnbpf_stage_hits, (stage))

OVNBPF_INLINE void ovnbpf_stat(__u32 which)
{
    __u64 *c = ovnbpf_stats.lookup(&which);
    if (c)
        *c += 1;
}

OVNBPF_INLINE void ovnbpf_stat_add(__u32 which, __u64 n)
{
    __u64 *c = ovnbpf_stats.lookup(&which);
    if (c)
        *c += n;
}

OVNBPF_INLINE void ovnbpf_drop_add(int reason, __u64 n)
{
    __u32 idx = (__u32)(-reason);
    __u64 *c;
    if (idx >= OVNBPF_DROP_MAX)
        idx = 0;
    c = ovnbpf_drops.lookup(&idx);
    if (c)
        *c += n;
}

/* Count a drop; returns the reason so callers can `return ovnbpf_drop(...)`-style chain. */
OVNBPF_INLINE int ovnbpf_drop(int reason)
{
    __u32 idx = (__u32)(-reason);
    if (idx >= OVNBPF_DROP_MAX)
        idx = 0;   /* slot 0 collects anything out of range */
    {
        __u64 *c = ovnbpf_drops.lookup(&idx);
        if (c)
            *c += 1;
    }
    return reason;
}

#endif /* OVNBPF_STATS_H */
