"""The compile API and `ovnbpf compile`.

`compile_state(state, chassis)` is a pure function from one Southbound snapshot (SBState)
to everything a chassis needs to run its logical pipelines (CompileResult): the C text and
its header, the shape hash (equal hash = same C: only map entries change), the map entries
(bytes, per map), the synthetic multicast groups the compiler made out of `clone`, the
lflow cookies, and the coverage (what compiled, what did not and why). The controller calls
it on every SB change; pass the same `AnalysisCache` each time so that only new flows are
parsed again, and its own allocators (`cookie`, `synthetic_key`) so that numbers stay
stable across compiles.

`compile_chassis(remote, chassis, out_dir)` is the CLI's one-shot version: snapshot a real
SB, compile, write the files, and load the program to prove the verifier accepts it.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import ids
from .db.reach import check_reachable
from .db.southbound import Southbound
from .lflow import actions as A
from .lflow.emit_c import emit_c, header_text
from .lflow.encode import encode_entries
from .lflow.layout import pipeline_layout
from .lflow.flows import LogicalFlow
from .lflow.lower import parse_synthetic_group
from .lflow.passes import Env
from .lflow.plan import AnalysisCache, build_plan, failed
from .lflow.expr import Dnf
from .ctl import blackhole_lines, not_compiled_lines
from .lflow import ast
from .lflow.sbmaps import helper_entries
from .lflow.symbols import default_symtab
from .limits import DEFAULT as DEFAULT_LIMITS, Admission, Limits, admit, map_sizes
from .local_datapaths import related_datapaths

__all__ = ["CompileError", "CompileResult", "SyntheticGroup", "StableIds", "compile_state",
           "compile_chassis", "snapshot", "chassis_flows", "sb_env", "verify", "format_report"]

SYNTHETIC_KEY_MIN = 65536    # local-only multicast keys: never on the wire (16-bit field)


class CompileError(RuntimeError):
    pass


class StableIds(ids.StableIds):
    """controller.ids.StableIds whose exhaustion is a CompileError (compile_state asks for
    names in sorted order, so ids are deterministic)."""

    def exhausted(self, name):
        return CompileError(f"out of ids ({self.first}..{self.limit - 1}) for {name!r}")


def allocators(limits: Limits | None = None) -> tuple[StableIds, StableIds]:
    """(synthetic group keys, lflow cookies): the controller's allocators, which
    `ovnbpf compile` uses too, so both number and refuse alike."""
    limits = limits or DEFAULT_LIMITS
    return StableIds(SYNTHETIC_KEY_MIN, 1 << 31), StableIds(1, limits.cookie_limit())


@dataclass(frozen=True)
class SyntheticGroup:
    """A multicast group only this chassis knows: `members` (port names) get a copy each;
    remote copies carry `wire_key` (the real group G) in Geneve."""
    name: str
    datapath: str
    dp_key: int
    members: tuple[str, ...]
    wire_group: str
    wire_key: int

    def definition(self) -> tuple[int, tuple[str, ...], int]:
        return self.dp_key, self.members, self.wire_key


@dataclass
class CompileResult:
    source: str                              # pipeline.c
    header: str                              # bpf/lib/ovnbpf_pipeline.h (copied next to pipeline.c)
    shape_hash: str
    entries: dict[str, list[tuple[bytes, bytes]]]
    groups: dict[str, SyntheticGroup]        # synthetic multicast groups, by name
    group_keys: dict[str, int]               # the keys `synthetic_key` gave them
    cookies: dict[int, str]                  # lflow cookie -> lflow uuid
    coverage: dict
    shape_lflows: dict[int, list[str]]       # shape id -> uuids of the lflows filling it
    warnings: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    plan: object = None
    # what controller/incremental.py needs to apply later changes to this result
    internals: dict = field(default_factory=dict, repr=False)
    # a delta's map writes: {map: (upserts [(key, value)], deleted keys)} that turn the
    # entries of `changes_from` (the result it was applied to) into these; None: unknown
    changes: dict | None = field(default=None, repr=False)
    changes_from: object = field(default=None, repr=False)

    def summary(self) -> dict:
        """The JSON-friendly part (no C text, no bytes)."""
        out = dict(self.coverage)
        out["shapes"] = len(self.plan.shapes)
        out["shape_hash"] = self.shape_hash
        out["maps"] = {name: len(rows) for name, rows in sorted(self.entries.items())}
        out["synthetic_groups"] = {n: {"datapath": g.datapath, "key": self.group_keys[n],
                                       "members": list(g.members), "wire_group": g.wire_group,
                                       "wire_key": g.wire_key}
                                   for n, g in sorted(self.groups.items())}
        out["cookies"] = {str(c): u for c, u in sorted(self.cookies.items())}
        out["warnings"] = self.warnings
        out["timings"] = self.timings
        return out


# ---- SB -> compiler input -------------------------------------------------------------------

def snapshot(remote, timeout=10.0):
    check_reachable(remote)     # a missing socket is an error now, not after `timeout`
    sb = Southbound(remote, chassis_name="", conditional=False)
    try:
        sb.run_until(sb.connected, timeout=timeout, what=f"the Southbound at {remote}")
        return sb.snapshot()
    finally:
        sb.close()


def chassis_flows(state, chassis_name):
    """The compiler's LogicalFlow records for the datapaths `chassis_name` needs, those
    datapaths, and the logical ports bound to the chassis."""
    if chassis_name not in {c.name for c in state.chassis}:
        known = ", ".join(c.name for c in state.chassis) or "none"
        raise CompileError(f"chassis {chassis_name!r} is not in the Southbound (known: {known})")
    bound = {p.logical_port for p in state.ports if p.chassis == chassis_name}
    local = related_datapaths(state.ports, bound)
    names = {d.uuid: d.name for d in state.datapaths}
    flows = []
    for row in state.flows:
        for dp in row.datapaths:
            if dp in local:
                flows.append(LogicalFlow(datapath=names.get(dp, dp), pipeline=row.pipeline,
                                         table=row.table_id, stage=row.stage, priority=row.priority,
                                         match=row.match, actions=row.actions, uuid=row.uuid))
    return flows, local, bound


def sb_env(state):
    """What matches may name: address sets ($name) and port groups (@name, which northd
    stores per datapath as "<tunnel key>_<name>")."""
    return Env(address_sets=dict(state.address_sets), port_groups=dict(state.port_groups),
               datapath_keys={d.name: d.tunnel_key for d in state.datapaths})


def _through_punt(a) -> bool:
    """A needs-punt flow whose every punted action the controller's punt handler carries
    out (its class's `punt` says so): it runs, through the punt path, so it counts as
    compiled."""
    return a.category == A.PUNT and all(act.punt is not None and act.punt.handled
                                        for act in A.walk_actions(a.acts)
                                        if act.category == A.PUNT)


def _unhandled_punts(a) -> tuple:
    """Why a needs-punt flow does not run: the punted actions the handler lacks (their
    packets are counted drops, or counted and ignored copies)."""
    return tuple(dict.fromkeys(
        f"{act.keyword}: not carried out by the punt handler"
        f" ({act.punt.reason if act.punt is not None and act.punt.reason else act.reason})"
        for act in A.walk_actions(a.acts)
        if act.category == A.PUNT and not (act.punt is not None and act.punt.handled)))


def flow_coverage(f, a) -> tuple:
    """One compiler flow's part of the coverage report: (stage, category, missing record
    or None, through the punt path)."""
    category = a.category
    reasons = a.reasons if a.error is None else (a.error,)
    via = a.error is None and _through_punt(a)
    if via:
        category = A.COMPILED
    if category == A.PUNT and a.error is None:
        reasons = _unhandled_punts(a)
    missing = None
    if category != A.COMPILED:
        missing = {"uuid": f.uuid, "datapath": f.datapath, "stage": f.stage,
                   "category": category, "reason": "; ".join(reasons)}
    return f.stage, category, missing, via


def coverage_report(items) -> dict:
    """The report from flow_coverage() items (any order: missing flows are sorted)."""
    by_category = collections.Counter()
    per_stage = collections.defaultdict(collections.Counter)
    missing = []
    via_punt = total = 0
    for stage, category, miss, via in items:
        total += 1
        via_punt += via
        by_category[category] += 1
        per_stage[stage][category] += 1
        if miss is not None:
            missing.append(miss)
    missing.sort(key=lambda m: (m["uuid"], m["datapath"]))
    return {"total": total, "compiled": by_category.get(A.COMPILED, 0), "via_punt": via_punt,
            "by_category": dict(sorted(by_category.items())),
            "per_stage": {s: dict(sorted(c.items())) for s, c in sorted(per_stage.items())},
            "unsupported": missing}


def _coverage(flows, analyses):
    return coverage_report(flow_coverage(f, a) for f, a in zip(flows, analyses))


def coverage(flows, env=None):
    """{"total", "compiled", "by_category", "per_stage", "unsupported": [...]}"""
    memo = AnalysisCache()
    build_plan(flows, default_symtab(), env or Env(), cache=memo)
    return _coverage(flows, planned_analyses(flows, memo))


def planned_analyses(flows, memo: AnalysisCache) -> list:
    """The analysis build_plan used for each flow (a flow its planner failed on has a
    failed one), from the memo it filled."""
    return [memo.contributions[f][0] for f in flows]


def _unknown_ports(plan, known) -> dict:
    """{lflow uuid: reason} of the flows whose entries name a port or group the
    Southbound does not have; the reason is None when only their match names it."""
    out = {}
    for e in plan.entries:
        shape = plan.shapes[e.shape]
        acted = next((p.value for p in e.params
                      if isinstance(p, ast.StrConst) and not known(p.value)), None)
        if acted is not None:
            out[e.lflow] = (f"names port or group {acted!r}, which the Southbound "
                            "does not have")
        elif e.lflow not in out and any(kf.mask is None and not known(v)
                                        for kf, v in zip(shape.key, e.key)):
            out[e.lflow] = None
    return out


def _port_failer(reasons, known, symtab, env, is_resident):
    """build_plan's `fail` for the flows in `reasons`. A port name the SB lacks is no
    packet's port: a conjunction comparing a port with it matches nothing and goes (as
    in OVN, where an unknown name in a match never matches). A flow whose *actions* name
    such a port cannot be encoded: it fails closed, on what its match can still match."""
    def satisfiable(dnf):
        return Dnf(tuple(conj for conj in dnf.conjs
                         if all(t[2] is not None or known(t[1]) for t in conj)))

    def fail(f, a):
        if f.uuid not in reasons:
            return None
        why = reasons[f.uuid]
        if a.error is not None:
            return dataclasses.replace(a, dnf=satisfiable(a.dnf)) if a.dnf is not None else None
        if why is None:
            return dataclasses.replace(a, dnf=satisfiable(a.dnf))
        out = failed(f, symtab, env, is_resident, why)
        return dataclasses.replace(out, dnf=satisfiable(a.dnf))
    return fail


# ---- the compile API --------------------------------------------------------------------------

def _synthetic_groups(plan, state, dp_keys) -> dict[str, SyntheticGroup]:
    by_dp = {d.name: d.uuid for d in state.datapaths}
    groups = {}
    for entry in plan.entries:
        for p in entry.params:
            if not isinstance(p, ast.StrConst) or p.value in groups:
                continue
            parsed = parse_synthetic_group(p.value)
            if parsed is None:
                continue
            port, wire = parsed
            mc = next((g for g in state.mcast_groups if g.name == wire
                       and g.datapath == by_dp.get(entry.datapath)), None)
            members = tuple(dict.fromkeys([port, *(mc.ports if mc else ())]))
            groups[p.value] = SyntheticGroup(p.value, entry.datapath, dp_keys[entry.datapath],
                                             members, wire, mc.tunnel_key if mc else 0)
    return groups


def compile_state(state, chassis_name: str, *,
                  synthetic_key: Callable[[str], int] | None = None,
                  cookie: Callable[[str], int] | None = None,
                  cache: AnalysisCache | None = None, keep: tuple = (),
                  limits: Limits | None = None) -> CompileResult:
    """Compile the logical flows `chassis_name` needs from one SB snapshot.

    synthetic_key(name) -> int >= 65536: the key of a synthetic group (default: 65536.. in
    name order). cookie(lflow uuid) -> int in 1..limits.lflows: the lflow's cookie
    (default: 1.. in uuid order). cache: reuse across calls. keep: the running program's shapes, kept
    when nothing new is needed (plan.build_plan). limits: what the chassis can hold
    (controller/limits.py); datapaths beyond them are left out, fail closed, and named
    in the warnings and coverage["limits"]. Raises CompileError for an unknown chassis."""
    t0 = time.monotonic()
    symtab = default_symtab()
    cache = cache if cache is not None else AnalysisCache()
    flows, local, bound = chassis_flows(state, chassis_name)
    env = sb_env(state)
    t1 = time.monotonic()
    # flows naming $sets, @groups or chassis residence are reused only with the same ones
    cache.context = (state.address_sets, state.port_groups, frozenset(bound))
    port_names = ({m.name for m in state.mcast_groups} | {p.logical_port for p in state.ports}
                  | {"none"})
    limits = limits or DEFAULT_LIMITS

    # a port the SB lacks: no packet's port in a match, a flow failing closed alone in
    # its actions (see _port_failer); a synthetic group (lower.py) is known when its
    # port is
    def known(name):
        if name in port_names:
            return True
        synthetic = parse_synthetic_group(name)
        return synthetic is not None and synthetic[0] in port_names

    def plan_of(flows):
        plan = build_plan(flows, symtab, env, bound.__contains__, cache, keep=keep)
        reasons = _unknown_ports(plan, known)
        if reasons:
            plan = build_plan(flows, symtab, env, bound.__contains__, cache,
                              fail=_port_failer(reasons, known, symtab, env, bound.__contains__),
                              keep=keep)
        return plan, reasons
    try:
        plan, reasons = plan_of(flows)
        admission = _admission(plan, flows, limits, bound, state)
        if admission.refused:      # what does not fit is left out whole, a datapath at a time
            out = set(admission.refused)
            flows = [f for f in flows if f.datapath not in out]
            names = {d.uuid: d.name for d in state.datapaths}
            local = {u for u in local if names.get(u, u) not in out}
            plan, reasons = plan_of(flows)
        analyses = planned_analyses(flows, cache)
    finally:
        cache.context = None
    t2 = time.monotonic()
    if cache.emitted and cache.emitted[0] == plan.shape_hash:
        # same shapes, same code and layout: a port or MAC change is entries only
        layout, source = cache.emitted[1:]
    else:
        layout = pipeline_layout(plan, symtab)
        source = emit_c(plan, symtab, layout=layout)
        cache.emitted = (plan.shape_hash, layout, source)
    t3 = time.monotonic()

    dp_keys = {d.name: d.tunnel_key for d in state.datapaths}
    groups = _synthetic_groups(plan, state, dp_keys)
    if synthetic_key is None:
        order = {n: SYNTHETIC_KEY_MIN + i for i, n in enumerate(sorted(groups))}
        synthetic_key = order.__getitem__
    group_keys = {n: synthetic_key(n) for n in sorted(groups)}
    ports = {m.name: m.tunnel_key for m in state.mcast_groups}
    ports.update({p.logical_port: p.tunnel_key for p in state.ports})
    ports["none"] = 0
    ports.update(group_keys)
    uuids = sorted({e.lflow for e in plan.entries})
    if cookie is None:
        cookie = {u: i for i, u in enumerate(uuids, 1)}.__getitem__
    try:
        cookies = {cookie(u): u for u in uuids}
    except CompileError:
        if not isinstance(cookie, ids.StableIds):
            raise
        # ids still held by flows that are gone: admission made room for these
        cookie.keep_only(uuids)
        cookies = {cookie(u): u for u in uuids}

    def port_key(name):
        try:
            return ports[name]
        except KeyError:
            raise CompileError(f"logical flows name port or group {name!r}, which the "
                               "Southbound does not have") from None

    entries = encode_entries(plan, port_key, dp_keys.__getitem__, cookie, symtab, layout=layout)
    helpers, warnings = helper_entries(state, local)
    helper_warnings = list(warnings)
    entries.update(helpers)
    t4 = time.monotonic()
    report = _coverage(flows, analyses)
    report["datapaths"] = sorted(d.name for d in state.datapaths if d.uuid in local)
    report["limits"] = admission.report()
    if admission.refused:
        warnings.insert(0, admission.message())
    if plan.skipped:
        warnings += [f"lflow {u}: not compiled, dropped: {why}"
                     for u, why in dict(plan.skipped).items()]
    warnings += [f"lflows {a} and {b}: same match and priority, different actions; {a} kept"
                 for a, b in plan.conflicts]
    shape_lflows = collections.defaultdict(dict)     # dict as an ordered set
    for e in plan.entries:
        shape_lflows[e.shape][e.lflow] = None
    shape_lflows = {s: list(u) for s, u in shape_lflows.items()}
    timings = {"select_s": t1 - t0, "plan_s": t2 - t1, "emit_s": t3 - t2, "encode_s": t4 - t3,
               "total_s": time.monotonic() - t0}
    internals = {"flows": flows, "analyses": analyses, "local": local, "bound": bound,
                 "port_failed": frozenset(reasons),   # incremental: full compile when ports change
                 "layout": layout, "ports": ports, "dp_keys": dp_keys, "symtab": symtab,
                 "helper_warnings": helper_warnings, "refused": admission.refused}
    return CompileResult(source, header_text(), plan.shape_hash, entries, groups, group_keys,
                         cookies, report, shape_lflows, warnings,
                         {k: round(v, 4) for k, v in timings.items()}, plan, internals)


def _admission(plan, flows, limits, bound, state) -> Admission:
    """Which datapaths fit the limits; those with ports bound here come first."""
    names = {d.uuid: d.name for d in state.datapaths}
    by_port = {p.logical_port: p.datapath for p in state.ports}
    first = {names.get(by_port[p], by_port[p]) for p in bound if p in by_port}
    return admit(((e.datapath, e.lflow, bool(plan.shapes[e.shape].key)) for e in plan.entries),
                 limits, first)


# ---- proving it loads ---------------------------------------------------------------------------

def verify(pipeline_c: Path, sizes: dict | None = None) -> dict:
    """Build the datapath's pipeline programs around `pipeline_c` (maps of `sizes`:
    controller.limits.map_sizes) and load them (the kernel verifier's verdict).
    -> {"insns": {program: n}, "compile_s": s}; CompileError if refused."""
    from datapath.chassis import PipelineLoadError, verify_pipeline   # lazy: bcc
    try:
        return verify_pipeline(Path(pipeline_c), sizes)
    except PipelineLoadError as e:
        raise CompileError(f"the kernel refused the generated pipeline: {e}") from None


def write_outputs(result: CompileResult, out: Path, report: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.c").write_text(result.source)
    (out / "ovnbpf_pipeline.h").write_text(result.header)
    (out / "maps.json").write_text(json.dumps(
        {name: [[k.hex(), v.hex()] for k, v in rows] for name, rows in sorted(result.entries.items())},
        indent=0))
    (out / "coverage.json").write_text(json.dumps(report, indent=1))
    (out / "shapes.json").write_text(json.dumps(
        [{"shape": i, "describe": s.describe(), "lflows": result.shape_lflows.get(i, [])}
         for i, s in enumerate(result.plan.shapes)], indent=1))
    return out / "pipeline.c"


def compile_chassis(remote, chassis_name, out_dir=None, load=True, limits=None):
    """What the controller would program for `chassis_name`: the same limits, the same
    allocators (so the same cookies and refusals) and, loading, the same map sizes."""
    t0 = time.monotonic()
    state = snapshot(remote)
    return compile_and_load(state, chassis_name, out_dir, load, limits, t0)


def compile_and_load(state, chassis_name, out_dir=None, load=True, limits=None, t0=None):
    t0 = time.monotonic() if t0 is None else t0
    limits = limits or DEFAULT_LIMITS
    group_keys, cookies = allocators(limits)
    result = compile_state(state, chassis_name, synthetic_key=group_keys, cookie=cookies,
                           limits=limits)
    report = result.summary()
    report["compile_s"] = round(time.monotonic() - t0, 3)
    with tempfile.TemporaryDirectory(prefix="ovnbpf-compile-") as tmp:
        out = Path(out_dir) if out_dir else Path(tmp)
        pipeline_c = write_outputs(result, out, report)
        if load:
            sizes = map_sizes(result.entries, max(result.cookies, default=0), limits)
            got = verify(pipeline_c, sizes)
            report["program"] = {"insns": sum(got["insns"].values()), "per_program": got["insns"],
                                 "compile_s": got["compile_s"], "loaded": True,
                                 "map_sizes": got.get("sizes", sizes)}
        else:
            report["program"] = {"loaded": False, "reason": "not asked to load"}
        (out / "coverage.json").write_text(json.dumps(report, indent=1))
    return report


def format_report(r):
    lines = [f"flows: {r['total']} total, {r['compiled']} compiled "
             f"({r.get('via_punt', 0)} of them through the controller's punt path), "
             + ", ".join(f"{n} {c}" for c, n in r["by_category"].items() if c != "compiled"),
             f"datapaths: {', '.join(r['datapaths'])}; {r['shapes']} shapes "
             f"(shape_hash {r['shape_hash'][:12]}), {sum(r['maps'].values())} map entries in "
             f"{len(r['maps'])} maps; {len(r['synthetic_groups'])} synthetic groups; "
             f"{r['compile_s']} s"]
    refused = r.get("limits", {}).get("refused_datapaths")
    if refused:
        lines.append("  " + next(w for w in r["warnings"] if w.startswith("limit reached")))
    reasons = collections.Counter((u["category"], u["reason"]) for u in r["unsupported"])
    for (cat, reason), n in sorted(reasons.items()):
        lines.append(f"  {n:4d}  {cat:16s} {reason}")
    lines += blackhole_lines(r["unsupported"])
    lines += not_compiled_lines(r["unsupported"], limit=1000)
    for w in r["warnings"]:
        if ": not compiled, dropped: " not in w and not w.startswith("limit reached"):
            lines.append(f"  warning: {w}")
    p = r["program"]
    sizes = ", ".join(f"{k} {v}" for k, v in p.get("map_sizes", {}).items())
    lines.append("program: " + (f"loaded, {p['insns']} instructions verified "
                                f"({', '.join(f'{k} {v}' for k, v in p['per_program'].items())}), "
                                f"{p['compile_s']} s" + (f"; map sizes: {sizes}" if sizes else "")
                                if p["loaded"] else f"not loaded: {p['reason']}"))
    return "\n".join(lines)
