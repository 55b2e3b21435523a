/* SPDX-License-Identifier: GPL-2.0 */
/* The contract between generated pipeline code (controller/lflow/emit_c.py) and the
 * hand-written datapath. Kept in controller/lflow/ and copied next to the generated C.
 *
 * The generated file defines
 *     static __always_inline int ovnbpf_pipeline_ingress(struct ovnbpf_flow *f);
 *     static __always_inline int ovnbpf_pipeline_egress(struct ovnbpf_flow *f);
 * which run every table of that pipeline on *f and return a verdict:
 *     OVNBPF_PL_DROP          a logical flow dropped the packet (or no flow matched)
 *     OVNBPF_PL_OUTPUT        ingress: run egress for f->outport (a port or multicast key);
 *                             egress: deliver to f->outport
 *     OVNBPF_PL_CONTROLLER    a flow needs the controller (icmp4 {}, arp {}, handle_*...);
 *                             the lflow cookie was passed to OVNBPF_PUNT() first
 *     OVNBPF_PL_NOT_COMPILED  a flow needs conntrack or something else not built yet;
 *                             the cookie was passed to OVNBPF_NOT_COMPILED() first
 * OVNBPF_PL_NEXT is internal: a table function's "go on with the next table".
 *
 * Helpers the datapath provides (map lookups behind function-like OVN actions). Each has a
 * default here so that the generated code compiles on its own; define OVNBPF_HAVE_<NAME> and
 * your own function before including the generated file to replace it.
 */
#ifndef OVNBPF_PIPELINE_H
#define OVNBPF_PIPELINE_H

#ifndef OVNBPF_PL_DROP
#define OVNBPF_PL_DROP       0
#endif
#ifndef OVNBPF_PL_OUTPUT
#define OVNBPF_PL_OUTPUT     1
#endif
#ifndef OVNBPF_PL_CONTROLLER
#define OVNBPF_PL_CONTROLLER 2
#endif
#ifndef OVNBPF_PL_NOT_COMPILED
#define OVNBPF_PL_NOT_COMPILED 3
#endif
#define OVNBPF_PL_NEXT       255

#ifndef OVNBPF_SHAPE_MAP_SIZE
#define OVNBPF_SHAPE_MAP_SIZE 1024   /* entries per shape map; not a per-topology number */
#endif

/* Hand the packet to the controller / note a flow that is not compiled. */
#ifndef OVNBPF_PUNT
#define OVNBPF_PUNT(f, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
#ifndef OVNBPF_NOT_COMPILED
#define OVNBPF_NOT_COMPILED(f, cookie) do { (void)(f); (void)(cookie); } while (0)
#endif
/* Send the controller a copy and go on (put_arp, put_nd, put_fdb: learning). */
#ifndef OVNBPF_PUNT_COPY
#define OVNBPF_PUNT_COPY(f, what) do { (void)(f); } while (0)
#endif
#define OVNBPF_COPY_PUT_ARP 1
#define OVNBPF_COPY_PUT_ND  2
#define OVNBPF_COPY_PUT_FDB 3

/* Port security (Port_Binding.port_security): 1 = violation. Default: none configured. */
#ifndef OVNBPF_HAVE_CHECK_IN_PORT_SEC
static __always_inline __u64 ovnbpf_check_in_port_sec(struct ovnbpf_flow *f) { return 0; }
#endif
#ifndef OVNBPF_HAVE_CHECK_OUT_PORT_SEC
static __always_inline __u64 ovnbpf_check_out_port_sec(struct ovnbpf_flow *f) { return 0; }
#endif
/* MAC_Binding: is (port, ip) -> mac known? 1 = yes. Default: yes, so nothing is re-learned. */
#ifndef OVNBPF_HAVE_LOOKUP_ARP
static __always_inline __u64 ovnbpf_lookup_arp(struct ovnbpf_flow *f, __u64 port, __u64 ip,
                                               __u64 mac) { return 1; }
#endif
#ifndef OVNBPF_HAVE_LOOKUP_ND
static __always_inline __u64 ovnbpf_lookup_nd(struct ovnbpf_flow *f, __u64 port, __u64 ip_hi,
                                              __u64 ip_lo, __u64 mac) { return 1; }
#endif
/* MAC_Binding: set f->eth_dst for (port, ip); 00:00:00:00:00:00 if unknown. */
#ifndef OVNBPF_HAVE_GET_ARP
static __always_inline void ovnbpf_get_arp(struct ovnbpf_flow *f, __u64 port, __u64 ip)
{ f->eth_dst = 0; }
#endif
#ifndef OVNBPF_HAVE_GET_ND
static __always_inline void ovnbpf_get_nd(struct ovnbpf_flow *f, __u64 port, __u64 ip_hi,
                                          __u64 ip_lo) { f->eth_dst = 0; }
#endif
/* FDB: the port key learned for a MAC on this datapath; 0 = unknown. */
#ifndef OVNBPF_HAVE_GET_FDB
static __always_inline __u64 ovnbpf_get_fdb(struct ovnbpf_flow *f, __u64 mac) { return 0; }
#endif
#ifndef OVNBPF_HAVE_LOOKUP_FDB
static __always_inline __u64 ovnbpf_lookup_fdb(struct ovnbpf_flow *f, __u64 port, __u64 mac)
{ return 0; }
#endif

#endif /* OVNBPF_PIPELINE_H */
