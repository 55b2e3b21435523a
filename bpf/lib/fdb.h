/* SPDX-License-Identifier: GPL-2.0 */
/* FDB lookups for generated code: get_fdb / lookup_fdb against ovnbpf_pl_fdb
 * (lib/pl_maps.h). */
#ifndef OVNBPF_FDB_H
#define OVNBPF_FDB_H

#include "flow.h"
#include "pl_maps.h"

static __always_inline __u32 *ovnbpf_fdb_port(struct ovnbpf_flow *f, __u64 mac)
{
    struct ovnbpf_pl_fdb_key k;

    __builtin_memset(&k, 0, sizeof(k));
    k.dp = f->dp;
    k.mac = mac;
    return ovnbpf_pl_fdb.lookup(&k);
}

/* get_fdb: the port learned for a MAC on this datapath; 0 = unknown. */
static __always_inline __u64 ovnbpf_get_fdb(struct ovnbpf_flow *f, __u64 mac)
{
    __u32 *port = ovnbpf_fdb_port(f, mac);
    return port ? *port : 0;
}

/* lookup_fdb: 1 if the MAC was learned on this very port. */
static __always_inline __u64 ovnbpf_lookup_fdb(struct ovnbpf_flow *f, __u64 port, __u64 mac)
{
    __u32 *learned = ovnbpf_fdb_port(f, mac);
    return learned && *learned == port;
}

#endif /* OVNBPF_FDB_H */
