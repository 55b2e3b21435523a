/* SPDX-License-Identifier: GPL-2.0 */
/* The flow cache: an exact-match cache in front of the logical pipeline (OVS's EMC in
 * spirit), used by two entry programs:
 *  - xdp_vif: a packet from a VIF whose parsed fields were seen before, under the same
 *    configuration, skips both pipeline stages;
 *  - xdp_tunnel: a unicast Geneve packet without the egress-done bit (lib/split.h), whose
 *    Geneve metadata and parsed fields were seen before, skips the egress stage the
 *    receiving chassis would run for it.
 * Either way it gets the cached outcome replayed through the very same output code the
 * pipeline's run ended in (lib/output.h), so a hit writes the same bytes as a miss.
 *
 *   key    where the packet comes from + every parsed field the pipeline can read (the
 *          fields of struct ovnbpf_flow that parse.h fills; packed by header kind, see
 *          struct ovnbpf_fc_key in lib/maps.h). From a VIF: its ingress ifindex (the VIF
 *          table gives dp and inport), tun = 0. From the tunnel: the outer IPv4 source, and tun = OVNBPF_FC_TUN | VNI
 *          | Geneve ingress port | egress port (what the egress run starts from).
 *   value  the configuration epoch it was made in, the unicast output (local ifindex or
 *          remote chassis), the final logical metadata (dp/inport/outport/hops: the
 *          Geneve header and the last-output record) and the final values of every parsed
 *          field (the run's rewrites; output.h writes back whatever differs)
 *   store  per CPU, direct-mapped by a hash of the key (ovnbpf_fc_v2 in lib/maps.h);
 *          VIF and tunnel entries share it
 *
 * A hit calls ovnbpf_xdp_to_local() / ovnbpf_xdp_to_remote() exactly as the pipeline's
 * run did, so whatever those do (write-back, next hop, Geneve, counters, last output)
 * applies to hits too. When the run rewrote nothing, a hit leaves the parsed fields as
 * they are, and a local delivery skips the write-back (ovnbpf_xdp_to_local_as_is(): the
 * counter, last-output record and redirect of ovnbpf_xdp_to_local()): both rely on
 * rewrite.h's contract that an unchanged field is not written.
 *
 * Life of an entry:
 *  - the entry program reads the epoch FIRST (before the VIF table, the tunnel sources or
 *    anything the pipeline reads), parses, and looks the key up. Hit with the current
 *    epoch -> replay. Miss -> the per-CPU state is "armed" (key, epoch, cacheable, origin,
 *    ingress device) and the pipeline runs as usual. An entry program that drops the
 *    packet after arming, or cannot enter the pipeline, disarms.
 *  - pipeline.c records every pipeline verdict: anything but OUTPUT (drop - egress port
 *    security too -, punt, not compiled) makes the run uncacheable, as does a side
 *    effect the generated code announces with OVNBPF_FC_NOCACHE (put_arp/put_nd/put_fdb
 *    copies to the controller).
 *  - when the pipeline ends (the stage that returns a verdict), the state is disarmed;
 *    if the verdict is a redirect, the run was cacheable, the packet is the one that armed
 *    (same origin and ingress device) and the final fields can be packed losslessly, the
 *    entry is filled: a VIF packet's delivery to a local VIF or a remote chassis, a tunnel
 *    packet's delivery to a local VIF (egress never sends it back into the overlay).
 *  - userspace bumps the epoch after every write to any datapath or pipeline map and
 *    after every pipeline swap (datapath/maps.py, datapath/chassis.py): entries of an
 *    older epoch are misses. A run that read old state carries the old epoch it read
 *    before that state, so it can never fill a current-looking entry.
 * Not cached: multicast/broadcast (handed to TC, from a VIF or the tunnel), drops, punts,
 * ND packets (their option fields are not in the key), Geneve packets marked egress-done
 * (no pipeline runs for them here), multicast copies from the loop and packets the
 * controller injects (xdp_loop and xdp_inject disarm; they never look up).
 * Per-lflow hit counters count pipeline runs (misses), as OVS's OpenFlow counters lag its
 * datapath cache; `ovnbpf trace` runs with OVNBPF_FC_BYPASS set so it sees every lflow.
 *
 * Compile-time switch: OVNBPF_FCACHE (default 1). With 0 the hooks are empty; the maps
 * exist either way, so userspace treats every build alike. */
#ifndef OVNBPF_FCACHE_H
#define OVNBPF_FCACHE_H

#include "common.h"
#include "flow.h"
#include "maps.h"
#include "stats.h"
#include "output.h"

#ifndef OVNBPF_FCACHE
#define OVNBPF_FCACHE 1
#endif

/* Its maps, their structs and the OVNBPF_FC_* constants are in lib/maps.h (flow cache). */

/* The key word of a packet from the tunnel: what its Geneve header says (VNI 24 bits,
 * ingress port 15 bits, egress port 16 bits), tagged. */
OVNBPF_INLINE __u64 ovnbpf_fc_tun(const struct ovnbpf_flow *f)
{
    return OVNBPF_FC_TUN | ((__u64)(f->dp & 0xffffff) << 32) |
           ((__u64)(f->inport & 0x7fff) << 16) | (f->outport & 0xffff);
}

#define OVNBPF_FC_MISS 2000   /* ovnbpf_fc_lookup(): not a verdict, run the pipeline */

OVNBPF_INLINE void ovnbpf_fc_count(__u32 which)
{
    __u64 *c = ovnbpf_fc_stats.lookup(&which);
    if (c)
        *c += 1;
}

OVNBPF_INLINE struct ovnbpf_fc_state *ovnbpf_fc_state_get(void)
{
    __u32 zero = 0;
    return ovnbpf_fc_state_v2.lookup(&zero);
}

/* Pack the parsed fields of f (lossless for what parse.h fills; see ovnbpf_fc_lossless). */
OVNBPF_INLINE void ovnbpf_fc_pack(struct ovnbpf_fc_key *k, const struct ovnbpf_flow *f,
                                  __u32 ifindex, __u64 tun)
{
    __builtin_memset(k, 0, sizeof(*k));
    k->ifindex = ifindex;
    k->tun = tun;
    k->present = (__u16)f->present;
    k->eth_type = f->eth_type;
    k->eth_src = f->eth_src;
    k->eth_dst = f->eth_dst;
    k->vlan_tci = f->vlan_tci;
    k->tcp_flags = f->tcp_flags;
    k->ip6_label = f->ip6_label;
    k->ip_proto = f->ip_proto;
    k->ip_ttl = f->ip_ttl;
    k->ip_dscp = f->ip_dscp;
    k->ip_ecn = f->ip_ecn;
    if (f->present & OVNBPF_P_IP4) {
        k->l3[0] = ((__u64)f->ip4_src << 32) | f->ip4_dst;
    } else if (f->present & OVNBPF_P_IP6) {
        k->l3[0] = f->ip6_src_hi;
        k->l3[1] = f->ip6_src_lo;
        k->l3[2] = f->ip6_dst_hi;
        k->l3[3] = f->ip6_dst_lo;
    } else if (f->present & OVNBPF_P_ARP) {
        k->l3[0] = f->arp_sha;
        k->l3[1] = f->arp_tha;
        k->l3[2] = ((__u64)f->arp_spa << 32) | f->arp_tpa;
        k->l4 = f->arp_op;
    }
    if (f->present & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6))   /* + the echo id conntrack reads */
        k->l4 = ((__u32)f->icmp_id << 16) | ((__u32)f->icmp_type << 8) | f->icmp_code;
    else if (f->present & (OVNBPF_P_TCP | OVNBPF_P_UDP | OVNBPF_P_SCTP))
        k->l4 = ((__u32)f->tp_src << 16) | f->tp_dst;
}

/* The inverse of ovnbpf_fc_pack on the parsed fields (f's present is the packet's own). */
OVNBPF_INLINE void ovnbpf_fc_unpack(struct ovnbpf_flow *f, const struct ovnbpf_fc_key *k)
{
    f->eth_src = k->eth_src;
    f->eth_dst = k->eth_dst;
    f->eth_type = k->eth_type;
    f->vlan_tci = k->vlan_tci;
    f->tcp_flags = k->tcp_flags;
    f->ip6_label = k->ip6_label;
    f->ip_proto = k->ip_proto;
    f->ip_ttl = k->ip_ttl;
    f->ip_dscp = k->ip_dscp;
    f->ip_ecn = k->ip_ecn;
    if (f->present & OVNBPF_P_IP4) {
        f->ip4_src = k->l3[0] >> 32;
        f->ip4_dst = (__u32)k->l3[0];
    } else if (f->present & OVNBPF_P_IP6) {
        f->ip6_src_hi = k->l3[0];
        f->ip6_src_lo = k->l3[1];
        f->ip6_dst_hi = k->l3[2];
        f->ip6_dst_lo = k->l3[3];
    } else if (f->present & OVNBPF_P_ARP) {
        f->arp_sha = k->l3[0];
        f->arp_tha = k->l3[1];
        f->arp_spa = k->l3[2] >> 32;
        f->arp_tpa = (__u32)k->l3[2];
        f->arp_op = (__u16)k->l4;
    }
    if (f->present & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6)) {
        f->icmp_id = k->l4 >> 16;
        f->icmp_type = (__u8)(k->l4 >> 8);
        f->icmp_code = (__u8)k->l4;
    } else if (f->present & (OVNBPF_P_TCP | OVNBPF_P_UDP | OVNBPF_P_SCTP)) {
        f->tp_src = k->l4 >> 16;
        f->tp_dst = (__u16)k->l4;
    }
}

#define OVNBPF_FC_KEY_WORDS (sizeof(struct ovnbpf_fc_key) / 8)

OVNBPF_INLINE __u32 ovnbpf_fc_slot(const struct ovnbpf_fc_key *k)
{
    const __u64 *w = (const __u64 *)k;
    __u64 h = 0x9e3779b97f4a7c15ULL;
    int i;

    /* Each word rotated by its own amount and folded in: the folds do not wait for each
     * other, as a chain of multiplies would (~3 cycles each, 10 words). Then a finalizer
     * (murmur3's) lets every bit of every word reach the slot's low bits: a product only
     * carries bits upwards, so without folding the high half down the slot would not
     * depend on the top bits of a word - TCP flags, TTL, DSCP/ECN -, and a TCP flow's ACK
     * and PSH|ACK packets would evict each other from one slot on every flag change. */
#pragma unroll
    for (i = 0; i < OVNBPF_FC_KEY_WORDS; i++)
        h ^= (w[i] << ((i * 13) & 63)) | (w[i] >> ((64 - ((i * 13) & 63)) & 63));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (__u32)h & (OVNBPF_FC_ENTRIES - 1);
}

OVNBPF_INLINE int ovnbpf_fc_key_eq(const struct ovnbpf_fc_key *a, const struct ovnbpf_fc_key *b)
{
    const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
    __u64 d = 0;
    int i;

#pragma unroll
    for (i = 0; i < OVNBPF_FC_KEY_WORDS; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

/* Would packing f lose something? parse.h only fills the fields of headers it found, but
 * a pipeline may have written any field: fill only when the pack keeps every one. Runs on
 * the fill path (a miss) only. */
OVNBPF_INLINE int ovnbpf_fc_lossless(const struct ovnbpf_flow *f)
{
    __u32 p = f->present;
    __u64 ip4 = f->ip4_src | f->ip4_dst;
    __u64 ip6 = f->ip6_src_hi | f->ip6_src_lo | f->ip6_dst_hi | f->ip6_dst_lo;
    __u64 arp = f->arp_sha | f->arp_tha | f->arp_spa | f->arp_tpa | f->arp_op;
    __u64 nd = f->nd_target_hi | f->nd_target_lo | f->nd_sll | f->nd_tll;
    __u64 ports = f->tp_src | f->tp_dst;
    __u64 icmp = f->icmp_type | f->icmp_code;

    if (p & ~0xffffu)
        return 0;
    if (nd)
        return 0;
    if ((p & OVNBPF_P_IP4) ? (ip6 | arp) : (p & OVNBPF_P_IP6) ? (ip4 | arp)
                           : (p & OVNBPF_P_ARP) ? (ip4 | ip6) : (ip4 | ip6 | arp))
        return 0;
    if ((p & (OVNBPF_P_ICMP4 | OVNBPF_P_ICMP6)) ? ports
        : (p & (OVNBPF_P_TCP | OVNBPF_P_UDP | OVNBPF_P_SCTP)) ? icmp : (ports | icmp))
        return 0;
    return 1;
}

#if OVNBPF_FCACHE

/* An entry program (xdp_vif, xdp_tunnel), before anything else: this packet's epoch, or
 * NULL (bypassed). Disarms whatever an earlier packet of this CPU left armed. */
OVNBPF_INLINE struct ovnbpf_fc_state *ovnbpf_fc_begin(void)
{
    __u32 zero = 0;
    struct ovnbpf_fc_ctl *ctl = ovnbpf_fc_ctl.lookup(&zero);
    struct ovnbpf_fc_state *s = ovnbpf_fc_state_get();

    if (!s)
        return 0;
    s->armed = 0;
    if (!ctl || (ctl->flags & OVNBPF_FC_BYPASS))
        return 0;
    s->epoch = *(volatile __u32 *)&ctl->epoch;
    return s;
}

/* An entry program, after parsing (f holds the parsed fields and the logical metadata the
 * pipeline starts from): replay a current entry, or arm for a fill and say MISS.
 * `who` and `tun` are the key's ifindex and tun words (see struct ovnbpf_fc_key). */
OVNBPF_INLINE int ovnbpf_fc_lookup(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                   struct ovnbpf_fc_state *s, __u32 who, __u64 tun)
{
    struct ovnbpf_fc_entry *v;

    /* ND: options are not in the key; present bits above 15 would not fit in it */
    if (!s || (f->present & (OVNBPF_P_ND_NS | OVNBPF_P_ND_NA | ~0xffffu)))
        return OVNBPF_FC_MISS;
    ovnbpf_fc_pack(&s->key, f, who, tun);
    s->slot = ovnbpf_fc_slot(&s->key);
    v = ovnbpf_fc_v2.lookup(&s->slot);
    if (v && v->epoch == s->epoch && v->type && ovnbpf_fc_key_eq(&v->key, &s->key)) {
        __u32 type = v->type, target = v->target;

        /* Without rewrites f already holds the final fields (the parsed ones), and the
         * write-back finds nothing to change (rewrite.h writes only what differs). */
        if (v->rewrites)
            ovnbpf_fc_unpack(f, &v->fin);
        f->dp = v->dp;
        f->inport = v->inport;
        f->outport = v->outport;
        f->hops = (__u8)v->hops;
        ovnbpf_fc_count(OVNBPF_FC_STAT_HIT);
        if (type == OVNBPF_FC_LOCAL && !v->rewrites)
            /* ovnbpf_xdp_to_local() minus its write-back, which would compare every field
             * with the packet and find nothing to write (~10 ns of a ~95 ns hit) */
            return ovnbpf_xdp_to_local_as_is(ctx, f, target);
        if (type == OVNBPF_FC_LOCAL)
            return ovnbpf_xdp_to_local(ctx, f, target);
        return ovnbpf_xdp_to_remote(ctx, f, target, v->done);
    }
    ovnbpf_fc_count(OVNBPF_FC_STAT_MISS);
    s->frame_len = f->frame_len;
    s->ingress = ctx->ingress_ifindex;
    s->origin = f->origin;
    s->cacheable = 1;
    s->armed = 1;
    return OVNBPF_FC_MISS;
}

/* An entry program: the pipeline could not be entered, or the packet was dropped before
 * it (the state must never stay armed for a run that does not happen). */
OVNBPF_INLINE void ovnbpf_fc_disarm(struct ovnbpf_fc_state *s)
{
    if (s)
        s->armed = 0;
}

/* pipeline.c: every pipeline verdict passes through here (returned unchanged). */
OVNBPF_INLINE int ovnbpf_fc_verdict(int v)
{
    if (v != OVNBPF_PL_OUTPUT) {
        struct ovnbpf_fc_state *s = ovnbpf_fc_state_get();
        if (s)
            s->cacheable = 0;
    }
    return v;
}

/* pipeline.c: the run ended with XDP verdict rc; fill if it was a replayable unicast:
 * a VIF packet's delivery to a local VIF or a remote chassis, a tunnel packet's delivery
 * to a local VIF (the only unicast output egress has for it). */
OVNBPF_INLINE void ovnbpf_fc_end(struct xdp_md *ctx, const struct ovnbpf_flow *f, int rc)
{
    struct ovnbpf_fc_state *s = ovnbpf_fc_state_get();
    struct ovnbpf_last_output *o;
    struct ovnbpf_fc_entry *v;
    __u32 zero = 0, done = 0;

    if (!s || !s->armed)
        return;
    s->armed = 0;
    if (rc != XDP_REDIRECT || !s->cacheable || f->origin != s->origin ||
        ctx->ingress_ifindex != s->ingress || f->frame_len != s->frame_len)
        return;
    if (f->origin != OVNBPF_ORIGIN_VIF && f->origin != OVNBPF_ORIGIN_TUNNEL)
        return;
    o = ovnbpf_last_output.lookup(&zero);
    if (!o || (o->type != OVNBPF_OUT_LOCAL && o->type != OVNBPF_OUT_REMOTE) ||
        o->dp != f->dp || o->inport != f->inport || o->outport != f->outport)
        return;
    if (o->type != OVNBPF_OUT_LOCAL && f->origin == OVNBPF_ORIGIN_TUNNEL)
        return;   /* cannot happen (never back into the overlay); never replay it */
    if (o->type == OVNBPF_OUT_LOCAL &&
        (__u32)((long)ctx->data_end - (long)ctx->data) != s->frame_len)
        return;   /* the frame changed size on its way out: not a rewrite we replay */
    if ((__u16)f->present != s->key.present || !ovnbpf_fc_lossless(f))
        return;
    if (o->type == OVNBPF_OUT_REMOTE) {
        /* replay the egress-done bit (lib/split.h) as the packet left: read it back */
        struct ovnbpf_encap_hdr *h = (void *)(long)ctx->data;
        if ((void *)(h + 1) <= (void *)(long)ctx->data_end &&
            h->udp.dport == ovnbpf_htons(OVNBPF_GENEVE_PORT) &&
            h->opt.opt_class == ovnbpf_htons(OVNBPF_OVN_OPT_CLASS))
            done = !!(ovnbpf_ntohl(h->opt.data) & OVNBPF_GENEVE_EGRESS_DONE);
    }
    v = ovnbpf_fc_v2.lookup(&s->slot);
    if (!v)
        return;
    __builtin_memcpy(&v->key, &s->key, sizeof(v->key));
    v->epoch = s->epoch;
    v->type = o->type;
    v->target = o->type == OVNBPF_OUT_LOCAL ? o->ifindex : o->chassis;
    v->dp = f->dp;
    v->inport = f->inport;
    v->outport = f->outport;
    v->hops = f->hops;
    v->done = done;
    ovnbpf_fc_pack(&v->fin, f, s->key.ifindex, s->key.tun);
    v->rewrites = !ovnbpf_fc_key_eq(&v->fin, &s->key);
    ovnbpf_fc_count(OVNBPF_FC_STAT_FILL);
}

#else /* !OVNBPF_FCACHE */

OVNBPF_INLINE struct ovnbpf_fc_state *ovnbpf_fc_begin(void) { return 0; }
OVNBPF_INLINE int ovnbpf_fc_lookup(struct xdp_md *ctx, struct ovnbpf_flow *f,
                                   struct ovnbpf_fc_state *s, __u32 who, __u64 tun)
{ return OVNBPF_FC_MISS; }
OVNBPF_INLINE void ovnbpf_fc_disarm(struct ovnbpf_fc_state *s) { }
OVNBPF_INLINE int ovnbpf_fc_verdict(int v) { return v; }
OVNBPF_INLINE void ovnbpf_fc_end(struct xdp_md *ctx, const struct ovnbpf_flow *f, int rc) { }

#endif /* OVNBPF_FCACHE */

/* Generated code: a side effect a replay would skip (a learning copy to the controller). */
#define OVNBPF_FC_NOCACHE(f) do { (void)(f); ovnbpf_fc_verdict(-1); } while (0)

#endif /* OVNBPF_FCACHE_H */
