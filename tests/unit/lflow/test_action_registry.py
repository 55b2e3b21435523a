"""The action registry (controller/lflow/actions/) is complete and its parts agree.

Complete: every action name northd can emit (the ovn-sb(5) list below, and whatever the
installed ovn-northd writes for rich topologies) is a registered class with every part its
category needs, or an explicit "unsupported"/"needs-conntrack" declaration with a reason.
Agree: what a class declares is what the compiler, the evaluator, classify and the punt
handler do with it (every compiled action lowers to C and evaluates; every handled punt
action has its builder or copy kind; the category is the flow's classification)."""
import re

import pytest

from controller.lflow import actions as A
from controller.lflow.classify import classify_flow
from controller.lflow.emit_c import _Entry, _Lowering, _Writer
from datapath.bpfsrc import lib_header
from controller.lflow.evaluator import new_packet, run_actions
from controller.lflow.flows import LogicalFlow
from controller.lflow.parser import parse_actions
from controller.lflow.symbols import default_symtab
from controller.punt import packets as P
from controller.punt.event import COPY_KINDS
from controller.punt.handler import HANDLED, PuntHandler


# The actions of the Logical_Flow table's `actions` column, as listed by ovn-sb(5) of the
# installed OVN (23.03.1: `man ovn-sb`, section "Logical_Flow TABLE", column "actions",
# "The following actions are defined"). The syntax forms are named by their man-page
# heading; `drop;` is described in the column's introduction.
OVN_SB_ACTIONS = (
    "output", "next", "field = constant", "ovn_field = constant", "field1 = field2",
    "field1 <-> field2", "push", "pop", "ip.ttl--", "ct_next", "ct_commit", "ct_dnat",
    "ct_snat", "ct_dnat_in_czone", "ct_snat_in_czone", "ct_clear", "ct_commit_nat", "clone",
    "arp", "get_arp", "put_arp", "lookup_arp", "lookup_arp_ip", "get_fdb", "put_fdb",
    "lookup_fdb", "nd_ns", "nd_na", "nd_na_router", "get_nd", "put_nd", "lookup_nd",
    "lookup_nd_ip", "put_dhcp_opts", "put_dhcpv6_opts", "set_queue", "ct_lb", "ct_lb_mark",
    "dns_lookup", "put_nd_ra_opts", "set_meter", "check_pkt_larger", "log", "fwd_group",
    "icmp4", "icmp4_error", "icmp6", "icmp6_error", "tcp_reset", "reject", "trigger_event",
    "igmp", "bind_vport", "handle_svc_check", "handle_dhcpv6_reply", "select",
    "chk_lb_hairpin", "chk_lb_hairpin_reply", "ct_snat_to_vip", "check_in_port_sec",
    "check_out_port_sec", "commit_ecmp_nh", "check_ecmp_nh_mac", "check_ecmp_nh",
    "chk_lb_aff", "sample", "drop",
)
SYNTAX = {"field = constant": A.Assign, "ovn_field = constant": A.Assign,
          "field1 = field2": A.Assign, "field1 <-> field2": A.Exchange, "ip.ttl--": A.DecTtl}

# One written example per registered action (used to check that parse, format, the
# classification, the C and the evaluator agree with what the class declares).
EXAMPLES = {
    "output": "output;", "next": "next;", "drop": "drop;",
    "Assign": "reg0 = ip4.dst;", "Exchange": "arp.tpa <-> arp.spa;", "DecTtl": "ip.ttl--;",
    "ct_clear": "ct_clear;", "ct_next": "ct_next;", "ct_lb": "ct_lb;", "ct_lb_mark":
    'ct_lb_mark(backends=10.0.0.2:80,10.0.0.3:80; hash_fields="ip_src");',
    "ct_dnat": "ct_dnat(10.0.0.1);", "ct_snat": "ct_snat;", "ct_dnat_in_czone": "ct_dnat_in_czone;",
    "ct_snat_in_czone": "ct_snat_in_czone(10.0.0.1);", "ct_commit_nat": "ct_commit_nat;",
    "ct_snat_to_vip": "ct_snat_to_vip;", "ct_commit_to_zone": "ct_commit_to_zone(dnat);",
    "ct_mark_ecmp_reply_port": "ct_mark_ecmp_reply_port;", "commit_ecmp_nh": "commit_ecmp_nh(ipv6);",
    "commit_lb_aff": 'commit_lb_aff(vip = "10.0.0.10:80", backend = "10.0.0.2:80", proto = tcp, timeout = 30);',
    "ct_commit": "ct_commit { ct_mark.blocked = 0; };",
    "get_arp": "get_arp(outport, reg0);", "get_nd": "get_nd(outport, xxreg0);",
    "put_arp": "put_arp(inport, arp.spa, arp.sha);", "put_nd": "put_nd(inport, nd.target, nd.tll);",
    "put_fdb": "put_fdb(inport, eth.src);",
    "arp": "arp { eth.dst = ff:ff:ff:ff:ff:ff; output; };", "nd_ns": "nd_ns { output; };",
    "nd_na": "nd_na { output; };", "nd_na_router": "nd_na_router { output; };",
    "icmp4": "icmp4 { icmp4.type = 3; output; };", "icmp4_error": "icmp4_error { output; };",
    "icmp6": "icmp6 { output; };", "icmp6_error": "icmp6_error { output; };",
    "tcp_reset": "tcp_reset { output; };", "sctp_abort": "sctp_abort { output; };",
    "reject": "reject { output; };", "handle_dhcpv6_reply": "handle_dhcpv6_reply;",
    "handle_svc_check": "handle_svc_check(inport);", "trigger_event":
    'trigger_event(event = "empty_lb_backends", vip = "10.0.0.10:80", protocol = "tcp", load_balancer = "x");',
    "igmp": "igmp;", "mld": "mld;", "bind_vport": 'bind_vport("vip", inport);',
    "set_queue": "set_queue(10);", "set_meter": "set_meter(100);", "log": 'log(name="a", verdict=drop);',
    "fwd_group": 'fwd_group(liveness="true", childports="p1", "p2");', "sample": "sample(probability=10);",
    "mac_cache_use": "mac_cache_use;", "push": "push(reg0);", "pop": "pop(reg0);",
    "clone": 'clone { outport = "a"; output; };',
    "check_in_port_sec": "reg0[15] = check_in_port_sec();",
    "check_out_port_sec": "reg0[15] = check_out_port_sec();",
    "lookup_arp": "reg9[2] = lookup_arp(inport, arp.spa, arp.sha);",
    "lookup_nd": "reg9[2] = lookup_nd(inport, nd.target, nd.tll);",
    "lookup_arp_ip": "reg9[2] = lookup_arp_ip(inport, arp.spa);",
    "lookup_nd_ip": "reg9[2] = lookup_nd_ip(inport, ip6.src);",
    "get_fdb": "outport = get_fdb(eth.dst);", "lookup_fdb": "reg0[11] = lookup_fdb(inport, eth.src);",
    "put_dhcp_opts": "reg0[3] = put_dhcp_opts(offerip = 10.0.0.1, router = 10.0.0.254);",
    "put_dhcpv6_opts": "reg0[3] = put_dhcpv6_opts(ia_addr = fd00::1);",
    "put_nd_ra_opts": 'reg0[5] = put_nd_ra_opts(addr_mode = "slaac", mtu = 1450);',
    "dns_lookup": "reg0[4] = dns_lookup();", "chk_lb_hairpin": "reg0[6] = chk_lb_hairpin();",
    "chk_lb_hairpin_reply": "reg0[6] = chk_lb_hairpin_reply();", "chk_lb_aff": "reg9[6] = chk_lb_aff();",
    "ct_snat_to_vip()": "reg0 = ct_snat_to_vip();",
    "check_pkt_larger": "reg9[1] = check_pkt_larger(1514);", "select": "reg8[0..15] = select(1, 2);",
    "check_ecmp_nh_mac": "reg9[5] = check_ecmp_nh_mac();", "check_ecmp_nh": "reg9[5] = check_ecmp_nh();",
}


def _example_key(cls) -> str:
    if cls in A.SYNTAX_ACTIONS:
        return cls.__name__
    if cls.syntax == "result" and cls.keyword in A.ACTIONS:   # ct_snat_to_vip both ways
        return f"{cls.keyword}()"
    return cls.keyword


def _registered(name: str):
    if name in SYNTAX:
        return [SYNTAX[name]]
    return [t[name] for t in (A.ACTIONS, A.RESULT_ACTIONS) if name in t]


def _overrides(cls, method: str) -> bool:
    return getattr(cls, method) is not getattr(A.Action, method)


def missing_parts(cls) -> list[str]:
    """What the class lacks for its category (empty: complete)."""
    missing = []
    if not (hasattr(cls, "parse") or hasattr(cls, "parse_after_assign") or cls in A.SYNTAX_ACTIONS):
        missing.append("parse")
    if not _overrides(cls, "format"):
        missing.append("format")
    if cls.category not in A.CATEGORIES:
        missing.append(f"category ({cls.category!r})")
    if cls.category != A.COMPILED and not cls.reason:
        missing.append(f"a reason for {cls.category}")
    if cls.category == A.COMPILED:
        missing += [m for m in ("lower_c", "evaluate") if not _overrides(cls, m)]
    if cls.category == A.PUNT:
        if not isinstance(cls.punt, A.PuntHandling):
            missing.append("punt handling")
        elif not cls.punt.handled and not cls.punt.reason:
            missing.append("a reason the punt handler does not carry it out")
    elif cls.punt is not None:
        missing.append(f"punt handling on a {cls.category} action")
    return missing


def test_every_ovn_sb_action_is_registered_with_its_parts():
    problems = {}
    for name in OVN_SB_ACTIONS:
        classes = _registered(name)
        if not classes:
            problems[name] = ["not registered"]
        for cls in classes:
            if missing_parts(cls):
                problems[name] = missing_parts(cls)
    assert problems == {}


def test_every_registered_action_is_complete_and_has_an_example():
    assert {cls.__name__: missing_parts(cls) for cls in A.all_actions() if missing_parts(cls)} == {}
    assert sorted(_example_key(c) for c in A.all_actions()) == sorted(EXAMPLES)


def test_missing_parts_notices_a_class_without_them():
    class Frobnicate(A.Keyword):    # not registered: no `keyword` of its own would be bad too
        category = A.PUNT
    class Lowered(A.Keyword):
        pass
    assert missing_parts(Frobnicate) == ["a reason for needs-punt", "punt handling"]
    assert missing_parts(Lowered) == ["lower_c", "evaluate"]


def _one(text):
    acts = parse_actions(text)
    assert len(acts) == 1, text
    return acts[0]


@pytest.mark.parametrize("cls", A.all_actions(), ids=lambda c: c.__name__)
def test_parts_agree(cls):
    text = EXAMPLES[_example_key(cls)]
    act = _one(text)
    assert type(act) is cls
    assert act.format() == text
    flow = LogicalFlow("ls1", "ingress", 0, "ls_in_x", 10, "1", text, "0" * 32)
    if cls is A.ACTIONS["clone"]:   # a clone that is not northd's clone-then-flood
        expected = A.UNSUPPORTED
    else:
        expected = cls.category
    assert classify_flow(flow).category == expected
    symtab = default_symtab()
    lowering = _Lowering(_Writer(), _Entry("v->cookie", [], None), symtab)
    pkt = new_packet(ip_ttl=5, ip_proto=6)
    if cls.category == A.COMPILED:
        act.lower_c(lowering)          # raises NotLowered if it has no C
        assert lowering.w.lines
        run_actions([act], pkt, lambda name: 1, symtab)
    elif cls.category == A.PUNT and cls.consumes_packet:
        with pytest.raises(A.NotLowered):   # consumed: the plan makes it a <controller> punt
            act.lower_c(lowering)
        assert run_actions([act], pkt, lambda name: 1, symtab) == ("punt", cls.keyword)
    elif cls.category != A.PUNT:
        with pytest.raises(A.NotLowered):   # fails closed: NOT_COMPILED
            act.lower_c(lowering)


def test_punt_handling_agrees_with_the_handler_and_the_datapath():
    classes = [c for c in A.all_actions() if c.category == A.PUNT]
    generate = {c.keyword for c in classes if c.punt.kind == "generate"}
    learn = {c.keyword for c in classes if c.punt.kind == "learn"}
    ignored = {c.keyword for c in classes if c.punt.kind == "ignore"}
    assert generate == set(P.BUILDERS)            # a builder per generating action
    # pause and resume: a consuming punt whose answer is the handler's method _<keyword>
    pause = {c.keyword for c in classes if c.punt.kind == "pause"}
    assert all(A.ACTIONS[k].consumes_packet for k in generate | ignored)
    assert all(A.RESULT_ACTIONS[k].consumes_packet and A.RESULT_ACTIONS[k].pauses for k in pause)
    assert all(callable(getattr(PuntHandler, f"_{k}", None)) for k in pause)
    assert pause == {"put_dhcp_opts", "put_dhcpv6_opts", "dns_lookup"}
    assert HANDLED == generate | learn | ignored | pause
    # copies: the class's OVNBPF_COPY_* is the number punt/event.py decodes to its keyword
    copies = [c for c in classes if hasattr(c, "copy_kind")]
    assert learn <= {c.keyword for c in copies}
    header = lib_header("flow.h").read_text()    # the copy kinds are defined there only
    for c in copies:
        number = int(re.search(rf"#define {c.copy_kind}\s+(\d+)", header).group(1))
        assert COPY_KINDS[number] == c.keyword


def _action_names(acts):
    for act in A.walk_actions(acts):
        if type(act) in A.SYNTAX_ACTIONS:
            yield type(act).__name__, type(act)
        else:
            yield act.keyword, type(act)


def _check_northd_output(actions_texts):
    """Every action in northd's output parses to a registered, complete class."""
    seen = {}
    for text in actions_texts:
        for name, cls in _action_names(parse_actions(text)):
            seen[name] = cls
    assert {n: missing_parts(c) for n, c in seen.items() if missing_parts(c)} == {}
    return seen


def test_actions_in_a_northd_capture(capture_flows):
    seen = _check_northd_output(f.actions for f in capture_flows)
    assert {"next", "output", "put_arp", "arp", "ct_next", "check_in_port_sec"} <= set(seen)


def _rich_topology(c):
    """Switches, routers, a gateway, NAT, LB, ACLs (related, reject, log), DHCP, DNS, IPv6
    RA, multicast snooping, a virtual port and a localnet: most of northd's actions."""
    n = c.nbctl
    n("ls-add", "ls1", "--", "set", "Logical_Switch", "ls1", "other_config:mcast_snoop=true",
      "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:00:01 10.0.0.1 fd00::1",
      "--", "lsp-set-port-security", "p1", "0a:00:00:00:00:01 10.0.0.1",
      "--", "lsp-add", "ls1", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:00:02 10.0.0.2",
      "--", "lsp-add", "ls1", "vip", "--", "lsp-set-type", "vip", "virtual",
      "--", "lsp-set-options", "vip", "virtual-ip=10.0.0.50", "virtual-parents=p1,p2",
      "--", "ls-add", "ls2", "--", "lsp-add", "ls2", "p3", "--", "lsp-set-addresses", "p3", "unknown",
      "--", "lsp-add", "ls2", "ln", "--", "lsp-set-type", "ln", "localnet",
      "--", "lsp-set-addresses", "ln", "unknown", "--", "lsp-set-options", "ln", "network_name=phys",
      "--", "lr-add", "lr1",
      "--", "lrp-add", "lr1", "lrp1", "02:00:00:00:00:01", "10.0.0.254/24", "fd00::fe/64",
      "--", "set", "Logical_Router_Port", "lrp1", "ipv6_ra_configs:address_mode=slaac",
      "ipv6_ra_configs:send_periodic=true",
      "--", "lrp-add", "lr1", "lrp2", "02:00:00:00:00:02", "10.0.1.254/24",
      "--", "lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router",
      "--", "lsp-set-addresses", "ls1-lr1", "router", "--", "lsp-set-options", "ls1-lr1", "router-port=lrp1",
      "--", "lsp-add", "ls2", "ls2-lr1", "--", "lsp-set-type", "ls2-lr1", "router",
      "--", "lsp-set-addresses", "ls2-lr1", "router", "--", "lsp-set-options", "ls2-lr1", "router-port=lrp2")
    n("lrp-set-gateway-chassis", "lrp2", "hv1", "10")
    n("lr-nat-add", "lr1", "snat", "10.0.1.100", "10.0.0.0/24")
    n("lr-nat-add", "lr1", "dnat_and_snat", "10.0.1.101", "10.0.0.1")
    n("lr-route-add", "lr1", "0.0.0.0/0", "10.0.1.1")
    n("lb-add", "lb1", "10.0.0.100:80", "10.0.0.1:80,10.0.0.2:80", "tcp")
    n("ls-lb-add", "ls1", "lb1")
    n("lr-lb-add", "lr1", "lb1")
    n("pg-add", "pg1", "p1", "p2")
    n("acl-add", "pg1", "to-lport", "1002", "outport == @pg1 && ip4 && tcp.dst == 22", "allow-related")
    n("acl-add", "ls1", "from-lport", "1001", "ip4.src == 10.0.0.2 && udp", "reject")
    n("--log", "--name=a1", "acl-add", "ls1", "to-lport", "1000", "ip4.dst == 10.0.0.9", "drop")
    n("dhcp-options-create", "10.0.0.0/24")
    dhcp = n("--bare", "--columns=_uuid", "find", "DHCP_Options", 'cidr="10.0.0.0/24"').strip()
    n("dhcp-options-set-options", dhcp, "lease_time=3600", "router=10.0.0.254",
      "server_id=10.0.0.254", "server_mac=02:00:00:00:00:01")
    n("lsp-set-dhcpv4-options", "p1", dhcp)
    n("--id=@dns", "create", "DNS", "records={vm1.example=10.0.0.1}",
      "--", "add", "Logical_Switch", "ls1", "dns_records", "@dns")
    n("--wait=sb", "sync")


@pytest.mark.root        # ovsdb-server + ovn-northd processes
def test_actions_in_the_installed_northds_output(ovn_central):
    _rich_topology(ovn_central)
    out = ovn_central.sbctl("--bare", "--columns=actions", "list", "Logical_Flow")
    texts = [line for line in out.splitlines() if line.strip()]
    assert len(texts) > 200
    seen = _check_northd_output(texts)
    # the topology reaches the families: a conntrack, a punt, a lookup, an unsupported one
    assert {"ct_lb_mark", "put_dhcp_opts", "dns_lookup", "put_nd_ra_opts", "icmp4",
            "lookup_arp", "log", "reject", "bind_vport"} <= set(seen), sorted(seen)


def test_bare_ct_commit_is_compiled_not_a_parse_error():
    # northd 23.03 writes `ct_commit; next;` for stateful ACLs (found by the test above);
    # it was a parse error ("expected '{' after ct_commit"); conntrack compiles (ct.h)
    flow = LogicalFlow("ls1", "egress", 4, "ls_out_acl", 1001, "ip", "ct_commit; next;", "1" * 32)
    assert classify_flow(flow).category == A.COMPILED
    assert _one("ct_commit;").format() == "ct_commit;"
