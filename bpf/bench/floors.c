/* SPDX-License-Identifier: GPL-2.0 */
/* Benchmark floors: the least work a forwarding decision can cost, to compare the full
 * entry program + pipeline against (datapath/bench.py).
 *  floor_redirect: Ethernet dst -> one hash lookup -> bpf_redirect.
 *  floor_encap:    the same lookup giving a tunnel, then the same Geneve encap as the
 *                  datapath (incl. both checksums), so the ratio measures our overhead. */
#include "lib/common.h"
#include "lib/hdr.h"
#include "lib/maps.h"
#include "lib/geneve.h"

#ifndef OVNBPF_BENCH_UNDO_ENCAP
#define OVNBPF_BENCH_UNDO_ENCAP(ctx) do { } while (0)
#endif

struct obt_floor_key {
    __u64 mac;
};
OVNBPF_MAP("hash", struct obt_floor_key, __u32, obt_floor_fwd, 1024, 0);
OVNBPF_MAP("hash", struct obt_floor_key, struct ovnbpf_tunnel, obt_floor_tun, 1024, 0);

int obt_floor_redirect(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_eth *eth = data;
    struct obt_floor_key k = {};
    __u32 *ifindex;

    if ((void *)(eth + 1) > end)
        return XDP_DROP;
    k.mac = ovnbpf_mac_load(eth->dst);
    ifindex = obt_floor_fwd.lookup(&k);
    if (!ifindex)
        return XDP_DROP;
    return bpf_redirect(*ifindex, 0);
}

int obt_floor_encap(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_eth *eth = data;
    struct obt_floor_key k = {};
    struct ovnbpf_tunnel *t;
    int rc;

    if ((void *)(eth + 1) > end)
        return XDP_DROP;
    k.mac = ovnbpf_mac_load(eth->dst);
    t = obt_floor_tun.lookup(&k);
    if (!t)
        return XDP_DROP;
    if (bpf_xdp_adjust_head(ctx, -OVNBPF_ENCAP_LEN))
        return XDP_DROP;
    data = (void *)(long)ctx->data;
    end = (void *)(long)ctx->data_end;
    if (ovnbpf_geneve_write(data, end, t, 1, 1, 3, 49152) < 0)
        return XDP_DROP;
    rc = bpf_redirect(t->ifindex, 0);
    OVNBPF_BENCH_UNDO_ENCAP(ctx);
    return rc;
}
