import random

import pytest

from controller.lflow import ast
from controller.lflow.classify import classify_flow
from controller.lflow.evaluator import eval_match, write_field
from controller.lflow.flows import read_lflow_list
from controller.lflow.formatter import format_actions
from controller.lflow.lower import lower_clone
from controller.lflow.parser import parse_actions, parse_match
from controller.lflow.passes import compile_match
from controller.lflow.plan import build_plan, instantiate, lookup
from controller.lflow.symbols import FLOW_MEMBERS

from .conftest import DATA
from .helpers import ENV, SYMTAB, port_key

CAPTURE_TEXT = (DATA / "lflows-two-chassis.txt").read_text()


def with_new_port(text: str) -> str:
    """The capture as northd would write it after adding lsp-vm7 (0a:00:00:00:02:07,
    10.0.2.17) to ls2: copy every vm6 line with vm6's constants replaced."""
    out = []
    for line in text.splitlines():
        out.append(line)
        if "lsp-vm6" in line or "10.0.2.16" in line or "0a:00:00:00:02:06" in line:
            out.append(line.replace("lsp-vm6", "lsp-vm7").replace("10.0.2.16", "10.0.2.17")
                       .replace("0a:00:00:00:02:06", "0a:00:00:00:02:07"))
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def plan():
    return build_plan(read_lflow_list(CAPTURE_TEXT), env=ENV)


def test_plan_is_deterministic(plan):
    flows = read_lflow_list(CAPTURE_TEXT)
    random.Random(7).shuffle(flows)
    again = build_plan(flows, env=ENV)
    assert again == plan


def test_adding_a_port_changes_entries_not_shapes(plan):
    bigger = build_plan(read_lflow_list(with_new_port(CAPTURE_TEXT)), env=ENV)
    assert len(read_lflow_list(with_new_port(CAPTURE_TEXT))) == 278 + 4
    assert bigger.shape_hash == plan.shape_hash
    assert bigger.shapes == plan.shapes
    added = set(bigger.entries) - set(plan.entries)
    assert set(plan.entries) <= set(bigger.entries)
    assert len(added) == 4
    assert {"lsp-vm7"} <= {p.value for e in added for p in e.params if isinstance(p, ast.StrConst)}


def test_new_shape_changes_hash(plan):
    extra = CAPTURE_TEXT.replace(
        "  table=26(ls_in_l2_unknown   ), priority=50   , match=(outport == \"none\"), action=(drop;)",
        "  table=26(ls_in_l2_unknown   ), priority=50   , match=(outport == \"none\"), action=(drop;)\n"
        "  table=26(ls_in_l2_unknown   ), priority=60   , match=(tcp.dst == 22), action=(drop;)", 1)
    assert build_plan(read_lflow_list(extra), env=ENV).shape_hash != plan.shape_hash


def test_l2_lookup_family_is_one_shape(plan):
    [shape_id] = [i for i, s in enumerate(plan.shapes)
                  if s.stages == ("ls_in_l2_lkup",) and s.priority == 50]
    shape = plan.shapes[shape_id]
    assert [(k.field, k.mask) for k in shape.key] == [("eth.dst", 0xffffffffffff)]
    assert format_actions(shape.template) == "outport = <V0>; output;"
    entries = [e for e in plan.entries if e.shape == shape_id]
    assert len(entries) == 8  # 5 on ls1 + 3 on ls2
    assert {e.datapath for e in entries} == {"ls1", "ls2"}


def test_priority_order_within_tables(plan):
    for pipeline in ("ingress", "egress"):
        for table in plan.tables(pipeline):
            prios = [plan.shapes[i].priority for i in plan.shape_ids(pipeline, table)]
            assert prios == sorted(prios, reverse=True)


def test_every_flow_is_planned(plan):
    assert plan.skipped == () and plan.conflicts == ()
    planned = {e.lflow for e in plan.entries}
    for flow in read_lflow_list(CAPTURE_TEXT):
        if compile_match(flow.match, env=ENV).conjs:
            assert flow.uuid in planned, flow


def _winner(flows, pkt):
    """Reference semantics: the highest-priority flows whose match holds."""
    best, winners = None, []
    for flow in flows:
        if eval_match(parse_match(flow.match), pkt, port_key, SYMTAB, ENV):
            if best is None or flow.priority > best:
                best, winners = flow.priority, [flow]
            elif flow.priority == best:
                winners.append(flow)
    return winners


def test_plan_lookup_matches_reference_semantics(plan):
    """For every table of every datapath: the planned lookup picks a flow the reference
    evaluator would pick, and the entry's template rebuilds that flow's actions."""
    flows = read_lflow_list(CAPTURE_TEXT)
    rng = random.Random(1)
    tables = {}
    for flow in flows:
        tables.setdefault((flow.datapath, flow.pipeline, flow.table), []).append(flow)
    checked = 0
    for (dp, pipeline, table), table_flows in sorted(tables.items()):
        dnfs = [compile_match(f.match, env=ENV) for f in table_flows]
        for _ in range(30):
            pkt = {name: rng.choice((0, rng.getrandbits(width))) for name, width in FLOW_MEMBERS.items()}
            # steer towards one flow of the table
            dnf = rng.choice(dnfs)
            if dnf.conjs:
                for field, value, mask in rng.choice(dnf.conjs):
                    fld = SYMTAB.fields[field]
                    write_field(pkt, fld, port_key(value) if mask is None else value, mask)
            winners = _winner(table_flows, pkt)
            hit = lookup(plan, pipeline, table, dp, pkt, port_key, SYMTAB)
            if not winners:
                assert hit is None
                continue
            assert hit is not None and hit.lflow in {w.uuid for w in winners}, (dp, pipeline, table)
            flow = next(w for w in winners if w.uuid == hit.lflow)
            if classify_flow(flow, env=ENV).category == "compiled":
                rebuilt = instantiate(plan.shapes[hit.shape], hit.params)
                assert format_actions(rebuilt) == format_actions(lower_clone(parse_actions(flow.actions)))
            checked += 1
    assert checked > 500







def test_a_shape_that_goes_keeps_the_running_hash_when_kept():
    """A transient flow of a new shape: the plan with it needs a build; the plan after it
    goes, given the running shapes (keep=), has the running hash (entries-only) and the
    same entries as a fresh plan but for their shape index; without keep= it drops the
    shape; a plan that needs a shape the running program lacks keeps nothing."""
    from controller.lflow.plan import AnalysisCache
    cache = AnalysisCache()
    extra = CAPTURE_TEXT.replace(
        "  table=26(ls_in_l2_unknown   ), priority=50   , match=(outport == \"none\"), action=(drop;)",
        "  table=26(ls_in_l2_unknown   ), priority=50   , match=(outport == \"none\"), action=(drop;)\n"
        "  table=26(ls_in_l2_unknown   ), priority=60   , match=(tcp.dst == 22), action=(drop;)", 1)
    base = build_plan(read_lflow_list(CAPTURE_TEXT), env=ENV, cache=cache)
    running = build_plan(read_lflow_list(extra), env=ENV, cache=cache, keep=base.shapes)
    assert running.shape_hash != base.shape_hash and running.unused == 0, "a new shape: a build"
    after = build_plan(read_lflow_list(CAPTURE_TEXT), env=ENV, cache=cache, keep=running.shapes)
    assert after.shape_hash == running.shape_hash and after.shapes == running.shapes
    assert after.unused == 1
    fresh = build_plan(read_lflow_list(CAPTURE_TEXT), env=ENV, cache=cache)
    assert fresh.shape_hash == base.shape_hash and fresh.unused == 0
    by_shape = lambda p: {(p.shapes[e.shape], e.datapath, e.key, e.params, e.lflow)  # noqa: E731
                          for e in p.entries}
    assert by_shape(after) == by_shape(fresh), "the same entries, only renumbered"
