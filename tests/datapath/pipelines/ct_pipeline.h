/* SPDX-License-Identifier: GPL-2.0 */
/* Test pipeline for conntrack (tests/datapath/test_conntrack.py), a security group in
 * miniature with OVN's zones (one per logical port, the inport's in ingress, the
 * outport's in egress): port 1 may open connections, port 2 may only answer.
 *   ingress: ct_next(inport); ct.inv -> drop; ct.new from port 1 -> commit (ct_mark 7);
 *            ct.new from any other port -> drop; else output to the port named by the low
 *            byte of eth.dst. Non-IP is output as is.
 *   egress:  ct_next(outport); ct.inv -> drop; ct.new -> commit; output.
 * reg[0] keeps the ingress ct_state, reg[1] the egress one (for nobody: documentation). */
#ifndef OVNBPF_TEST_CT_PIPELINE_H
#define OVNBPF_TEST_CT_PIPELINE_H

OVNBPF_INLINE int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f)
{
    f->outport = f->eth_dst & 0xff;
    if (!(f->present & (OVNBPF_P_IP4 | OVNBPF_P_IP6)))
        return OVNBPF_PL_OUTPUT;
    ovnbpf_ct_next(f, f->inport);
    f->reg[0] = f->ct_state;
    if (f->ct_state & OVNBPF_CS_INV)
        return OVNBPF_PL_DROP;
    if (f->ct_state & OVNBPF_CS_NEW) {
        if (f->inport != 1)
            return OVNBPF_PL_DROP;
        f->ct_mark = 7;
        ovnbpf_ct_commit(f, f->inport);
    }
    return OVNBPF_PL_OUTPUT;
}

OVNBPF_INLINE int ovnbpf_pipeline_egress(struct ovnbpf_flow *f)
{
    if (!(f->present & (OVNBPF_P_IP4 | OVNBPF_P_IP6)))
        return OVNBPF_PL_OUTPUT;
    ovnbpf_ct_next(f, f->outport);
    f->reg[1] = f->ct_state;
    if (f->ct_state & OVNBPF_CS_INV)
        return OVNBPF_PL_DROP;
    if (f->ct_state & OVNBPF_CS_NEW)
        ovnbpf_ct_commit(f, f->outport);
    return OVNBPF_PL_OUTPUT;
}

#endif
