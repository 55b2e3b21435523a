import pytest

from controller.lflow import actions as A
from controller.lflow.ast import And, BoolLit, MatchCall, Compare, Const, FieldRef, Not, Or, StrConst, Symbol
from controller.lflow.formatter import format_actions, format_match
from controller.lflow.parser import ParseError, parse_actions, parse_match

# Golden table: match text -> canonical formatted text.
MATCH_GOLDEN = [
    ("1", "1"),
    ("0", "0"),
    ("ip4", "ip4"),
    ("eth.src[40]", "eth.src[40]"),
    ("reg0[0..3] == 5", "reg0[0..3] == 5"),
    ("ip4.dst==10.0.1.0/24", "ip4.dst == 10.0.1.0/24"),
    ("eth.type == 0x0800", "eth.type == 0x800"),
    ("80 == tcp.src", "tcp.src == 80"),
    ("1024 <= tcp.src <= 49151", "tcp.src >= 1024 && tcp.src <= 49151"),
    ("ip4.src == {10.0.1.1, 10.0.1.255}", "ip4.src == {10.0.1.1, 10.0.1.255}"),
    ("ip.ttl == {0 1}", "ip.ttl == {0, 1}"),
    ("ip4.dst == {10.0.1.1}", "ip4.dst == {10.0.1.1}"),
    ("!(arp.op == 1)", "!(arp.op == 1)"),
    ("!ip.later_frag", "!ip.later_frag"),
    ("(a || b) && c", "(a || b) && c"),
    ("(a && b) && c", "a && b && c"),
    ("!(a && b)", "!(a && b)"),
    ('inport == "lrp-ls1"', 'inport == "lrp-ls1"'),
    ("eth.dst == $svc_monitor_mac", "eth.dst == $svc_monitor_mac"),
    ("inport == @pg1", "inport == @pg1"),
    ('is_chassis_resident("cr-lrp")', 'is_chassis_resident("cr-lrp")'),
    ("ip6.dst == fe80:0::ff:fe00:101", "ip6.dst == fe80::ff:fe00:101"),
    ("eth.dst == 00:00:00:00:00:00/01:00:00:00:00:00", "eth.dst == 00:00:00:00:00:00/01:00:00:00:00:00"),
    ("ip4.src_mcast ||ip4.src == 255.255.255.255", "ip4.src_mcast || ip4.src == 255.255.255.255"),
]


@pytest.mark.parametrize("text, expected", MATCH_GOLDEN)
def test_match_golden(text, expected):
    tree = parse_match(text)
    assert format_match(tree) == expected
    assert parse_match(expected) == tree


def test_match_trees():
    assert parse_match("ip4 && tcp.dst == 80") == And((
        Symbol(FieldRef("ip4")), Compare(FieldRef("tcp.dst"), "==", (Const(80),))))
    assert parse_match("ip4.dst == 10.0.1.0/24") == Compare(
        FieldRef("ip4.dst"), "==", (Const(0x0a000100, "ipv4", 0xffffff00, "cidr"),))
    assert parse_match("!reg0[15] || 0") == Or((Not(Symbol(FieldRef("reg0", 15, 15))), BoolLit(False)))
    assert parse_match('is_chassis_resident("p1")') == MatchCall("is_chassis_resident", (StrConst("p1"),))


# Golden table: actions text -> canonical formatted text (and action classes).
ACTION_GOLDEN = [
    ("next;", "next;", [A.Next]),
    ("next(3);", "next(3);", [A.Next]),
    ("next(pipeline=egress, table=2);", "next(pipeline=egress, table=2);", [A.Next]),
    ("output;", "output;", [A.Output]),
    ("drop;", "drop;", [A.Drop]),
    ("", "", []),
    ('outport = "lsp-vm1"; output;', 'outport = "lsp-vm1"; output;', [A.Assign, A.Output]),
    ("xreg0[0..47] = 02:00:00:00:01:01; next;", "xreg0[0..47] = 02:00:00:00:01:01; next;",
     [A.Assign, A.Next]),
    ("arp.tpa <-> arp.spa;", "arp.tpa <-> arp.spa;", [A.Exchange]),
    ("ip.ttl--;", "ip.ttl--;", [A.DecTtl]),
    ("reg0[15] = check_in_port_sec(); next;", "reg0[15] = check_in_port_sec(); next;",
     [A.RESULT_ACTIONS["check_in_port_sec"], A.Next]),
    ("reg9[2] = lookup_arp(inport, arp.spa, arp.sha);", "reg9[2] = lookup_arp(inport, arp.spa, arp.sha);",
     [A.RESULT_ACTIONS["lookup_arp"]]),
    ("put_arp(inport, arp.spa, arp.sha);", "put_arp(inport, arp.spa, arp.sha);", [A.ACTIONS["put_arp"]]),
    ("arp { eth.dst = ff:ff:ff:ff:ff:ff; output; };", "arp { eth.dst = ff:ff:ff:ff:ff:ff; output; };",
     [A.ACTIONS["arp"]]),
    ("clone {outport = \"p\"; output; }; drop;", 'clone { outport = "p"; output; }; drop;',
     [A.ACTIONS["clone"], A.Drop]),
    ("ct_commit { };", "ct_commit { };", [A.ACTIONS["ct_commit"]]),
    ("ct_lb_mark;", "ct_lb_mark;", [A.ACTIONS["ct_lb_mark"]]),
    ("ct_lb_mark(backends=10.0.0.2:80,10.0.0.3:80; hash_fields=\"ip_src\");",
     "ct_lb_mark(backends=10.0.0.2:80,10.0.0.3:80; hash_fields=\"ip_src\");", [A.ACTIONS["ct_lb_mark"]]),
    ("arp.op = 2; /* ARP reply */ arp.tha = arp.sha;", "arp.op = 2; arp.tha = arp.sha;", [A.Assign, A.Assign]),
    ("handle_dhcpv6_reply;", "handle_dhcpv6_reply;", [A.ACTIONS["handle_dhcpv6_reply"]]),
    ("outport = get_fdb(eth.dst); next;", "outport = get_fdb(eth.dst); next;",
     [A.RESULT_ACTIONS["get_fdb"], A.Next]),
    ("ip4.src = 10.0.1.1 ;", "ip4.src = 10.0.1.1;", [A.Assign]),
]


@pytest.mark.parametrize("text, expected, classes", ACTION_GOLDEN)
def test_action_golden(text, expected, classes):
    acts = parse_actions(text)
    assert [type(a) for a in acts] == classes
    assert format_actions(acts) == expected
    assert parse_actions(expected) == acts


def test_action_fields():
    [assign, _] = parse_actions("xreg0[0..47] = 02:00:00:00:01:01; next;")
    assert assign.dst == FieldRef("xreg0", 0, 47)
    assert assign.src == Const(0x020000000101, "mac")
    [nxt] = parse_actions("next(pipeline=egress, table=2);")
    assert (nxt.pipeline, nxt.table) == ("egress", 2)
    [blk] = parse_actions("icmp4 { ip.ttl = 255; next; };")
    assert [type(a) for a in blk.actions] == [A.Assign, A.Next]


def test_every_capture_flow_parses_and_round_trips(capture_flows):
    assert len(capture_flows) == 278
    for flow in capture_flows:
        match = parse_match(flow.match, flow.uuid8)
        acts = parse_actions(flow.actions, flow.uuid8)
        assert parse_match(format_match(match)) == match
        assert parse_actions(format_actions(acts)) == acts
        # formatting is canonical: a second round gives the same text
        assert format_match(parse_match(format_match(match))) == format_match(match)


@pytest.mark.parametrize("text, col, reason", [
    ("ip4 &&", 7, "expected a match expression, found end of input"),
    ("a && b || c", 8, "&& and || require parentheses"),
    ("!arp.op == 1", 1, "'!' applied to a relation requires parentheses"),
    ("tcp.src == ", 12, "expected a constant or a set"),
    ("reg0[3..1]", 10, "bit range 3..1 is reversed"),
    ("ip4.dst == {}", 12, "empty set"),
    ("(ip4", 5, "expected ')'"),
    ("foo(1)", 1, "unknown function 'foo'"),
    ("ip4 ip6", 5, "expected end of input"),
])
def test_match_errors(text, col, reason):
    with pytest.raises(ParseError) as e:
        parse_match(text, "1fd35d02")
    assert e.value.col == col
    assert reason in str(e.value)
    assert str(e.value).startswith("lflow 1fd35d02: ")
    assert repr(text) in str(e.value)


@pytest.mark.parametrize("text, col, reason", [
    ("next", 5, "expected ';'"),
    ("frobnicate;", 1, "unknown action 'frobnicate'"),
    ("reg0 = nosuch();", 8, "unknown function 'nosuch'"),
    ("arp { output; ", 15, "expected '}' to close"),
    ("reg0--;", 1, "only ip.ttl can be decremented"),
    ("next(pipeline=sideways);", 6, "pipeline must be ingress or egress"),
    ("put_arp;", 8, "expected '(' after put_arp"),
])
def test_action_errors(text, col, reason):
    with pytest.raises(ParseError) as e:
        parse_actions(text, "abcd1234")
    assert e.value.col == col, str(e.value)
    assert reason in str(e.value)
    assert "lflow abcd1234" in str(e.value)


def test_lex_error_becomes_parse_error_with_uuid():
    with pytest.raises(ParseError) as e:
        parse_match('inport == "x', "u1")
    assert e.value.col == 11 and e.value.uuid == "u1"
