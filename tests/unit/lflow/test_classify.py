import pytest

from controller.lflow import actions as A
from controller.lflow.classify import classify_flow, summarize
from controller.lflow.flows import LogicalFlow

from .helpers import ENV


def flow(match, actions, pipeline="ingress"):
    return LogicalFlow("ls1", pipeline, 0, "ls_in_x", 100, match, actions, "0" * 32)


@pytest.mark.parametrize("match, actions, category, reason", [
    ("eth.dst == 0a:00:00:00:01:01", 'outport = "lsp-vm1"; output;', A.COMPILED, None),
    ("1", "reg0[15] = check_in_port_sec(); next;", A.COMPILED, None),
    ("ip && outport == \"p\"", "ct_clear; next;", A.COMPILED, None),
    ("1", "", A.COMPILED, None),
    # conntrack (bpf/lib/ct.h): lookups, commits and the ct fields compile
    ("ct.est && ip4", "next;", A.COMPILED, None),
    ("1", "ct_next;", A.COMPILED, None),
    ("1", "ct_commit { ct_mark.blocked = 0; ct_label.label = reg3; }; next;", A.COMPILED, None),
    ("1", "ct_commit;", A.COMPILED, None),
    ("1", "reg0 = ct_mark; next;", A.COMPILED, None),
    # NAT and load balancing do not (issue 17)
    ("reg0[2] == 1", "ct_lb_mark;", A.CONNTRACK, "ct_lb_mark: load balancing / NAT"),
    ("ct_nw_src == 10.0.0.1", "next;", A.CONNTRACK, "ct_nw_src"),
    ("1", "ct_next; next;", A.UNSUPPORTED, "actions after 'ct_next'"),
    ("ip4", "icmp4 { icmp4.type = 3; output; };", A.PUNT, "icmp4: generates a packet (ICMPv4 error)"),
    ("arp", "put_arp(inport, arp.spa, arp.sha); next;", A.PUNT, "put_arp: learns a MAC binding"),
    ("tcp", "tcp_reset { output; };", A.PUNT, "tcp_reset: generates a packet (TCP RST)"),
    ("1", 'clone { outport = "a"; output; }; output;', A.UNSUPPORTED, "clone: only `clone {"),
    ("1", 'clone { outport = "a"; next; }; outport = "g"; output;', A.UNSUPPORTED, "clone: only"),
    ("1", 'clone { outport = "a"; output; }; outport = "g"; output;', A.COMPILED, None),
    ("1", "eth.type = 0x800; next;", A.UNSUPPORTED, "eth.type is read-only"),
    ("1", "output; next;", A.UNSUPPORTED, "actions after 'output'"),
    ("1", "next(pipeline=egress, table=3);", A.UNSUPPORTED, "next() to a given table"),
    ("1", "pkt.mark = 1; next;", A.UNSUPPORTED, "pkt.mark: packet mark"),
    ("reg0 = 1", "next;", A.UNSUPPORTED, "parse error"),
    ("reg0", "next;", A.UNSUPPORTED, "match: reg0 is 32 bits wide"),
    ("1", 'outport = "x"; output;', A.UNSUPPORTED, None),
    ("1", "reg0 = 1; log(name=\"a\");", A.UNSUPPORTED, "log: ACL logging"),
    # the most severe part wins, and the reason is that part's
    ("ct_nw_dst == 10.0.0.1", "icmp4 { output; };", A.CONNTRACK, "ct_nw_dst"),
])
def test_classify(match, actions, category, reason):
    pipeline = "egress" if match == "1" and actions.startswith('outport = "x"') else "ingress"
    c = classify_flow(flow(match, actions, pipeline), env=ENV)
    assert c.category == category, c
    if reason:
        assert any(reason in r for r in c.reasons), c.reasons
    if category == A.COMPILED:
        assert c.reasons == ()


def test_capture_is_fully_classified(capture_flows):
    categories, reasons = summarize(capture_flows, env=ENV)
    print("\ncapture classification:", dict(categories))
    for (cat, reason), n in sorted(reasons.items()):
        print(f"  {cat:16} {n:3}  {reason}")
    assert sum(categories.values()) == len(capture_flows) == 278
    # northd's four clone flows (ARP/ND for router IPs) are lowered to synthetic groups
    # conntrack compiles (bpf/lib/ct.h); only the load-balancer hooks (ct_lb_mark) do not
    assert dict(categories) == {A.COMPILED: 242, A.PUNT: 32, A.CONNTRACK: 4}
    assert reasons == {**{k: n for k, n in reasons.items() if k[0] != A.CONNTRACK},
                       (A.CONNTRACK, "ct_lb_mark: load balancing / NAT (conntrack NAT is not "
                                     "implemented)"): 4}


def test_main_path_flows_are_compiled(capture_flows):
    """Every flow ovn-trace shows for vm1 -> vm5 (routed) must be compiled."""
    path = [("ls1", "ingress", 0, "1"), ("ls1", "ingress", 25, "eth.dst == 02:00:00:00:01:01"),
            ("ls1", "egress", 1, 'ip && outport == "ls1-lr1"'),
            ("lr1", "ingress", 0, 'eth.dst == 02:00:00:00:01:01 && inport == "lrp-ls1"'),
            ("lr1", "ingress", 13, "ip4.dst == 10.0.2.0/24"),
            ("lr1", "ingress", 17, 'outport == "lrp-ls2" && reg0 == 10.0.2.15'),
            ("lr1", "egress", 6, 'outport == "lrp-ls2"'),
            ("ls2", "ingress", 25, "eth.dst == 0a:00:00:00:02:05")]
    by_key = {(f.datapath, f.pipeline, f.table, f.match): f for f in capture_flows}
    for key in path:
        assert classify_flow(by_key[key], env=ENV).category == A.COMPILED, key


def test_cli_summary(capsys):
    from controller.lflow.classify import main
    from .conftest import DATA
    assert main([str(DATA / "lflows-two-chassis.txt")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("278 flows")
    assert "compiled         242" in out


def test_clone_lowering_names_a_synthetic_group():
    from controller.lflow.lower import lower_clone, parse_synthetic_group
    from controller.lflow.parser import parse_actions
    from controller.lflow.formatter import format_actions
    acts = lower_clone(parse_actions('reg0 = 1; clone {outport = "ls1-lr1"; output; }; '
                                     'outport = "_MC_flood_l2"; output;'))
    assert format_actions(acts) == 'reg0 = 1; outport = "clone:ls1-lr1+_MC_flood_l2"; output;'
    assert parse_synthetic_group("clone:ls1-lr1+_MC_flood_l2") == ("ls1-lr1", "_MC_flood_l2")
    assert parse_synthetic_group("lsp-vm1") is None
    other = parse_actions('clone { outport = "a"; output; }; drop;')
    assert lower_clone(other) == other
