/* SPDX-License-Identifier: GPL-2.0 */
/* `ovnbpf bench lab`: the traffic side of the lab benchmark (not part of the datapath).
 *
 *  obl_gen   the sender: run by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES inside
 *            a VM's namespace; writes the whole template frame (live-frame pages come
 *            back recycled, not reset: a forwarder may have encapsulated or rewritten
 *            them) and redirects it out of the VM's interface.
 *  obl_count the receiver: XDP on the receiving VM's interface; counts and drops the
 *            benchmark's UDP frames (dst port OBL_PORT), passes everything else.
 *  obl_fwd   an optional underlay fast path: XDP on the root-namespace ends of chassis
 *            uplinks; a frame for a known uplink MAC goes straight to that uplink's
 *            root-side veth instead of through the Linux bridge.
 */
#include <uapi/linux/bpf.h>

#define OBL_FRAME 64
#define OBL_PORT 9         /* discard */

struct obl_frame {
    __u8 b[OBL_FRAME];
};

BPF_ARRAY(obl_tmpl, struct obl_frame, 1);
BPF_ARRAY(obl_out, __u32, 1);
BPF_PERCPU_ARRAY(obl_rx, __u64, 1);
BPF_HASH(obl_fwd_macs, __u64, __u32, 64);

int obl_gen(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 zero = 0;
    struct obl_frame *t = obl_tmpl.lookup(&zero);
    __u32 *ifindex = obl_out.lookup(&zero);

    if (!t || !ifindex || data + OBL_FRAME > end)
        return XDP_ABORTED;
    __builtin_memcpy(data, t->b, OBL_FRAME);
    return bpf_redirect(*ifindex, 0);
}

int obl_count(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *p = data;
    __u32 zero = 0;
    __u64 *n;

    /* eth(14) | IPv4 without options (20) | UDP: type, ihl, proto, dport */
    if (data + 14 + 20 + 8 > end)
        return XDP_PASS;
    if (p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45 || p[23] != 17)
        return XDP_PASS;
    if (p[36] != (OBL_PORT >> 8) || p[37] != (OBL_PORT & 0xff))
        return XDP_PASS;
    n = obl_rx.lookup(&zero);
    if (n)
        *n += 1;
    return XDP_DROP;
}

int obl_fwd(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u8 *p = data;
    __u64 mac;
    __u32 *ifindex;

    if (data + 14 > end)
        return XDP_PASS;
    mac = ((__u64)p[0] << 40) | ((__u64)p[1] << 32) | ((__u64)p[2] << 24) |
          ((__u64)p[3] << 16) | ((__u64)p[4] << 8) | (__u64)p[5];
    ifindex = obl_fwd_macs.lookup(&mac);
    if (!ifindex)
        return XDP_PASS;
    return bpf_redirect(*ifindex, 0);
}
