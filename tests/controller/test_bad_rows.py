"""Bad Southbound rows written by real ovn-northd (from ACLs an operator can type), compiled
as a chassis does: each one fails closed alone (a <not compiled> drop under its own UUID,
with its reason), the compile itself never raises, and the rest compiles as it did
(issue 13). Port-group ACLs resolve northd's "<datapath key>_<name>" Port_Group rows
(issue 16's fail-open)."""
import pytest

from controller import compile as C
from controller.incremental import IncrementalCompiler
from controller.lflow.plan import AnalysisCache, NotCompiled

from tests.controller.test_incremental import _as_full

pytestmark = pytest.mark.root       # ovsdb-server + ovn-northd processes

BAD_ACLS = {       # reason -> ACL match (ovn-nbctl stores it; northd copies it into a flow)
    "unknown port group": "inport == @nope && ip4",
    "unknown address set": "ip4.src == $nope",
    "unknown field": "foo.bar == 1",
    "parse error": "ip4.src == ",
    "conntrack match": "ct_nw_dst == 10.0.0.1 && ip4",   # the original tuple: not kept
    "deep nesting": "(" * 1000 + "ip4" + ")" * 1000,
}


def _topology(c):
    c.nbctl("ls-add", "ls1", "--", "ls-add", "ls2",
            "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:01:01 10.0.1.1",
            "--", "lsp-add", "ls1", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:01:02 10.0.1.2",
            "--", "lsp-add", "ls2", "p3", "--", "lsp-set-addresses", "p3", "0a:00:00:00:02:03 10.0.2.3")
    c.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("lsp-bind", "p1", "hv1")
    c.sbctl("lsp-bind", "p3", "hv1")


def _acl_flows(state, text):
    return [f for f in state.flows if text in f.match and f.stage.endswith("_acl")]


def _not_compiled(shape):
    return any(isinstance(a, NotCompiled) for a in shape.template)


def _entry_lflows(result):
    return {e.lflow for e in result.plan.entries}


def test_each_bad_acl_fails_closed_alone(ovn_central):
    c = ovn_central
    _topology(c)
    good = C.compile_state(C.snapshot(c.sb_remote), "hv1")
    for i, (reason, match) in enumerate(sorted(BAD_ACLS.items())):
        c.nbctl("acl-add", "ls1", "to-lport", str(1000 + i), match, "allow")
    c.nbctl("--wait=sb", "sync")
    state = C.snapshot(c.sb_remote)
    result = C.compile_state(state, "hv1")          # raised CompileError before (ghost)
    missing = {m["uuid"]: m for m in result.coverage["unsupported"]}
    for reason, match in BAD_ACLS.items():
        flows = _acl_flows(state, match[-40:])
        assert flows, reason
        for f in flows:
            assert f.uuid in missing and missing[f.uuid]["reason"], (reason, f.match[:80])
            assert len(missing[f.uuid]["reason"]) <= 300
            mine = [e for e in result.plan.entries if e.lflow == f.uuid]
            assert mine, f"{reason}: skipped (fail open)"
            for e in mine:
                shape = result.plan.shapes[e.shape]
                assert _not_compiled(shape), shape.describe()
                assert (shape.table, shape.priority) == (f.table_id, f.priority)
                assert e.datapath == "ls1"
            assert any(w.startswith(f"lflow {f.uuid}: not compiled") for w in result.warnings)
    # `ovnbpf compile` lists each by UUID with its reason
    summary = dict(result.summary(), compile_s=0.0, program={"loaded": False, "reason": "-"})
    text = C.format_report(summary)
    for u, m in missing.items():
        assert any(u in line and m["reason"][:40] in line for line in text.splitlines()), u
    # the rest is planned as before: every flow with entries before still has them (the
    # ACLs made northd replace some flows: only those still there count)
    assert _entry_lflows(good) & {f.uuid for f in state.flows} <= _entry_lflows(result)
    # and the incremental compiler agrees, also when a good port is added beside them
    allocators = (C.StableIds(C.SYNTHETIC_KEY_MIN, 1 << 31), C.StableIds(1, 65536))
    inc = IncrementalCompiler(AnalysisCache(), *allocators)
    _as_full(inc.compile(state, "hv1"), state, allocators)
    c.nbctl("lsp-add", "ls2", "p4", "--", "lsp-set-addresses", "p4", "0a:00:00:00:02:04 10.0.2.4")
    c.nbctl("--wait=sb", "sync")
    state = C.snapshot(c.sb_remote)
    result = inc.compile(state, "hv1")
    allocators[1].keep_only(result.cookies.values())
    _as_full(result, state, allocators)


def test_a_port_the_sb_lacks_matches_nothing(ovn_central):
    """`outport == "ghost"` names no port: no packet can match it (OVN skips an unknown
    name in a match). It is no failure, and reading it as true would drop every IP packet
    to ls1's ports at that priority: the neighbours'."""
    c = ovn_central
    _topology(c)
    good = C.compile_state(C.snapshot(c.sb_remote), "hv1")
    c.nbctl("--wait=sb", "acl-add", "ls1", "to-lport", "1000",
            'outport == {"ghost", "p2"} && ip4', "drop")
    state = C.snapshot(c.sb_remote)
    result = C.compile_state(state, "hv1")
    [flow] = _acl_flows(state, '"ghost"')
    assert flow.uuid not in {m["uuid"] for m in result.coverage["unsupported"]}
    mine = [e for e in result.plan.entries if e.lflow == flow.uuid]
    assert mine and all(not _not_compiled(result.plan.shapes[e.shape]) for e in mine)
    # only the conjunction naming p2 is left: the ghost one matches no packet
    assert all("p2" in map(str, e.key) and "ghost" not in map(str, e.key) for e in mine), mine
    assert _entry_lflows(good) & {f.uuid for f in state.flows} <= _entry_lflows(result)


def test_a_port_that_appears_later_makes_its_flow_compile(ovn_central):
    c = ovn_central
    _topology(c)
    c.nbctl("--wait=sb", "acl-add", "ls1", "to-lport", "1000", 'outport == "p9" && ip4', "drop")
    allocators = (C.StableIds(C.SYNTHETIC_KEY_MIN, 1 << 31), C.StableIds(1, 65536))
    inc = IncrementalCompiler(AnalysisCache(), *allocators)
    state = C.snapshot(c.sb_remote)
    [flow] = _acl_flows(state, '"p9"')
    result = inc.compile(state, "hv1")
    # p9 does not exist yet: the ACL matches nothing (no entry, no drop of neighbours)
    assert flow.uuid not in {m["uuid"] for m in result.coverage["unsupported"]}
    assert not any(e.lflow == flow.uuid for e in result.plan.entries)
    c.nbctl("--wait=sb", "lsp-add", "ls1", "p9", "--", "lsp-set-addresses", "p9",
            "0a:00:00:00:01:09 10.0.1.9")
    state = C.snapshot(c.sb_remote)
    result = inc.compile(state, "hv1")
    allocators[1].keep_only(result.cookies.values())
    _as_full(result, state, allocators)
    assert flow.uuid not in {m["uuid"] for m in result.coverage["unsupported"]}
    assert any(e.lflow == flow.uuid and not _not_compiled(result.plan.shapes[e.shape])
               for e in result.plan.entries)


def test_port_group_acl_resolves_northds_per_datapath_group(ovn_central):
    """OVN's "ACLs on Port Groups": a drop ACL on a port group. northd writes the SB
    Port_Group as "<ls1 key>_pg1"; the flow says @pg1. Before: "unknown port group", the
    flow was skipped and the traffic it drops was let through."""
    c = ovn_central
    _topology(c)
    c.nbctl("pg-add", "pg1", "p1", "p2", "p3")        # p1, p2 on ls1; p3 on ls2
    c.nbctl("--wait=sb", "acl-add", "pg1", "to-lport", "1002", "outport == @pg1 && ip4", "drop")
    state = C.snapshot(c.sb_remote)
    names = dict(state.port_groups)
    keys = {d.name: d.tunnel_key for d in state.datapaths}
    # what northd 23.03 writes: one group per datapath, its own ports only
    assert set(names[f"{keys['ls1']}_pg1"]) == {"p1", "p2"}
    assert set(names[f"{keys['ls2']}_pg1"]) == {"p3"}
    result = C.compile_state(state, "hv1")
    flows = _acl_flows(state, "@pg1")
    assert flows
    missing = {m["uuid"] for m in result.coverage["unsupported"]}
    ports = {"ls1": {"p1", "p2"}, "ls2": {"p3"}}
    for f in flows:
        assert f.uuid not in missing, result.coverage["unsupported"]
        mine = [e for e in result.plan.entries if e.lflow == f.uuid]
        assert not any(_not_compiled(result.plan.shapes[e.shape]) for e in mine)
        for dp in ("ls1", "ls2"):
            named = {v for e in mine if e.datapath == dp for v in e.key if isinstance(v, str)}
            assert named == ports[dp], (dp, named)


def test_a_flow_outputting_to_an_unknown_port_fails_closed_on_its_match(ovn_central):
    """A row (as a bad or newer northd could write it) whose action names a port the SB
    lacks: before, compile_state raised CompileError for the whole chassis."""
    import dataclasses
    c = ovn_central
    _topology(c)
    state = C.snapshot(c.sb_remote)
    l2 = next(f for f in state.flows if f.stage == "ls_in_l2_lkup" and "0a:00:00:00:01:02" in f.match)
    bad = dataclasses.replace(l2, uuid="0badf10w-0000-0000-0000-000000000000", priority=51,
                              actions='outport = "ghost"; output;')
    state = dataclasses.replace(state, flows=state.flows + (bad,))
    result = C.compile_state(state, "hv1")
    mine = [e for e in result.plan.entries if e.lflow == bad.uuid]
    assert mine and all(_not_compiled(result.plan.shapes[e.shape]) for e in mine)
    # the drop covers the flow's own match (eth.dst == vm2), not the whole table
    assert all(result.plan.shapes[e.shape].key for e in mine)
    assert any("ghost" in m["reason"] for m in result.coverage["unsupported"]
               if m["uuid"] == bad.uuid)
