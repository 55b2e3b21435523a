/* SPDX-License-Identifier: GPL-2.0 */
/* Stand-in pipeline for tests and `bench datapath` (datapath/standin.py):
 * ingress = OVN's ls_in_l2_lkup in miniature. Broadcast/multicast eth.dst -> the flood
 * group (32768, OVN's _MC_flood); a known eth.dst -> its port; unknown -> drop.
 * Egress forwards everything. Its map is test code: datapath/standin.py has its codec. */
#ifndef OVNBPF_TEST_L2_PIPELINE_H
#define OVNBPF_TEST_L2_PIPELINE_H

#define OVNBPF_TEST_MC_FLOOD 32768

struct ovnbpf_pl_l2_key {
    __u32 dp;
    __u32 _pad;
    __u64 mac;
};
OVNBPF_MAP("hash", struct ovnbpf_pl_l2_key, __u32, ovnbpf_pl_l2, 65536, 0);

OVNBPF_INLINE int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f)
{
    struct ovnbpf_pl_l2_key k = { .dp = f->dp, ._pad = 0, .mac = f->eth_dst };
    __u32 *port;

    if (f->eth_dst & 0x010000000000ULL) {   /* group bit of the first octet */
        f->outport = OVNBPF_TEST_MC_FLOOD;
        return OVNBPF_PL_OUTPUT;
    }
    port = ovnbpf_pl_l2.lookup(&k);
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
