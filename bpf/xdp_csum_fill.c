/* SPDX-License-Identifier: GPL-2.0 */
/* Not part of the ovnbpf datapath: the OVS reference chassis' side of guests' offloads.
 * OVS's userspace datapath reads a guest's frames with AF_PACKET, without the skb's
 * CHECKSUM_PARTIAL state, and forwards their partial checksums as they are. Attached to
 * the chassis side of a VIF on an `ovs` lab chassis, this completes the checksum in the
 * frame (lib/l4csum.h) and passes it on to OVS unchanged otherwise. An XDP program on a
 * veth also makes the kernel segment the guest's GSO frames before they cross the veth,
 * which OVS userspace needs as well (it has no TSO here). */
#include "lib/common.h"
#include "lib/parse.h"
#include "lib/l4csum.h"

int ovnbpf_xdp_csum_fill(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ovnbpf_flow f;

    __builtin_memset(&f, 0, sizeof(f));
    if (ovnbpf_parse(data, end, &f) == 0)
        ovnbpf_l4_csum_complete(data, end, &f);
    return XDP_PASS;
}
