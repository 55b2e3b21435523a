"""The controller's punt path (OVN's pinctrl): packets the datapath hands up for actions
it cannot run itself, the packets those actions generate, and their way back in.

    event     the wire formats: the datapath's punt event, the inject header (mirrors of
              bpf/lib/punt.h and bpf/xdp_inject.c)
    packets   frames <-> struct ovnbpf_flow fields, and the builders (icmp4 {}, arp {}, ...)
    handler   PuntHandler: one event -> the lflow's actions -> Injection(s) / MAC bindings
"""
