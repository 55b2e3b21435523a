/* SPDX-License-Identifier: GPL-2.0 */
/* Test pipeline for the punt path (tests/datapath/test_punt.py): IPv4 with TTL <= 1 is
 * punted (cookie 7, as icmp4 {} would be); ARP sends the controller a copy (cookie 8, as
 * put_arp does) and goes on; everything is output to the port named by the low byte of
 * eth.dst. Egress forwards. */
#ifndef OVNBPF_TEST_PUNT_PIPELINE_H
#define OVNBPF_TEST_PUNT_PIPELINE_H



OVNBPF_INLINE int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f)
{
    if ((f->present & OVNBPF_P_IP4) && f->ip_ttl <= 1) {
        OVNBPF_PUNT(f, 7);
        return OVNBPF_PL_CONTROLLER;
    }
    if (f->present & OVNBPF_P_ARP)
        OVNBPF_PUNT_COPY(f, 1 /* OVNBPF_COPY_PUT_ARP */, 8);
    f->outport = f->eth_dst & 0xff;
    return OVNBPF_PL_OUTPUT;
}

OVNBPF_INLINE int ovnbpf_pipeline_egress(struct ovnbpf_flow *f)
{
    return OVNBPF_PL_OUTPUT;
}

#endif
