/* SPDX-License-Identifier: GPL-2.0 */
/* Test pipeline for the flow cache (tests/datapath/test_fcache.py): the stand-in L2
 * lookup (known eth.dst -> its port, group bit -> flood group 32768, else drop) plus the
 * two kinds of run the cache must never replay:
 *  - UDP to port 67 (DHCP, answered by the controller): OVNBPF_PL_CONTROLLER;
 *  - an ARP packet: a learning copy to the controller (as put_arp makes one, announced
 *    with OVNBPF_FC_NOCACHE), then forwarded like any other packet.
 * Its map has the stand-in's layout (datapath/standin.py L2Key).
 * Egress (what a packet from the tunnel runs) is per outport, from ovnbpf_pl_fct_out
 * (key dp << 32 | port): port security (an entry with a MAC drops any other eth.dst, as
 * ls_out_apply_port_sec does) and QoS marking (an entry with dscp sets ip.dscp, as
 * ls_out_qos_mark does); no entry: output. Every egress run counts stage 32 (egress
 * table 0) in ovnbpf_stage_hits: the tests' way to see that egress ran. */
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

struct ovnbpf_pl_fct_out {
    __u64 mac;         /* port security: the only eth.dst allowed out; 0 = any */
    __u32 dscp;        /* QoS marking: the ip.dscp to set; 0 = leave it */
    __u32 _pad;
};
BPF_HASH(ovnbpf_pl_fct_out, __u64, struct ovnbpf_pl_fct_out, 64);

OVNBPF_INLINE int ovnbpf_pipeline_egress(struct ovnbpf_flow *f)
{
    __u64 k = ((__u64)f->dp << 32) | f->outport;
    __u32 stage = 32;
    __u64 *runs = ovnbpf_stage_hits.lookup(&stage);   /* bcc: no map calls in macros here */
    struct ovnbpf_pl_fct_out *o;

    if (runs)
        *runs += 1;
    o = ovnbpf_pl_fct_out.lookup(&k);
    if (!o)
        return OVNBPF_PL_OUTPUT;
    if (o->mac && f->eth_dst != o->mac)
        return OVNBPF_PL_DROP;
    if (o->dscp && (f->present & (OVNBPF_P_IP4 | OVNBPF_P_IP6)))
        f->ip_dscp = (__u8)o->dscp;
    return OVNBPF_PL_OUTPUT;
}

#endif
