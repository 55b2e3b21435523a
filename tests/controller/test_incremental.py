"""The incremental compiler against the full one, on Southbound contents written by real
ovn-northd: after every NB change, the result IncrementalCompiler returns (a delta where
it can, a full compile where it must) equals what compile_state() returns for the same
snapshot, map entry for map entry."""
import dataclasses

import pytest

from controller import compile as C
from controller.incremental import IncrementalCompiler
from controller.lflow.plan import AnalysisCache

pytestmark = pytest.mark.root       # ovsdb-server + ovn-northd processes


def _as_full(result, state, allocators):
    groups, cookies = allocators
    full = C.compile_state(state, "hv1", synthetic_key=groups, cookie=cookies,
                           cache=AnalysisCache())
    for name in set(result.entries) | set(full.entries):
        assert sorted(result.entries.get(name, [])) == sorted(full.entries.get(name, [])), name
    assert result.shape_hash == full.shape_hash
    assert result.cookies == full.cookies
    assert result.coverage == full.coverage
    assert result.groups == full.groups and result.group_keys == full.group_keys
    assert sorted(result.warnings) == sorted(full.warnings)
    assert ({s: set(u) for s, u in result.shape_lflows.items()}
            == {s: set(u) for s, u in full.shape_lflows.items()})


def named_steps(kinds, reasons):
    return [k if k == "delta" else f"full ({r})" for k, r in zip(kinds, reasons)]


def test_every_delta_equals_a_full_compile(ovn_central):
    c = ovn_central
    c.nbctl("ls-add", "ls1", "--", "ls-add", "ls2",
            "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:01:01 10.0.1.1",
            "--", "lsp-add", "ls2", "p3", "--", "lsp-set-addresses", "p3", "0a:00:00:00:02:03 10.0.2.3",
            "--", "lr-add", "lr1", "--", "lr-add", "lr2", "--", "ls-add", "ls3",
            "--", "lrp-add", "lr2", "lrp3", "02:00:00:00:03:ff", "10.0.3.254/24",
            "--", "lsp-add", "ls3", "ls3-lr2", "--", "lsp-set-type", "ls3-lr2", "router",
            "--", "lsp-set-addresses", "ls3-lr2", "router",
            "--", "lsp-set-options", "ls3-lr2", "router-port=lrp3",
            "--", "lrp-add", "lr1", "lrp1", "02:00:00:00:01:ff", "10.0.1.254/24",
            "--", "lrp-add", "lr1", "lrp2", "02:00:00:00:02:ff", "10.0.2.254/24",
            "--", "lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router",
            "--", "lsp-set-addresses", "ls1-lr1", "router",
            "--", "lsp-set-options", "ls1-lr1", "router-port=lrp1",
            "--", "lsp-add", "ls2", "ls2-lr1", "--", "lsp-set-type", "ls2-lr1", "router",
            "--", "lsp-set-addresses", "ls2-lr1", "router",
            "--", "lsp-set-options", "ls2-lr1", "router-port=lrp2")
    c.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    c.sbctl("chassis-add", "hv2", "geneve", "192.0.2.2")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("lsp-bind", "p1", "hv1")
    c.sbctl("lsp-bind", "p3", "hv2")

    allocators = (C.StableIds(C.SYNTHETIC_KEY_MIN, 1 << 31), C.StableIds(1, 65536))
    inc = IncrementalCompiler(AnalysisCache(), *allocators)
    kinds, reasons, results, writes = [], [], [], []

    def check(*change, sb=False):
        if change:
            (c.sbctl if sb else c.nbctl)(*change)
        c.nbctl("--wait=sb", "sync")
        state = C.snapshot(c.sb_remote)
        before = dict(inc.counters)
        result = inc.compile(state, "hv1")
        allocators[0].keep_only(result.groups)
        allocators[1].keep_only(result.cookies.values())
        kinds.append("delta" if inc.counters["delta"] > before["delta"] else "full")
        reasons.append(inc.last_full)
        _as_full(result, state, allocators)
        assert inc.verify()             # every templated analysis equals the real one
        if kinds[-1] == "delta":        # its map writes turn the last result into this one
            assert result.changes_from is results[-1]
            n = 0
            for name, (upserts, deletes) in result.changes.items():
                had = dict(results[-1].entries[name])
                for k in deletes:
                    del had[k]
                had.update(upserts)
                assert had == dict(result.entries[name]), name
                n += len(upserts) + len(deletes)
            writes.append(n)
        results.append(result)

    check()                                                       # the first: full
    check("lsp-add", "ls1", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:01:02 10.0.1.2")
    check("lsp-bind", "p2", "hv1", sb=True)                       # bound here: residence
    check("lsp-set-addresses", "p2", "0a:00:00:00:01:22 10.0.1.22")
    check("lsp-add", "ls2", "p4", "--", "lsp-set-addresses", "p4", "0a:00:00:00:02:04 10.0.2.4")
    check("lsp-bind", "p4", "hv2", sb=True)
    check("lsp-set-port-security", "p1", "0a:00:00:00:01:01 10.0.1.1")
    check("lsp-del", "p2")                                        # a port removed
    check("acl-add", "ls1", "from-lport", "1001", "ip4 && udp.dst == 53", "drop")  # new shapes
    check("lsp-add", "ls1", "p5", "--", "lsp-set-addresses", "p5", "0a:00:00:00:01:05 10.0.1.5")
    # ls3 (and lr2 behind it) exist but are not related to hv1 until a patch port joins
    # ls3 to lr1: no new datapath, no new shape, yet the related set widens (a full
    # compile; a delta would miss ls3's flows)
    check("lrp-add", "lr1", "lrp13", "02:00:00:00:03:fe", "10.0.3.253/24",
          "--", "lsp-add", "ls3", "ls3-lr1", "--", "lsp-set-type", "ls3-lr1", "router",
          "--", "lsp-set-addresses", "ls3-lr1", "router",
          "--", "lsp-set-options", "ls3-lr1", "router-port=lrp13")
    # northd's changes elsewhere: an address set no local flow names (the table changes in
    # every chassis' view) is a delta; an address set a local ACL names re-plans the ACL's
    # rows (a delta too).
    # A switch added elsewhere is a delta: northd moves the shared flows of the local
    # datapaths to new group rows, and a key-less shape's slot in the datapath record
    # follows the new row (its cookie).
    check("ls-add", "ls9")
    check("create", "Address_Set", "name=as9", 'addresses="10.9.0.1"')
    check("acl-add", "ls1", "to-lport", "1002", "ip4.src == $as1", "drop")
    check("create", "Address_Set", "name=as1", 'addresses="10.1.0.1"')
    check("add", "Address_Set", "as9", "addresses", '"10.9.0.2"')
    check("add", "Address_Set", "as1", "addresses", '"10.1.0.2"')
    check("ls-del", "ls9")
    # elsewhere: a switch joined to a router, both unrelated to hv1 (northd moves the shared
    # flows of ls1/ls2 to new group rows: new rows, same contents), its patch port
    # renumbered, a port group on it and an ACL on that group: none of it is hv1's
    check("ls-add", "ls4", "--", "lr-add", "lr3",
          "--", "lrp-add", "lr3", "lrp4", "02:00:00:00:04:ff", "10.0.4.254/24",
          "--", "lsp-add", "ls4", "ls4-lr3", "--", "lsp-set-type", "ls4-lr3", "router",
          "--", "lsp-set-addresses", "ls4-lr3", "router",
          "--", "lsp-set-options", "ls4-lr3", "router-port=lrp4",
          "--", "lsp-add", "ls4", "p9", "--", "lsp-set-addresses", "p9", "0a:00:00:00:04:09 10.0.4.9")
    check("set", "Logical_Switch_Port", "ls4-lr3", "options:requested-tnl-key=77")
    check("pg-add", "pg9", "p9")
    check("acl-add", "pg9", "to-lport", "1003", "outport == @pg9 && ip4", "drop")
    check("lsp-del", "p9")
    assert kinds[18:] == ["delta"] * 5, named_steps(kinds, reasons)[18:]
    # a port group of hv1's switch with an ACL on it, then a member added: the ACL's rows
    # are re-planned, a delta (a full compile before: "port_groups changed")
    check("pg-add", "pgl", "p1", "--", "acl-add", "pgl", "to-lport", "1004",
          "outport == @pgl && udp", "drop")
    check("pg-set-ports", "pgl", "p1", "p5")
    check("pg-set-ports", "pgl", "p5")
    assert kinds[24:] == ["delta"] * 2, named_steps(kinds, reasons)[23:]
    assert kinds[0] == "full"
    # a delta writes the keys it changed, a handful, never the whole state again
    flows = len(results[-1].entries["ovnbpf_pl_flows"])
    assert max(writes) < flows / 4, (writes, flows)
    print(f"\nmap writes per delta: {writes} (of {flows} flow records)")
    # port adds, bindings, MAC and port-security changes are deltas (and equal full ones)
    assert kinds[1:7] == ["delta"] * 6, kinds
    # a port removed is a delta too (no record holds its name or number afterwards)
    assert kinds[7] == "delta" and kinds[8] == "full" and kinds[9] == "delta", kinds
    assert kinds[10] == "full", kinds
    # a switch added or removed elsewhere: northd's new group rows are no change here
    assert kinds[11] == "delta" and kinds[17] == "delta", named_steps(kinds, reasons)
    named = list(zip(kinds, reasons))
    assert kinds[12] == "delta", named[12]                        # as9: no local flow names it
    # as1 created: the ACL that failed closed on it compiles now (a new shape)
    assert kinds[14] == "full" and reasons[14] == "a new flow shape (a recompile)", named[14]
    # an address added to as9 (no local flow names it) or to as1 (the ACL's rows are
    # re-planned): both deltas (as1 was a full compile before)
    assert kinds[15] == "delta" and kinds[16] == "delta", named[15:17]

    # the same widening with nothing else changed: the snapshot before it made by turning
    # the two patch ports back into plain ones (same names, same keys, same flows)
    after = C.snapshot(c.sb_remote)
    patch = {"ls3-lr1", "lrp13"}
    before = dataclasses.replace(after, ports=tuple(
        dataclasses.replace(p, type="", options=()) if p.logical_port in patch else p
        for p in after.ports))
    fresh = (C.StableIds(C.SYNTHETIC_KEY_MIN, 1 << 31), C.StableIds(1, 65536))
    widened = IncrementalCompiler(AnalysisCache(), *fresh)
    widened.compile(before, "hv1")
    result = widened.compile(after, "hv1")
    _as_full(result, after, fresh)
    assert widened.last_full == "the related datapaths changed"
    # a new port's flows are copies of other ports' with new names: analyses from templates
    assert inc.counters["templated"] >= 4 and inc.counters["template_mismatch"] == 0


def test_a_wrong_template_is_caught_and_costs_a_full_compile(ovn_central):
    c = ovn_central
    c.nbctl("ls-add", "ls1", "--", "lsp-add", "ls1", "p1",
            "--", "lsp-set-addresses", "p1", "0a:00:00:00:01:01 10.0.1.1")
    c.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("lsp-bind", "p1", "hv1")
    allocators = (C.StableIds(C.SYNTHETIC_KEY_MIN, 1 << 31), C.StableIds(1, 65536))
    inc = IncrementalCompiler(AnalysisCache(), *allocators)
    inc.compile(C.snapshot(c.sb_remote), "hv1")
    # poison every template: each now claims the flow is dropped whatever it matched
    for form, (literals, a) in list(inc.templates.forms.items()):
        inc.templates.forms[form] = (literals, a.__class__(a.category, a.reasons, a.dnf, ()))
    c.nbctl("lsp-add", "ls1", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:01:02 10.0.1.2")
    c.nbctl("--wait=sb", "sync")
    state = C.snapshot(c.sb_remote)
    inc.compile(state, "hv1")
    assert inc.counters["templated"] > 0
    assert not inc.verify()
    assert inc.counters["template_mismatch"] > 0 and inc.index is None
    before = inc.counters["full"]
    result = inc.compile(state, "hv1")          # the next compile: full, from real analyses
    assert inc.counters["full"] == before + 1
    allocators[1].keep_only(result.cookies.values())
    _as_full(result, state, allocators)
    assert inc.verify()
