/* SPDX-License-Identifier: GPL-2.0 */
/* The punt path, datapath side (OVN's pinctrl): a logical flow whose action the controller
 * carries out (icmp4 {}, arp {}, tcp_reset {}, put_arp(), ...) hands the packet up.
 *
 * Generated code calls OVNBPF_PUNT(f, cookie) and returns OVNBPF_PL_CONTROLLER (the packet
 * is consumed), or OVNBPF_PUNT_COPY(f, what, cookie) and goes on (learning: the controller
 * gets a copy). The stage program (pipeline.c) then submits one event per punt to the perf
 * buffer `ovnbpf_punts`: struct ovnbpf_punt_event (the logical metadata and every parsed
 * field as they are at that point) followed by the frame's bytes as they were parsed (the
 * pipeline's changes are in the event's flow, not yet in the bytes).
 *
 * Bounded: a meter per CPU (ovnbpf_punt_rate, lib/maps.h) lets through at most its rate
 * and counts the rest as DROP_PUNT_RATE; each CPU's perf ring has a fixed size. If the
 * controller does not keep up, the kernel refuses the event and we count DROP_PUNT_LOST;
 * with no controller listening at all, DROP_NEED_CONTROLLER. Nothing waits. Userspace mirror: controller/punt/event.py.
 *
 * The perf map belongs to each pipeline build (not pinned): the controller opens the
 * buffer of every build it installs (datapath/chassis.py). */
#ifndef OVNBPF_PUNT_H
#define OVNBPF_PUNT_H

#include "common.h"
#include "flow.h"
#include "maps.h"
#include "stats.h"
#include "last.h"

/* The event layout and its scratch map are in lib/maps.h (punt path), the perf ring in
 * lib/pl_maps.h (one per pipeline build). */
#include "pl_maps.h"


#define OVNBPF_PUNT_SLOT_EVENT 0
#define OVNBPF_PUNT_SLOT_COPY  1

OVNBPF_INLINE struct ovnbpf_punt_event *ovnbpf_punt_slot(__u32 slot)
{
    return ovnbpf_punt_scratch.lookup(&slot);
}

/* Generated code: remember which flow punts (the stage program submits). */
OVNBPF_INLINE void ovnbpf_punt_note(struct ovnbpf_flow *f, __u32 cookie)
{
    f->punt_cookie = cookie;
}

/* Generated code: a learning action wants a copy of the flow as it is now. */
OVNBPF_INLINE void ovnbpf_punt_copy(struct ovnbpf_flow *f, __u32 what, __u32 cookie)
{
    struct ovnbpf_punt_event *ev = ovnbpf_punt_slot(OVNBPF_PUNT_SLOT_COPY);

    if (!ev)
        return;
    __builtin_memcpy(&ev->flow, f, sizeof(*f));
    ev->what = what;
    ev->cookie = cookie;
    f->copy_cookie = cookie;
    f->copy_kind = what;
}

#define OVNBPF_PUNT(f, cookie) ovnbpf_punt_note((f), (cookie))
#define OVNBPF_PUNT_COPY(f, what, cookie) ovnbpf_punt_copy((f), (what), (cookie))

/* The punt meter (lib/maps.h): 1 if this CPU may punt now (and the punt is counted in). */
OVNBPF_INLINE int ovnbpf_punt_allowed(void)
{
    __u32 zero = 0;
    struct ovnbpf_punt_rate *r = ovnbpf_punt_rate.lookup(&zero);
    __u64 *tat = ovnbpf_punt_tat.lookup(&zero);
    __u64 now;

    if (!r || !r->interval_ns || !tat)
        return 1;
    now = bpf_ktime_get_ns();
    if (*tat < now)
        *tat = now;
    if (*tat - now + r->interval_ns > (__u64)r->burst * r->interval_ns)
        return 0;                         /* `burst` punts already ahead of now */
    *tat += r->interval_ns;
    return 1;
}

/* Submit one event with the frame. 0, or a drop reason. */
OVNBPF_INLINE int ovnbpf_punt_submit(struct xdp_md *ctx, struct ovnbpf_punt_event *ev,
                                     __u32 kind, __u32 stage)
{
    __u64 len = (__u64)((long)ctx->data_end - (long)ctx->data);
    int rc;

    if (!ovnbpf_punt_allowed())
        return OVNBPF_DROP_PUNT_RATE;
    if (len > OVNBPF_PUNT_MAX_BYTES)
        len = OVNBPF_PUNT_MAX_BYTES;
    ev->magic = OVNBPF_PUNT_MAGIC;
    ev->version = OVNBPF_PUNT_VERSION;
    ev->flow_size = sizeof(struct ovnbpf_flow);
    ev->kind = kind;
    ev->stage = stage;
    ev->pkt_len = len;
    ev->_pad = 0;
    rc = ovnbpf_punts.perf_submit_skb(ctx, len, ev, sizeof(*ev));
    if (rc == 0)
        return 0;
    return rc == -2 /* ENOENT: no reader on this CPU */ ? OVNBPF_DROP_NEED_CONTROLLER
                                                        : OVNBPF_DROP_PUNT_LOST;
}

/* After a pipeline stage ran: send the pending copy, then the punted packet. Returns rc,
 * or for a punt OVNBPF_PL_PUNTED (the packet now belongs to the controller) or a drop
 * reason. */
OVNBPF_INLINE int ovnbpf_punt_finish(struct xdp_md *ctx, struct ovnbpf_flow *f, int rc,
                                     __u32 stage)
{
    struct ovnbpf_punt_event *ev;
    int err;

    if (f->copy_cookie) {
        f->copy_cookie = 0;
        ev = ovnbpf_punt_slot(OVNBPF_PUNT_SLOT_COPY);
        if (ev) {
            err = ovnbpf_punt_submit(ctx, ev, OVNBPF_PUNT_COPY_KIND, stage);
            if (err < 0)
                ovnbpf_drop(err);     /* the copy is lost; the packet goes on */
            else
                ovnbpf_stat(OVNBPF_STAT_PUNT_COPY);
        }
    }
    if (rc != OVNBPF_PL_CONTROLLER)
        return rc;
    ev = ovnbpf_punt_slot(OVNBPF_PUNT_SLOT_EVENT);
    if (!ev)
        return OVNBPF_DROP_PIPELINE_ERROR;
    __builtin_memcpy(&ev->flow, f, sizeof(*f));
    ev->cookie = f->punt_cookie;
    ev->what = 0;
    err = ovnbpf_punt_submit(ctx, ev, OVNBPF_PUNT_CONSUME, stage);
    if (err < 0)
        return err;
    ovnbpf_stat(OVNBPF_STAT_PUNT);
    ovnbpf_last(OVNBPF_OUT_PUNT, 0, f->punt_cookie, f, 0);
    return OVNBPF_PL_PUNTED;
}

#endif /* OVNBPF_PUNT_H */
