/* SPDX-License-Identifier: GPL-2.0 */
/* The contract between generated pipeline code (controller/lflow/emit_c.py) and the
 * hand-written datapath: the one header the generated C includes besides flow.h. The
 * compiler also writes a copy next to the generated C (its includes resolve in bpf/lib).
 *
 * The generated file defines
 *     static __always_inline int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f);
 *     static __always_inline int ovnbpf_pipeline_egress(struct ovnbpf_flow *f);
 * which run every table of that pipeline on *f, and (OVNBPF_PIPELINE_HAS_RESUME)
 *     static __always_inline int ovnbpf_pipeline_ingress_from(struct ovnbpf_flow *f, __u32 t);
 *     static __always_inline int ovnbpf_pipeline_egress_from(struct ovnbpf_flow *f, __u32 t);
 * which start at table t (the controller resumes a punted packet there). They return:
 *     OVNBPF_PL_DROP          a logical flow dropped the packet (or no flow matched)
 *     OVNBPF_PL_OUTPUT        ingress: run egress for f->outport (a port or multicast key);
 *                             egress: deliver to f->outport
 *     OVNBPF_PL_CONTROLLER    a flow needs the controller (icmp4 {}, arp {}, handle_*...);
 *                             the lflow cookie was passed to OVNBPF_PUNT() first
 *     OVNBPF_PL_NOT_COMPILED  a flow needs conntrack or something else not built yet;
 *                             the cookie was passed to OVNBPF_NOT_COMPILED() first
 * OVNBPF_PL_NEXT is internal: a table function's "go on with the next table".
 *
 * The verdicts are flow.h's. The maps the generated code reads are in lib/pl_maps.h; the
 * helpers it calls, one header per topic: lib/psec.h (port security), lib/mac_binding.h
 * (MAC_Binding), lib/fdb.h (FDB).
 */
#ifndef OVNBPF_PIPELINE_H
#define OVNBPF_PIPELINE_H

#include "flow.h"

#define OVNBPF_PL_NEXT       255  /* a table function's "go on with the next table" */

/* Hooks into the datapath (lib/punt.h, lib/fcache.h define them in a pipeline build);
 * these no-op defaults let the generated code build alone (tests, `ovnbpf compile`). */
/* Hand the packet to the controller / note a flow that is not compiled. */
#ifndef OVNBPF_PUNT
#define OVNBPF_PUNT(f, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
#ifndef OVNBPF_NOT_COMPILED
#define OVNBPF_NOT_COMPILED(f, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
/* Send the controller a copy and go on (put_arp, put_nd, put_fdb: learning). */
#ifndef OVNBPF_PUNT_COPY
#define OVNBPF_PUNT_COPY(f, what, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
/* A side effect that replaying a cached outcome would skip (the learning copies above):
 * the datapath's flow cache (bpf/lib/fcache.h) must not cache this run. */
#ifndef OVNBPF_FC_NOCACHE
#define OVNBPF_FC_NOCACHE(f) do { (void)(f); } while (0)
#endif

/* Conntrack: ct_next / ct_commit / ct_clear. The datapath provides them (lib/ct.h, included
 * before the pipeline); without it every lookup says ct.inv, which northd's flows drop:
 * fail closed. */
#ifndef OVNBPF_CT_H
static __always_inline void ovnbpf_ct_clear(struct ovnbpf_flow *f)
{
    f->ct_state = 0;
    f->ct_mark = 0;
    f->ct_label_hi = 0;
    f->ct_label_lo = 0;
}
static __always_inline void ovnbpf_ct_next(struct ovnbpf_flow *f, __u32 port)
{
    (void)port;
    ovnbpf_ct_clear(f);
    f->ct_state = 0x30;   /* ct.trk | ct.inv */
}
static __always_inline void ovnbpf_ct_commit(struct ovnbpf_flow *f, __u32 port)
{
    (void)f;
    (void)port;
}
#endif

/* Count a hit of the logical flow whose cookie is given, in the datapath's per-CPU array
 * ovnbpf_lflow_hits (bpf/lib/stats.h; present when OVNBPF_LFLOW_HIT is). A function, not
 * stats.h's macro: bcc cannot rewrite a map access that a macro expands into. */
#ifndef OVNBPF_PL_HIT
#if defined(OVNBPF_LFLOW_HIT) && !defined(OVNBPF_PL_NO_HIT_COUNTERS)
static __always_inline void ovnbpf_pl_hit(__u32 cookie)
{
    __u64 *n = ovnbpf_lflow_hits.lookup(&cookie);
    if (n)
        *n += 1;
}
#define OVNBPF_PL_HIT(cookie) ovnbpf_pl_hit(cookie)
#else
#define OVNBPF_PL_HIT(cookie) do { (void)(cookie); } while (0)
#endif
#endif

#include "pl_maps.h"
#include "psec.h"
#include "mac_binding.h"
#include "fdb.h"

#endif /* OVNBPF_PIPELINE_H */
