/* SPDX-License-Identifier: GPL-2.0 */
/* Test pipeline: two switches and a router, hand-written (tests/datapath/test_chassis.py).
 * Datapaths with a route table entry are routers; the others are switches.
 *  switch ingress: broadcast/multicast eth.dst -> flood group 32768; known eth.dst -> port.
 *  router ingress: route on ip4.dst/24 -> outport, eth.src/dst rewritten, ttl - 1.
 *  egress: drop when (dp, outport) is in the deny map (an egress ACL), else output.
 * Its maps are the build's own (not pinned): install_pipeline() fills them. */
#ifndef OVNBPF_TEST_ROUTER_PIPELINE_H
#define OVNBPF_TEST_ROUTER_PIPELINE_H

struct ovnbpf_pl_rt_l2_key {
    __u32 dp;
    __u32 _pad;
    __u64 mac;
};
struct ovnbpf_pl_rt_route_key {
    __u32 dp;
    __u32 net;       /* ip4.dst & 255.255.255.0 */
};
struct ovnbpf_pl_rt_route {
    __u32 outport;
    __u32 _pad;
    __u64 smac;
    __u64 dmac;
};
struct ovnbpf_pl_rt_port_key {
    __u32 dp;
    __u32 port;
};
BPF_HASH(ovnbpf_pl_rt_l2, struct ovnbpf_pl_rt_l2_key, __u32, 1024);
BPF_HASH(ovnbpf_pl_rt_route, struct ovnbpf_pl_rt_route_key, struct ovnbpf_pl_rt_route, 1024);
BPF_HASH(ovnbpf_pl_rt_routers, __u32, __u32, 64);
BPF_HASH(ovnbpf_pl_rt_deny, struct ovnbpf_pl_rt_port_key, __u32, 1024);

OVNBPF_INLINE int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f)
{
    __u32 dp = f->dp;

    if (ovnbpf_pl_rt_routers.lookup(&dp)) {
        struct ovnbpf_pl_rt_route_key rk = { .dp = f->dp, .net = f->ip4_dst & 0xffffff00 };
        struct ovnbpf_pl_rt_route *r;

        if (!(f->present & OVNBPF_P_IP4) || f->ip_ttl <= 1)
            return OVNBPF_PL_DROP;
        r = ovnbpf_pl_rt_route.lookup(&rk);
        if (!r)
            return OVNBPF_PL_DROP;
        f->ip_ttl--;
        f->eth_src = r->smac;
        f->eth_dst = r->dmac;
        f->outport = r->outport;
        return OVNBPF_PL_OUTPUT;
    }
    if (f->eth_dst & 0x010000000000ULL) {
        f->outport = 32768;
        return OVNBPF_PL_OUTPUT;
    }
    {
        struct ovnbpf_pl_rt_l2_key k = { .dp = f->dp, ._pad = 0, .mac = f->eth_dst };
        __u32 *port = ovnbpf_pl_rt_l2.lookup(&k);
        if (!port)
            return OVNBPF_PL_DROP;
        f->outport = *port;
    }
    return OVNBPF_PL_OUTPUT;
}

OVNBPF_INLINE int ovnbpf_pipeline_egress(struct ovnbpf_flow *f)
{
    struct ovnbpf_pl_rt_port_key k = { .dp = f->dp, .port = f->outport };

    if (ovnbpf_pl_rt_deny.lookup(&k))
        return OVNBPF_PL_DROP;
    return OVNBPF_PL_OUTPUT;
}

#endif
