"""A bad logical flow costs that flow only, and never opens the datapath: whatever makes
one flow fail (its match, its actions, the planner), it becomes a counted drop at its own
table and priority, named by its UUID and reason, and every other flow is planned as
before (issue 13 "a bad row costs that row only", issue 16's fail-open port groups)."""
import pytest

from controller import compile as C
from controller.lflow import plan as P
from controller.lflow.flows import LogicalFlow, read_lflow_list
from controller.lflow.parser import ParseError, parse_actions, parse_match
from controller.lflow.passes import Env, compile_match
from controller.lflow.plan import NotCompiled, build_plan, lookup
from controller.lflow.evaluator import new_packet

from .conftest import DATA
from .helpers import ENV, SYMTAB, port_key

CAPTURE = read_lflow_list((DATA / "lflows-two-chassis.txt").read_text())
L2 = next(f for f in CAPTURE if f.datapath == "ls1" and f.stage == "ls_in_l2_lkup")
DEEP = "(" * 1000 + "ip4" + ")" * 1000

# reason -> (match, actions): each fails in its own way
BAD = {
    "parse error": ("ip4.src == ", "next;"),
    "unknown field": ("foo.bar == 1", "next;"),
    "unknown port group": ("inport == @nope", "next;"),
    "unknown address set": ("ip4.src == $nope", "next;"),
    "unknown action": ("ip4", "frobnicate;"),
    "unsupported action": ("ip4", "next(pipeline=egress, table=3);"),
    "constant too wide": ("ip4", "reg0[0..3] = 99; next;"),
    "conntrack match": ("ct_nw_src == 10.0.0.1 && ip4", "next;"),
    "conntrack action": ("ip4", "ct_lb_mark;"),
    "recursion depth": (DEEP, "next;"),
    "deep actions": ("ip4", "clone { " * 1000 + "next;" + " }" * 1000),
    "planning exception": ("ip4 && eth.type == 0x800", "next;"),
    "analysis exception": ("ip4 && ip4.src == 0.0.0.0/0", "next;"),
}


def bad_flow(i, reason, priority=200):
    match, actions = BAD[reason]
    return LogicalFlow("ls1", "ingress", L2.table, L2.stage, priority, match, actions,
                       f"bad{i:05d}-0000-0000-0000-000000000000")


def _entries(plan, skip=()):
    return {(e.lflow, e.datapath, e.key, e.params, plan.shapes[e.shape].describe())
            for e in plan.entries if e.lflow not in skip}


def _ip4_to_vm2():
    pkt = new_packet(eth_dst=0x0a0000000102, eth_src=0x0a0000000101, eth_type=0x0800,
                     inport=port_key("lsp-vm1"))
    return pkt


@pytest.fixture
def failing_planner(monkeypatch):
    """The planner and the analysis raise for one flow each (bugs we have not found yet,
    by their effect)."""
    real, real_classify = P._contributions, P.classify_parsed

    def contributions(flow, a, memo):
        if flow.match == BAD["planning exception"][0]:
            raise RuntimeError("planner bug")
        return real(flow, a, memo)

    def classify_parsed(flow, *args):
        if flow.match == BAD["analysis exception"][0]:
            raise AttributeError("analysis bug")
        return real_classify(flow, *args)
    monkeypatch.setattr(P, "_contributions", contributions)
    monkeypatch.setattr(P, "classify_parsed", classify_parsed)


@pytest.mark.parametrize("reason", sorted(BAD))
def test_a_bad_flow_is_a_counted_drop_and_its_neighbours_still_forward(reason, failing_planner):
    bad = bad_flow(0, reason)
    good = build_plan(CAPTURE, env=ENV)
    plan = build_plan(CAPTURE + [bad], env=ENV)
    # fails closed at its own table and priority, under its own UUID
    mine = [e for e in plan.entries if e.lflow == bad.uuid]
    assert mine, f"{reason}: the flow was skipped (fail open)"
    for e in mine:
        shape = plan.shapes[e.shape]
        assert (shape.pipeline, shape.table, shape.priority) == ("ingress", L2.table, 200)
        assert isinstance(shape.template[0], NotCompiled), shape.describe()
    # a packet the bad flow could match meets the drop, on ls1 only
    hit = lookup(plan, "ingress", L2.table, "ls1", _ip4_to_vm2(), port_key, SYMTAB)
    assert hit is not None and hit.lflow == bad.uuid, reason
    other = lookup(plan, "ingress", L2.table, "ls2", _ip4_to_vm2(), port_key, SYMTAB)
    assert other is None or other.lflow != bad.uuid
    # everything else is planned exactly as without it
    assert _entries(plan, {bad.uuid}) == _entries(good)
    # and the coverage names it with a reason
    report = C.coverage(CAPTURE + [bad], ENV)
    listed = [m for m in report["unsupported"] if m["uuid"] == bad.uuid]
    assert listed and listed[0]["reason"], report["unsupported"]
    assert len(listed[0]["reason"]) <= 300      # a 1,000-deep match is not copied into logs


def test_every_reason_at_once():
    bad = [bad_flow(i, r, 200 + i) for i, r in enumerate(sorted(BAD)) if "exception" not in r]
    plan = build_plan(CAPTURE + bad, env=ENV)
    assert {e.lflow for e in plan.entries} >= {b.uuid for b in bad}
    assert _entries(plan, {b.uuid for b in bad}) == _entries(build_plan(CAPTURE, env=ENV))


def test_an_unknown_match_drops_only_what_it_could_match():
    """Leaves that cannot be compiled are read as 'could be true': the drop covers a
    superset of the flow's packets, not more than the known part allows."""
    bad = LogicalFlow("ls1", "ingress", L2.table, L2.stage, 200, "ip6 && inport == @nope",
                      "next;", "bad00099-0000-0000-0000-000000000000")
    plan = build_plan(CAPTURE + [bad], env=ENV)
    hit = lookup(plan, "ingress", L2.table, "ls1", _ip4_to_vm2(), port_key, SYMTAB)
    assert hit is None or hit.lflow != bad.uuid           # IPv4 is not IPv6: not dropped
    pkt = _ip4_to_vm2()
    pkt["eth_type"] = 0x86dd
    hit = lookup(plan, "ingress", L2.table, "ls1", pkt, port_key, SYMTAB)
    assert hit is not None and hit.lflow == bad.uuid      # IPv6 may be: dropped


@pytest.mark.parametrize("text", [DEEP, "!" * 1000 + "ip4", "(" * 101 + "1" + ")" * 101])
def test_nesting_is_bounded_with_a_clear_reason(text):
    with pytest.raises(ParseError, match="nested deeper than"):
        parse_match(text)


def test_action_nesting_is_bounded():
    with pytest.raises(ParseError, match="nested deeper than"):
        parse_actions("clone { " * 1000 + "next;" + " }" * 1000)


def test_reasonable_nesting_still_parses():
    assert compile_match("(" * 50 + "ip4" + ")" * 50).conjs


def test_port_group_resolves_per_datapath():
    """northd names SB port groups <datapath tunnel key>_<name>; a flow says @name."""
    env = Env(port_groups={"1_pg1": ("lsp-vm1",), "2_pg1": ("lsp-vm6",), "old": ("lsp-vm2",)},
              datapath_keys={"ls1": 1, "ls2": 2})
    flows = [LogicalFlow(dp, "ingress", L2.table, L2.stage, 200, "inport == @pg1 && ip4", "drop;",
                         f"pg{i}00000-0000-0000-0000-000000000000")
             for i, dp in enumerate(("ls1", "ls2"))]
    flows.append(LogicalFlow("ls1", "ingress", L2.table, L2.stage, 300, "inport == @old", "drop;",
                             "pg900000-0000-0000-0000-000000000000"))
    plan = build_plan(flows, env=env, cache=P.AnalysisCache())
    got = {(e.datapath, e.key) for e in plan.entries}
    assert ("ls1", (0x800, "lsp-vm1")) in got and ("ls2", (0x800, "lsp-vm6")) in got
    assert ("ls1", ("lsp-vm2",)) in got       # the bare name of an older northd
    assert plan.skipped == ()
    assert all(not isinstance(plan.shapes[e.shape].template[0], NotCompiled) for e in plan.entries)
