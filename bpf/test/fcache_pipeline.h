/* SPDX-License-Identifier: GPL-2.0 */
/* Test pipeline for the flow cache (tests/datapath/test_fcache.py): the stand-in L2
 * lookup (known eth.dst -> its port, group bit -> flood group 32768, else drop) plus the
 * two kinds of run the cache must never replay:
 *  - UDP to port 67 (DHCP, answered by the controller): OVNBPF_PL_CONTROLLER;
 *  - an ARP packet: a learning copy to the controller (as put_arp makes one, announced
 *    with OVNBPF_FC_NOCACHE), then forwarded like any other packet.
 * Its map has the stand-in's layout (datapath/maps.py L2Key). */
#ifndef OVNBPF_TEST_FCACHE_PIPELINE_H
#define OVNBPF_TEST_FCACHE_PIPELINE_H

struct ovnbpf_pl_fct_key {
    __u32 dp;
    __u32 _pad;
    __u64 mac;
};
BPF_HASH(ovnbpf_pl_fct_l2, struct ovnbpf_pl_fct_key, __u32, 1024);

OVNBPF_INLINE int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f)
{
    struct ovnbpf_pl_fct_key k = { .dp = f->dp, ._pad = 0, .mac = f->eth_dst };
    __u32 *port;

    if ((f->present & OVNBPF_P_UDP) && f->tp_dst == 67)
        return OVNBPF_PL_CONTROLLER;
    if (f->present & OVNBPF_P_ARP)
        OVNBPF_FC_NOCACHE(f);
    if (f->eth_dst & 0x010000000000ULL) {
        f->outport = 32768;
        return OVNBPF_PL_OUTPUT;
    }
    port = ovnbpf_pl_fct_l2.lookup(&k);
    if (!port)
        return OVNBPF_PL_DROP;
    f->outport = *port;
    return OVNBPF_PL_OUTPUT;
}

OVNBPF_INLINE int ovnbpf_pipeline_egress(struct ovnbpf_flow *f)
{
    return OVNBPF_PL_OUTPUT;
}

#endif
