/* SPDX-License-Identifier: GPL-2.0 */
/* A value the verifier cannot see through: its own header so small programs (the
 * checksum filler) can use lib/csum.h without every map of lib/maps.h. */
#ifndef OVNBPF_OPAQUE_H
#define OVNBPF_OPAQUE_H

#include "common.h"

/* ---- a value the verifier cannot see through (see ovnbpf_opaque_u32) ---- */
OVNBPF_MAP("percpu_array", __u32, __u32, ovnbpf_opaque, 1, 0);

/* Return v, but as a scalar the verifier knows nothing about: values loaded from map
 * memory are untracked. Used to stop exact-offset path explosion (lib/csum.h). */
OVNBPF_INLINE __u32 ovnbpf_opaque_u32(__u32 v)
{
    __u32 k = 0;
    volatile __u32 *slot = ovnbpf_opaque.lookup(&k);
    if (!slot)
        return 0;
    *slot = v;
    return *slot;
}

#endif /* OVNBPF_OPAQUE_H */
