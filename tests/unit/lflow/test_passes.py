import pytest

from controller.lflow.expr import And, Bool, Cmp, CompileError, Cond, Or, Term, UnsupportedError
from controller.lflow.parser import parse_match
from controller.lflow.passes import annotate, compile_match, evaluate_conditions, normalize, simplify

from .helpers import ENV

ETH_IP4 = Cmp("eth.type", "==", 0, 16, ((0x800, 0xffff),))
ETH_IP6 = Cmp("eth.type", "==", 0, 16, ((0x86dd, 0xffff),))
IP = Or((ETH_IP4, ETH_IP6))


def ann(text):
    return annotate(parse_match(text), env=ENV)


# ---- annotate: prerequisites, predicates, negation -------------------------------------

def test_annotate_adds_field_prerequisites():
    assert ann("ip4.dst == 10.0.0.1") == And((
        Cmp("ip4.dst", "==", 0, 32, ((0x0a000001, 0xffffffff),)), ETH_IP4))
    # tcp.dst => tcp => ip.proto == 6 => ip
    assert ann("tcp.dst == 80") == And((
        Cmp("tcp.dst", "==", 0, 16, ((80, 0xffff),)),
        And((Cmp("ip.proto", "==", 0, 8, ((6, 0xff),)), IP))))
    assert ann("arp.tpa == 10.0.0.1") == And((
        Cmp("arp.tpa", "==", 0, 32, ((0x0a000001, 0xffffffff),)),
        Cmp("eth.type", "==", 0, 16, ((0x806, 0xffff),))))


def test_annotate_expands_predicates():
    assert ann("ip4") == ETH_IP4
    assert ann("ip") == IP
    assert ann("eth.mcast") == Cmp("eth.dst", "==", 40, 1, ((1, 1),))


def test_negation_is_pushed_down_and_prerequisites_stay_positive():
    # !(tcp.dst == 80) is "TCP and not port 80", not "not TCP or not port 80"
    tree = ann("!(tcp.dst == 80)")
    assert tree.items[0] == Cmp("tcp.dst", "!=", 0, 16, ((80, 0xffff),))
    assert tree.items[1] == ann("tcp")
    assert ann("!ip4") == Cmp("eth.type", "!=", 0, 16, ((0x800, 0xffff),))
    assert ann("!(ip4 && reg0 == 1)") == Or((
        Cmp("eth.type", "!=", 0, 16, ((0x800, 0xffff),)),
        Cmp("reg0", "!=", 0, 32, ((1, 0xffffffff),))))
    # !ip.later_frag only matches IP packets (ip.frag has prerequisite ip)
    assert ann("!ip.later_frag") == And((Cmp("ip.frag", "!=", 1, 1, ((1, 1),)), IP))


def test_annotate_slices_subfields_and_aliases():
    assert ann("reg0[0..3] == 5") == Cmp("reg0", "==", 0, 4, ((5, 15),))
    assert ann("vlan.pcp[2]") == Cmp("vlan.tci", "==", 15, 1, ((1, 1),))
    assert ann("flags.loopback") == Cmp("flags", "==", 0, 1, ((1, 1),))
    # xreg0[0..31] is reg1; udp.dst shares tcp.dst's storage
    assert ann("xreg0[0..31] == 7") == Cmp("reg1", "==", 0, 32, ((7, 0xffffffff),))
    assert ann("udp.dst == 53").items[0] == Cmp("tcp.dst", "==", 0, 16, ((53, 0xffff),))


def test_annotate_sets_and_groups():
    assert ann("eth.dst == $svc_monitor_mac") == Cmp("eth.dst", "==", 0, 48, ((0x421b8d7e4f10, 0xffffffffffff),))
    assert ann("inport == @pg1") == Cmp("inport", "==", 0, 0, (("lsp-vm1", None), ("lsp-vm2", None)))
    assert ann('is_chassis_resident("p")') == Cond("is_chassis_resident", "p", True)
    assert ann('!is_chassis_resident("p")') == Cond("is_chassis_resident", "p", False)


@pytest.mark.parametrize("text, error", [
    ("reg0", "reg0 is 32 bits wide"),
    ("reg0[32] == 1", "outside its 32 bits"),
    ("ip.proto < 6", "not allowed on nominal field"),
    ('inport[0] == 1', "nominal field"),
    ("tcp.dst == 70000", "does not fit in 16-bit"),
    ("eth.type == 0x801/0xf00", "bits outside its mask"),
    ('reg0 == "x"', "integer field"),
    ("inport == 1", "string field"),
    ("eth.dst == $nosuch", "unknown address set"),
    ("nosuch == 1", "unknown field"),
    ("tcp.dst < {1, 2}", "single unmasked constant"),
    ("ip4[1]", "predicate"),
])
def test_annotate_errors(text, error):
    with pytest.raises(CompileError, match=error):
        ann(text)


def test_unsupported_fields_say_why():
    with pytest.raises(UnsupportedError) as e:
        ann("ct_tp_dst == 80 && ip4")
    assert e.value.reason == "needs conntrack"


# ---- simplify ---------------------------------------------------------------------------

def test_simplify_sets_and_inequality():
    assert simplify(Cmp("ip.ttl", "==", 0, 8, ((0, 0xff), (1, 0xff)))) == Or((
        Term("ip.ttl", 0, 0xff), Term("ip.ttl", 1, 0xff)))
    # f != 5 on 3 bits: some bit differs
    assert simplify(Cmp("reg0", "!=", 4, 3, ((5, 7),))) == Or((
        Term("reg0", 0, 1 << 4), Term("reg0", 1 << 5, 1 << 5), Term("reg0", 0, 1 << 6)))
    # != a set: differs from each
    assert simplify(Cmp("reg0", "!=", 0, 1, ((0, 1), (1, 1)))) == And((
        Term("reg0", 1, 1), Term("reg0", 0, 1)))


def test_simplify_relations_become_prefixes():
    assert simplify(Cmp("tcp.src", "<", 0, 16, ((1024, 0xffff),))) == Term("tcp.src", 0, 0xfc00)
    assert simplify(Cmp("reg0", ">=", 0, 4, ((12, 15),))) == Term("reg0", 12, 12)
    assert simplify(Cmp("reg0", ">", 0, 4, ((4, 15),))) == Or((
        Term("reg0", 5, 15), Term("reg0", 6, 14), Term("reg0", 8, 8)))
    assert simplify(Cmp("reg0", "<", 0, 4, ((0, 15),))) == Bool(False)


def test_simplify_folds_constants():
    t = Term("reg0", 1, 1)
    assert simplify(And((Bool(True), t))) == t
    assert simplify(And((Bool(False), t))) == Bool(False)
    assert simplify(Or((Bool(True), t))) == Bool(True)
    assert simplify(Or((t, Or((t, Bool(False)))))) == t
    assert simplify(And(())) == Bool(True)


def test_simplify_rejects_string_inequality():
    with pytest.raises(CompileError, match="string fields only support =="):
        simplify(ann('inport != "a"'))


# ---- evaluate_conditions ---------------------------------------------------------------------

def test_evaluate_conditions():
    ir = simplify(ann('is_chassis_resident("cr-lrp") && reg0 == 1'))
    assert evaluate_conditions(ir, lambda p: p == "cr-lrp") == Term("reg0", 1, 0xffffffff)
    assert evaluate_conditions(ir, lambda p: False) == Bool(False)
    neg = simplify(ann('!is_chassis_resident("cr-lrp")'))
    assert evaluate_conditions(neg, lambda p: False) == Bool(True)


def test_normalize_requires_conditions_evaluated():
    with pytest.raises(CompileError, match="evaluate_conditions"):
        normalize(simplify(ann('is_chassis_resident("x")')))


# ---- normalize: golden table text -> terms ----------------------------------------------------

def terms(text, **kw):
    return [[(f, v if isinstance(v, str) else hex(v), m if m is None else hex(m)) for f, v, m in c]
            for c in compile_match(text, env=ENV, **kw).conjs]


NORMALIZE_GOLDEN = [
    ("1", [[]]),
    ("0", []),
    ("ip4 && ip6", []),
    ("eth.mcast", [[("eth.dst", "0x10000000000", "0x10000000000")]]),
    ("eth.dst == 0a:00:00:00:01:01", [[("eth.dst", "0xa0000000101", "0xffffffffffff")]]),
    ('inport == "lrp-ls1" && eth.dst == 02:00:00:00:01:01',
     [[("eth.dst", "0x20000000101", "0xffffffffffff"), ("inport", "lrp-ls1", None)]]),
    ("ip4.dst == 10.0.1.0/24", [[("eth.type", "0x800", "0xffff"), ("ip4.dst", "0xa000100", "0xffffff00")]]),
    ("reg0[15] == 1 && reg0[13] == 0", [[("reg0", "0x8000", "0xa000")]]),
    ("reg0[1] == 1 && reg0[1] == 0", []),
    ("ip", [[("eth.type", "0x800", "0xffff")], [("eth.type", "0x86dd", "0xffff")]]),
    ("ip4 || ip", [[("eth.type", "0x800", "0xffff")], [("eth.type", "0x86dd", "0xffff")]]),
    ("arp.op == 1 || rarp.op == 3",
     [[("arp.op", "0x1", "0xffff"), ("eth.type", "0x806", "0xffff")],
      [("arp.op", "0x3", "0xffff"), ("eth.type", "0x8035", "0xffff")]]),
    ("ip4 && !ip.later_frag", [[("eth.type", "0x800", "0xffff"), ("ip.frag", "0x0", "0x2")]]),
    ("tcp.dst == 80", [[("eth.type", "0x800", "0xffff"), ("ip.proto", "0x6", "0xff"), ("tcp.dst", "0x50", "0xffff")],
                       [("eth.type", "0x86dd", "0xffff"), ("ip.proto", "0x6", "0xff"), ("tcp.dst", "0x50", "0xffff")]]),
    ('is_chassis_resident("p") && reg0 == 1', []),
    ("eth.dst != 00:00:00:00:00:00/01:00:00:00:00:00", [[("eth.dst", "0x10000000000", "0x10000000000")]]),
]


@pytest.mark.parametrize("text, expected", NORMALIZE_GOLDEN)
def test_normalize_golden(text, expected):
    assert terms(text) == expected


def test_normalize_is_deterministic_and_order_independent():
    a = compile_match("(reg0 == 1 || reg0 == 2) && (ip4 || ip6)")
    b = compile_match("(ip6 || ip4) && (reg0 == 2 || reg0 == 1)")
    assert a == b and len(a.conjs) == 4


def test_normalize_caps_explosion():
    text = " && ".join(f"xxreg{i} != 0" for i in range(3))  # 128^3 conjunctions
    with pytest.raises(CompileError, match="more than"):
        compile_match(text)


def test_chassis_resident_flows_through_compile_match():
    assert terms('is_chassis_resident("p") && reg0 == 1', is_chassis_resident=lambda p: True) == \
        [[("reg0", "0x1", "0xffffffff")]]
