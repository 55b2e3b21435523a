"""Incremental compile: apply a Southbound change to the last compile result in time
proportional to the change, not to the number of flows (OVN's incremental engine, in the
compiler's terms).

compile_state() is a pure function of one snapshot; after a port add it still walks every
local flow (select, plan, encode, coverage: ~10 ms for 300 flows), and the first packet of
the new port waits for all of it. IncrementalCompiler keeps an index of the last result
(each flow row's plan contributions, each map key's owning flows, each key's encoded
record) and, when the next snapshot differs only in ways it can apply exactly, changes
just those records. Everything else is a full compile_state(), which also rebuilds the
index.

Applied as a delta (each is an exact change to the previous result):
  - Logical_Flow rows added, removed or modified, whose entries fall in shapes the
    running program already has, in the same stages, without changing which shapes a
    datapath uses (the per-datapath shape bits) and without overlapping another flow's
    key (OVN's "same match, same priority" ties: the full planner decides those);
  - Port_Binding changes that keep every existing port's tunnel key (a new port, a port
    bound here or elsewhere, up): rows whose match tests chassis residence are re-planned
    when the set of ports bound here changes;
  - MAC_Binding, FDB, port security: the helper maps are recomputed from the snapshot
    (cheap: a few rows per local port).
Anything else, or any doubt, is a full compile, with the reason kept (`last_full`), so
the invariant is simple: a delta result is byte-for-byte the result compile_state()
would return for the same snapshot with the same cookie and group allocators
(tests/controller/test_incremental.py checks exactly that against real northd output).
"""
from __future__ import annotations

import collections
import collections.abc
import dataclasses
import re
import time

from . import compile as C
from .lflow import ast
from .lflow import plan as P
from .lflow.encode import DPS_MAP, FLOWS_MAP, flow_record, param_words
from .lflow.flows import DpFlow
from .lflow.lower import parse_synthetic_group
from .lflow.sbmaps import helper_entries
from .lflow.template import TemplateStore
from .local_datapaths import related_datapaths

__all__ = ["IncrementalCompiler"]


class _Full(Exception):
    """This change is not applied as a delta: the reason, for the counters and logs."""


@dataclasses.dataclass
class _Index:
    """The last result, indexed by what a change touches."""
    chassis: str
    state: object                      # the snapshot compiled last
    result: C.CompileResult
    local: frozenset
    bound: frozenset
    names: dict                        # datapath uuid -> name
    port_keys: dict                    # Port_Binding name -> tunnel key
    rows: dict                         # id(SB row) -> SB row: the snapshot's flow rows
    resident: dict                     # lflow uuid -> SB row, rows testing chassis residence
    per_row: dict                      # lflow uuid -> [(compiler flow, analysis, contributions)]
    owners: dict                       # (sid, dp, key) -> {lflow uuid: params}
    stages: dict                       # sid -> Counter(stage)
    dp_shapes: collections.Counter     # (sid, dp) -> keys
    coverage: dict                     # (lflow uuid, dp) -> flow_coverage() item
    sid_index: dict                    # sid -> shape index in the program
    uuid_keys: collections.Counter     # lflow uuid -> keys it owns (cookie while > 0)
    cookies: dict                      # cookie -> lflow uuid, of those
    records: dict                      # (sid, dp, key) -> its ovnbpf_pl_flows record, if any


class IncrementalCompiler:
    def __init__(self, cache: P.AnalysisCache, synthetic_key, cookie):
        self.cache = cache
        self.synthetic_key = synthetic_key
        self.cookie = cookie
        self.index: _Index | None = None
        self.counters = {"full": 0, "delta": 0, "templated": 0, "template_mismatch": 0}
        self.last_full = "first compile"       # why the last full compile was needed
        self.templates = TemplateStore()
        self.speculated = []     # templated analyses not yet checked against real ones

    def compile(self, state, chassis_name: str, keep: tuple = ()) -> C.CompileResult:
        """keep: the running program's shapes, passed to a full compile (plan.build_plan:
        a shape that goes away is not a rebuild)."""
        if self.index is not None:
            t0 = time.monotonic()
            try:
                result = self._delta(state, chassis_name)
            except _Full as why:
                self.last_full = str(why)
            else:
                self.counters["delta"] += 1
                result.timings = {"delta_s": round(time.monotonic() - t0, 4),
                                  "total_s": round(time.monotonic() - t0, 4)}
                return result
        result = C.compile_state(state, chassis_name, synthetic_key=self.synthetic_key,
                                 cookie=self.cookie, cache=self.cache, keep=keep)
        self.counters["full"] += 1
        self.index = self._build_index(state, chassis_name, result)
        return result

    def forget(self, why: str) -> None:
        """The next compile is a full one (a delta would keep the last result's shapes)."""
        self.index = None
        self.last_full = why

    def verify(self) -> bool:
        """Check every templated analysis since the last call against a real one (run
        it after programming: the first packet does not wait for it). False: one
        differed; its form is never templated again, the cache holds the real analysis
        and the next compile is a full one."""
        speculated, self.speculated = self.speculated, []
        ok = True
        for f, form, guess, symtab, env, bound in speculated:
            real = P.analyze_flow(f, symtab, env, bound.__contains__)
            if real != guess:
                ok = False
                self.templates.refuse(form)
                self.cache.put(f, real)
                self.counters["template_mismatch"] += 1
        if not ok:
            self.index = None
            self.last_full = "a templated analysis differed from the real one"
        return ok

    # ---- the index of a full result ------------------------------------------------------

    def _build_index(self, state, chassis_name, result) -> _Index:
        it = result.internals
        plan, memo = result.plan, self.cache
        sid_index = {}
        for i, s in enumerate(plan.shapes):
            sid_index[memo.shape_ids[(s.pipeline, s.table, s.priority, s.key, s.template,
                                      s.params)]] = i
        per_row = collections.defaultdict(list)
        owners, stages = {}, collections.defaultdict(collections.Counter)
        dp_shapes, uuid_keys = collections.Counter(), collections.Counter()
        coverage = {}
        for f, a in zip(it["flows"], it["analyses"]):
            coverage[(f.uuid, f.datapath)] = C.flow_coverage(f, a)
            if P._cacheable(f):
                self.templates.offer(f.pipeline, f.match, f.actions, a)
            done = memo.contributions.get(f)
            contribs = done[1] if done is not None and done[0] is a else []
            per_row[f.uuid].append((f, a, contribs))
            for sid, (dp, key), params in contribs:
                stages[sid][f.stage] += 1
                who = owners.setdefault((sid, dp, key), {})
                if not who:
                    dp_shapes[(sid, dp)] += 1
                who[f.uuid] = params
        for who in owners.values():
            uuid_keys[min(who)] += 1       # the planner keeps the first flow in uuid order
        records = self._records(plan, result, it, sid_index)
        it["datapath_names"] = result.coverage["datapaths"]
        return _Index(chassis_name, state, result, frozenset(it["local"]), frozenset(it["bound"]),
                      {d.uuid: d.name for d in state.datapaths},
                      {p.logical_port: p.tunnel_key for p in state.ports}, _by_id(state.flows),
                      {r.uuid: r for r in state.flows if "is_chassis_resident" in r.match},
                      dict(per_row), owners, dict(stages), dp_shapes, coverage,
                      sid_index, uuid_keys, dict(result.cookies), records)

    def _records(self, plan, result, it, sid_index):
        """(sid, dp, key) -> the record encode_entries wrote for it (same order); keys of
        shapes the C fails closed, and key-less ones, have none."""
        index_sid = {i: sid for sid, i in sid_index.items()}
        layout, written = it["layout"], iter(result.entries[FLOWS_MAP])
        records = {}
        for e in plan.entries:
            lay = layout.shapes[e.shape]
            if lay is not None and not lay.keyless:
                records[(index_sid[e.shape], e.datapath, e.key)] = next(written)
        return records

    # ---- one change as a delta -------------------------------------------------------------

    def _delta(self, state, chassis_name) -> C.CompileResult:
        ix = self.index
        old = ix.state
        if chassis_name != ix.chassis:
            raise _Full("another chassis name")
        # northd's changes elsewhere (a switch added, an address set no local flow names)
        # change these tables too: only what the local flows can see costs a full compile
        if state.datapaths is not old.datapaths and state.datapaths != old.datapaths:
            if _local_rows(state.datapaths, ix.local) != _local_rows(old.datapaths, ix.local):
                raise _Full("a related datapath changed")
        if state.address_sets is not old.address_sets and state.address_sets != old.address_sets:
            a, b = dict(state.address_sets), dict(old.address_sets)
            changed = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
            if changed & _set_refs(state.flows):
                raise _Full("address_sets changed")
        if state.port_groups is not old.port_groups and state.port_groups != old.port_groups:
            raise _Full("port_groups changed")
        port_keys = {p.logical_port: p.tunnel_key for p in state.ports}
        groups = ix.result.groups
        if state.mcast_groups is not old.mcast_groups and state.mcast_groups != old.mcast_groups:
            # members may change (a port joins _MC_flood); names and keys may not
            if ({(g.datapath, g.name, g.tunnel_key) for g in state.mcast_groups}
                    != {(g.datapath, g.name, g.tunnel_key) for g in old.mcast_groups}):
                raise _Full("a multicast group was added, removed or renumbered")
            groups = _synthetic_groups(groups, state)
        for name, key in ix.port_keys.items():
            if port_keys.get(name) != key:
                raise _Full(f"port {name} removed or renumbered")
        if ix.result.internals.get("port_failed") and port_keys != ix.port_keys:
            raise _Full("a flow that named an unknown port may compile now")
        if state.chassis is not old.chassis and chassis_name not in {c.name for c in state.chassis}:
            raise _Full("our Chassis row is gone")      # compile_state says so, as an error
        bound = frozenset(p.logical_port for p in state.ports if p.chassis == chassis_name)
        local = ix.local
        if bound != ix.bound or state.ports != old.ports:
            # a port bound here, or a new patch port, can make another datapath related
            local = frozenset(related_datapaths(state.ports, bound))
            if local != ix.local:
                raise _Full("the related datapaths changed")

        # which flow rows changed: rows are immutable and an unchanged one is the same
        # object (southbound.py), so set operations on identities (in C) find them
        rows = ix.rows if state.flows is old.flows else _by_id(state.flows)
        new_rows = [rows[i] for i in rows.keys() - ix.rows.keys()]
        gone = [ix.rows[i] for i in ix.rows.keys() - rows.keys()]
        present = {r.uuid: r for r in new_rows}
        same = {r.uuid for r in gone if present.get(r.uuid) == r}    # equal, not identical
        gone = [r for r in gone if r.uuid not in same]
        for u in same:
            del present[u]
        resident = dict(ix.resident)
        for r in gone:
            resident.pop(r.uuid, None)
        resident.update((r.uuid, r) for r in new_rows if "is_chassis_resident" in r.match)
        changed = list(dict.fromkeys([r.uuid for r in gone] + list(present)))
        if bound != ix.bound:       # residence tests read the set of ports bound here
            present.update((u, r) for u, r in resident.items() if u not in present)
            changed += [u for u in resident if u not in changed]

        it = ix.result.internals
        symtab = it["symtab"]
        env = C.sb_env(state)
        self.cache.context = (state.address_sets, state.port_groups, bound)
        try:
            added = {u: self._plan_row(r, local, ix.names, symtab, env, bound, ix.sid_index)
                     for u, r in present.items()}
        finally:
            self.cache.context = None

        # the touched keys' new owners, in scratch: nothing in the index changes before
        # every check has passed
        touched, stage_delta = {}, collections.defaultdict(collections.Counter)

        def owners_of(ident):
            if ident not in touched:
                touched[ident] = dict(ix.owners.get(ident, {}))
            return touched[ident]

        for u in changed:
            for f, _, contribs in ix.per_row.get(u, ()):
                for sid, (dp, key), _ in contribs:
                    owners_of((sid, dp, key)).pop(u, None)
                    stage_delta[sid][f.stage] -= 1
        for u, planned in added.items():
            for f, _, contribs in planned:
                for sid, (dp, key), params in contribs:
                    owners_of((sid, dp, key))[u] = params
                    stage_delta[sid][f.stage] += 1
        for sid, delta in stage_delta.items():
            before = {s for s, n in ix.stages.get(sid, {}).items() if n > 0}
            after = {s for s in set(before) | set(delta)
                     if ix.stages.get(sid, {}).get(s, 0) + delta[s] > 0}
            if before != after:
                raise _Full("a shape gains or loses a stage (a new shape description)")
        dp_shapes = collections.Counter()
        for (sid, dp, key), who in touched.items():
            if len(who) > 1 or len(ix.owners.get((sid, dp, key), ())) > 1:
                raise _Full("two flows share a key (a priority tie for the full planner)")
            had = bool(ix.owners.get((sid, dp, key)))
            dp_shapes[(sid, dp)] += bool(who) - had
        for (sid, dp), d in dp_shapes.items():
            n = ix.dp_shapes.get((sid, dp), 0)
            if (n == 0) != (n + d == 0):
                raise _Full("a datapath starts or stops using a shape (its shape bits)")

        # encode the touched keys with the new port numbers
        layout, plan = it["layout"], ix.result.plan
        names = dict(it["ports"])
        for name, key in port_keys.items():
            names.setdefault(name, key)

        def port_key(name):
            try:
                return names[name]
            except KeyError:
                raise _Full(f"a flow names port {name!r}, unknown to the Southbound") from None
        dp_keys = it["dp_keys"]
        new_cookies = sorted({next(iter(who)) for who in touched.values() if who}
                             - {u for u, n in ix.uuid_keys.items() if n > 0})
        cookie_of = {u: self.cookie(u) for u in new_cookies}
        records = {}
        for (sid, dp, key), who in touched.items():
            if not who:
                records[(sid, dp, key)] = None
                continue
            (u, params), = who.items()
            if any(isinstance(p, ast.StrConst) and parse_synthetic_group(p.value)
                   for p in params):
                raise _Full("a flow uses a synthetic multicast group")
            index = ix.sid_index[sid]
            lay = layout.shapes[index]
            if lay is None:
                records[(sid, dp, key)] = None
                continue
            if lay.keyless:
                raise _Full("a key-less shape's datapath record changes")
            c = cookie_of.get(u) or self.cookie(u)
            records[(sid, dp, key)] = flow_record(plan.shapes[index], lay, index, dp_keys[dp],
                                                  key, param_words(lay, params, port_key),
                                                  c, port_key)

        # every check passed: commit to the index
        losers = []
        for ident, who in touched.items():
            before = ix.owners.get(ident, {})
            was, now = next(iter(before), None), next(iter(who), None)   # at most one each
            if was != now:
                if was is not None:
                    ix.uuid_keys[was] -= 1
                    losers.append(was)
                if now is not None:
                    ix.uuid_keys[now] += 1
            if who:
                ix.owners[ident] = who
            else:
                ix.owners.pop(ident, None)
            if records[ident] is not None:
                ix.records[ident] = records[ident]
            else:
                ix.records.pop(ident, None)
        for sid, delta in stage_delta.items():
            ix.stages.setdefault(sid, collections.Counter()).update(delta)
        for key, d in dp_shapes.items():
            ix.dp_shapes[key] += d
        for u in changed:
            for f, _, _ in ix.per_row.pop(u, ()):
                ix.coverage.pop((u, f.datapath), None)
        for u, planned in added.items():
            ix.per_row[u] = planned
            for f, a, _ in planned:
                ix.coverage[(u, f.datapath)] = C.flow_coverage(f, a)
        for u, c in cookie_of.items():
            ix.cookies[c] = u
        for u in set(losers):             # flows left with no key lose their cookie
            if ix.uuid_keys[u] <= 0:
                del ix.uuid_keys[u]
                ix.cookies.pop(self.cookie(u), None)
        ix.rows, ix.resident, ix.state, ix.bound, ix.port_keys = rows, resident, state, bound, port_keys
        return self._result(state, local, names, groups)

    def _plan_row(self, row, local, names, symtab, env, bound, sid_index):
        """[(compiler flow, analysis, contributions)] of one SB row, for the local datapaths."""
        out = []
        for dp in row.datapaths:
            if dp not in local:
                continue
            f = DpFlow(datapath=names.get(dp, dp), pipeline=row.pipeline, table=row.table_id,
                            stage=row.stage, priority=row.priority, match=row.match,
                            actions=row.actions, uuid=row.uuid)
            a = self.cache.peek(f)
            if a is None and P._cacheable(f):
                # a copy of a known flow with other names/addresses: its analysis from the
                # template now, checked against a real one once the datapath is programmed
                form, a = self.templates.instantiate(f.pipeline, f.match, f.actions)
                if a is not None:
                    self.cache.put(f, a)
                    self.speculated.append((f, form, a, symtab, env, bound))
                    self.counters["templated"] += 1
            if a is None:
                a = self.cache.get(f, lambda f=f: P.analyze_flow(f, symtab, env,
                                                                 bound.__contains__))
                if P._cacheable(f):
                    self.templates.offer(f.pipeline, f.match, f.actions, a)
            if a.error is not None:
                raise _Full(f"lflow {row.uuid}: not compiled (fails closed)")
            try:
                contribs = P._contributions(f, a, self.cache)
            except Exception as e:   # noqa: BLE001 - the full planner fails it closed
                raise _Full(f"lflow {row.uuid}: planning failed: {e}") from None
            if any(sid not in sid_index for sid, _, _ in contribs):
                raise _Full("a new flow shape (a recompile)")
            out.append((f, a, contribs))
        return out

    def _result(self, state, local, names, groups) -> C.CompileResult:
        ix = self.index
        base = ix.result
        helpers, warnings = helper_entries(state, local)
        entries = {FLOWS_MAP: list(ix.records.values()), DPS_MAP: base.entries[DPS_MAP]}
        entries.update(helpers)
        cookies = dict(ix.cookies)
        # the planner's warnings stay those of the last full compile: a delta neither
        # skips a match nor resolves a tie (either one makes it a full compile)
        planner_warnings = base.warnings[len(base.internals["helper_warnings"]):]
        internals = dict(base.internals, ports=names, helper_warnings=list(warnings),
                         bound=ix.bound)
        # the coverage report and shape -> lflows are for the status and the CLI, not for
        # programming: made from a copy of the index when first read, after the maps
        items, local_names = list(ix.coverage.values()), base.internals["datapath_names"]
        owners, sid_index = list(ix.owners.items()), ix.sid_index
        report = LazyDict(lambda: dict(C.coverage_report(items), datapaths=local_names))
        result = C.CompileResult(base.source, base.header, base.shape_hash, entries, groups,
                                 base.group_keys, cookies, report,
                                 LazyDict(lambda: _shape_lflows(owners, sid_index)),
                                 warnings + planner_warnings, {}, base.plan, internals)
        ix.result = result
        return result


def _local_rows(datapaths, local) -> set:
    return {d for d in datapaths if d.uuid in local}


_SET_REF = re.compile(r"\$([\w.:]+)")
_refs_memo: list = [None, frozenset()]     # (the flows tuple it was made from, its names)


def _set_refs(flows) -> frozenset:
    """The address sets ($name) the flows in view name; remade only for another flows
    tuple (the snapshot keeps the same one while no flow row changed)."""
    if _refs_memo[0] is not flows:
        _refs_memo[:] = [flows, frozenset(m for f in flows if "$" in f.match
                                          for m in _SET_REF.findall(f.match))]
    return _refs_memo[1]


def _by_id(rows) -> dict:
    return dict(zip(map(id, rows), rows))


def _synthetic_groups(groups, state) -> dict:
    """The same synthetic groups with their members taken from the new Multicast_Group
    rows (compile._synthetic_groups: the flow's own port first, then the group's)."""
    out = {}
    for name, g in groups.items():
        mc = next((m for m in state.mcast_groups if m.name == g.wire_group
                   and m.datapath == _dp_uuid(state, g.datapath)), None)
        port, _ = parse_synthetic_group(name)
        members = tuple(dict.fromkeys([port, *(mc.ports if mc else ())]))
        out[name] = dataclasses.replace(g, members=members)
    return out


def _dp_uuid(state, name):
    return next((d.uuid for d in state.datapaths if d.name == name), None)


def _shape_lflows(owners, sid_index) -> dict[int, list[str]]:
    out = collections.defaultdict(dict)
    for (sid, _, _), who in owners:
        out[sid_index[sid]][min(who)] = None
    return {s: list(u) for s, u in sorted(out.items())}


class LazyDict(collections.abc.Mapping):
    """A read-only dict made by `make()` on first use."""

    def __init__(self, make):
        self._make, self._data = make, None

    @property
    def data(self) -> dict:
        if self._data is None:
            self._data, self._make = self._make(), None
        return self._data

    def __getitem__(self, key):
        return self.data[key]

    def __iter__(self):
        return iter(self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        return repr(self.data)
