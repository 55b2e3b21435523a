"""The planner: logical flows -> shapes (what code to generate) + entries (map contents).

A *shape* is a family of flows in one (pipeline, table, priority) whose normalized
conjunctions test the same fields under the same masks, and whose actions are the same
template once assignment constants are cut out:

    ls_in_l2_lkup prio 50:  eth.dst == K0  ->  outport = <V0>; output;

The generated C does one hash-map lookup per shape, keyed by (datapath, K...), and the map
value holds the template's constants <V...>. So a new port, MAC or datapath of an existing
kind is new *entries*, never new code: `shape_hash` covers the shapes only.

Lookup order (what emit_c generates and `lookup` simulates): within a table, shapes in
descending priority; the first hit wins. Priorities are distinct across the shapes that a
packet can hit in order, except at equal priority, where OVN leaves the choice undefined
too (we pick by shape order, deterministically). Within a shape, keys are exact after
masking, so at most one entry can match a packet.

Flows that cannot run in BPF still get entries, so they keep their place in the priority
order: a consuming punt (icmp4 {}, handle_*) becomes <controller keyword>, and conntrack or
unsupported actions become <not compiled>. Every entry carries its lflow's cookie (a small
integer the caller allocates per lflow uuid, see encode.py), so the datapath can count hits
and the controller can find the flow of a punt.

A flow is never skipped: one whose *match* cannot be compiled (a parse error, an unknown
field, set or group, conntrack, too deep, too large) or whose analysis or planning raised
fails closed. It becomes <not compiled> (a counted drop under its cookie) at its table and
priority, matching a superset of what its match could match: the match read with every
leaf it cannot compile as true, or everything on its datapath if even that fails. Such
flows are listed in `skipped` with their reason (which the status and the CLI show).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from . import actions as A
from .classify import classify_flow, classify_parsed
from .evaluator import read_field
from .expr import CompileError, Dnf
from .flows import LogicalFlow
from .formatter import format_actions, format_int
from .parser import parse_match
from .passes import Env, annotate, evaluate_conditions, normalize, simplify
from .symbols import SymbolTable, default_symtab

__all__ = ["KeyField", "Punt", "NotCompiled", "Shape", "Entry", "Plan", "build_plan",
           "Analysis", "analyze_flow", "AnalysisCache",
           "instantiate", "lookup", "PIPELINES"]

PIPELINES = ("ingress", "egress")


@dataclass(frozen=True)
class KeyField:
    field: str           # a base field of the symbol table
    mask: int | None     # None: a string field, the whole port key

    def describe(self) -> str:
        return self.field if self.mask is None else f"{self.field}/{self.mask:#x}"


@dataclass(frozen=True)
class Punt:
    """Template action: give the packet to the controller, which runs the flow's actions."""
    keyword: str
    category = A.PUNT
    terminal = True

    def format(self) -> str:
        return f"<controller {self.keyword}: lflow cookie>"

    def lower_c(self, c) -> None:
        c.line(f"OVNBPF_PUNT(f, {c.cookie});")
        c.line("return OVNBPF_PL_CONTROLLER;")

    def evaluate(self, run):
        return A.Verdict(("punt", self.keyword))

    def instantiate(self, params):
        return self


@dataclass(frozen=True)
class NotCompiled:
    """Template action: the flow needs something the datapath lacks (conntrack, ...)."""
    category: str
    terminal = True

    def format(self) -> str:
        return f"<not compiled: {self.category}: lflow cookie>"

    def lower_c(self, c) -> None:
        c.line(f"OVNBPF_NOT_COMPILED(f, {c.cookie});")
        c.line("return OVNBPF_PL_NOT_COMPILED;")

    def evaluate(self, run):
        raise NotImplementedError(f"no reference semantics for {self.format()}")

    def instantiate(self, params):
        return self


@dataclass(frozen=True)
class Shape:
    pipeline: str
    table: int
    priority: int
    key: tuple[KeyField, ...]       # besides the datapath, which every key has
    template: tuple                 # actions, with ast.Param holes
    params: tuple[str, ...]         # per hole: the field it is assigned to
    stages: tuple[str, ...]         # stage names of the flows (ls_in_l2_lkup, ...)

    def describe(self) -> str:
        match = " && ".join(f"{k.describe()} == K{i}" for i, k in enumerate(self.key)) or "1"
        return (f"{self.pipeline} table={self.table} ({', '.join(self.stages)}) "
                f"prio={self.priority}: {match} -> {format_actions(self.template)}")


@dataclass(frozen=True)
class Entry:
    shape: int              # index into Plan.shapes
    datapath: str
    key: tuple              # per Shape.key: masked value, or a port name for string fields
    params: tuple           # ast.Const / ast.StrConst, per Shape.params
    lflow: str              # uuid of the flow this entry came from


@dataclass(frozen=True)
class Plan:
    shapes: tuple[Shape, ...]
    entries: tuple[Entry, ...]
    skipped: tuple[tuple[str, str], ...]     # (lflow uuid, reason)
    conflicts: tuple[tuple[str, str], ...]   # (kept lflow, dropped lflow): same key and priority
    shape_hash: str
    unused: int = 0       # shapes kept from the running program that no flow fills (keep=)

    def shape_ids(self, pipeline: str, table: int) -> list[int]:
        return [i for i, s in enumerate(self.shapes) if (s.pipeline, s.table) == (pipeline, table)]

    def tables(self, pipeline: str) -> list[int]:
        return sorted({s.table for s in self.shapes if s.pipeline == pipeline})


def _templatize(acts) -> tuple[tuple, tuple, tuple]:
    """Cut assignment constants out of the actions: (template, params, param fields)."""
    params, fields = [], []
    template = tuple(act.template(params, fields) for act in acts)
    return template, tuple(params), tuple(fields)


def _flow_template(flow: LogicalFlow, category: str, acts):
    if category in (A.CONNTRACK, A.UNSUPPORTED):
        return (NotCompiled(category),), (), ()
    consuming = next((a for a in A.walk_actions(acts) if a.consumes_packet), None)
    if consuming is not None:
        return (Punt(consuming.keyword),), (), ()
    return _templatize(acts)


@dataclass(frozen=True)
class Analysis:
    """What the planner needs from one flow's text: its category, its match as a DNF and
    its (lowered) actions, or why the match cannot be compiled."""
    category: str
    reasons: tuple
    dnf: object = None
    acts: tuple = ()
    error: str | None = None


EVERYTHING = Dnf(((),))
MAX_REASON = 240     # a reason goes into log lines and the status file


def short(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."


def analyze_flow(flow: LogicalFlow, symtab: SymbolTable, env: Env,
                 is_chassis_resident: Callable[[str], bool]) -> Analysis:
    """Never raises: a flow whose analysis fails in any way is a failed Analysis (error set,
    dnf the superset of its packets that it drops)."""
    try:
        c, ir, acts, error = classify_parsed(flow, symtab, env)
        if error is None:
            try:
                dnf = normalize(evaluate_conditions(ir, is_chassis_resident))
            except CompileError as e:
                error = str(e)
            else:
                return Analysis(c.category, c.reasons, dnf, acts)
        category = c.category if c.category in (A.CONNTRACK, A.UNSUPPORTED) else A.UNSUPPORTED
        return failed(flow, symtab, env, is_chassis_resident, error, category,
                      c.reasons or (error,))
    except Exception as e:   # noqa: BLE001 - RecursionError, a bug: it costs this flow only
        return failed(flow, symtab, env, is_chassis_resident,
                      f"analysis failed: {type(e).__name__}: {e}")


def failed(flow: LogicalFlow, symtab, env, is_chassis_resident, error: str,
           category: str = A.UNSUPPORTED, reasons: tuple = ()) -> Analysis:
    """The Analysis of a flow that fails closed: its match read leniently (every leaf it
    cannot compile is true), or everything when even that cannot be done."""
    error = short(error)
    return Analysis(category, tuple(short(r) for r in reasons) or (error,),
                    lenient_dnf(flow, symtab, env, is_chassis_resident), (), error)


def lenient_dnf(flow, symtab, env, is_chassis_resident) -> Dnf:
    try:
        tree = parse_match(flow.match, flow.uuid8)
        ir = simplify(annotate(tree, symtab, env, flow.datapath, lenient=True), lenient=True)
        return normalize(evaluate_conditions(ir, is_chassis_resident))
    except Exception:   # noqa: BLE001 - whatever fails, the flow drops everything it may
        return EVERYTHING


class _Hashed:
    """A value whose hash is computed once (a tuple of 100,000 addresses re-hashes its
    members on every lookup)."""
    __slots__ = ("value", "hash")

    def __init__(self, value):
        self.value, self.hash = value, hash(value)

    def __hash__(self):
        return self.hash

    def __eq__(self, other):
        return (isinstance(other, _Hashed) and self.hash == other.hash
                and (self.value is other.value or self.value == other.value))


def _cacheable(flow: LogicalFlow) -> bool:
    # Matches naming chassis residence, address sets or port groups depend on more than
    # their text; everything else can be reused across compiles.
    return not any(t in flow.match for t in ("is_chassis_resident", "$", "@"))


class AnalysisCache:
    """Analyses by (pipeline, match, actions) text, reused across compiles: after a port
    add only the new flows are parsed and normalized again. Bounded by `limit` entries
    (cleared when full: a cache, never a source of truth)."""

    def __init__(self, limit: int = 200_000):
        self.limit = limit
        self.data: dict[tuple, Analysis] = {}
        self.hits = self.misses = 0
        self.emitted = None     # (shape_hash, layout, C source) of the last plan emitted
        # what the other flows' analyses depend on besides their text (address sets, port
        # groups, the ports bound here), set by the caller for one compile; None: no reuse
        self.context = None
        # build_plan's per-flow work: flow -> (analysis, [(shape id, entry key, params)]),
        # valid while the flow's analysis is the same object; shape ids are small ints
        # for shape identities, whose order key and description are kept beside them
        self.contributions: dict = {}
        self.shape_ids: dict[tuple, int] = {}
        self.shape_info: list[tuple] = []     # by id: (identity, order key, describe())

    @property
    def context(self):
        return self._context

    @context.setter
    def context(self, value):
        # hashed once per compile, not once per flow: it holds every address set
        self._context = None if value is None else _Hashed(value)

    def _ident(self, flow: LogicalFlow):
        ident = (flow.pipeline, flow.match, flow.actions, flow.uuid8)
        if not _cacheable(flow):
            if self.context is None:
                return None
            # @name means another group on each datapath (northd's "<dp key>_<name>")
            ident += (self.context, flow.datapath)
        return ident

    def peek(self, flow: LogicalFlow) -> Analysis | None:
        ident = self._ident(flow)
        return self.data.get(ident) if ident is not None else None

    def put(self, flow: LogicalFlow, analysis: Analysis) -> None:
        ident = self._ident(flow)
        if ident is not None:
            if len(self.data) >= self.limit:
                self.data.clear()
            self.data[ident] = analysis

    def get(self, flow: LogicalFlow, compute: Callable[[], Analysis]) -> Analysis:
        ident = self._ident(flow)
        if ident is None:
            return compute()
        hit = self.data.get(ident)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        if len(self.data) >= self.limit:
            self.data.clear()
        self.data[ident] = result = compute()
        return result


def build_plan(flows: list[LogicalFlow], symtab: SymbolTable | None = None,
               env: Env | None = None,
               is_chassis_resident: Callable[[str], bool] = lambda port: False,
               cache: AnalysisCache | None = None,
               fail: Callable[[LogicalFlow, Analysis], Analysis | None] | None = None,
               keep: tuple = ()) -> Plan:
    """fail(flow, analysis): the caller's last word on a flow, a failed Analysis for one
    that must fail closed for a reason only the caller knows (a port the SB lacks).

    keep: the shapes of the running program. When every shape these flows need is
    among them (in the same stages), the plan keeps them all, filled or not: its hash is
    the running one, so flows that went away cost map updates, not a rebuild (an unused
    shape is never hit: constants are entries). A plan that needs a new shape keeps
    nothing, so the rebuild it costs anyway drops the unused ones."""
    symtab = symtab or default_symtab()
    env = env or Env()
    memo = cache if cache is not None else AnalysisCache()
    if len(memo.shape_info) > memo.limit // 10:     # bounded, like the analyses
        memo.shape_ids, memo.shape_info, memo.contributions = {}, [], {}
    seen = {}
    groups: dict[int, dict] = {}     # shape id -> {"stages": set, "entries": {...}}
    skipped, conflicts = [], []
    for flow in sorted(flows, key=lambda f: f.uuid):
        def compute(flow=flow):
            return analyze_flow(flow, symtab, env, is_chassis_resident)
        a = cache.get(flow, compute) if cache is not None else compute()
        if fail is not None:
            a = fail(flow, a) or a
        done = memo.contributions.get(flow)
        if done is None or done[0] is not a:
            try:
                done = (a, _contributions(flow, a, memo))
            except Exception as e:   # noqa: BLE001 - a planner bug costs this flow only
                a = failed(flow, symtab, env, is_chassis_resident,
                           f"planning failed: {type(e).__name__}: {e}")
                done = (a, _fail_closed(flow, a, memo))
        if a.error is not None:
            skipped.append((flow.uuid, a.error))
        seen[flow] = done
        for sid, key, params in done[1]:
            group = groups.get(sid)
            if group is None:
                group = groups[sid] = {"stages": set(), "entries": {}}
            group["stages"].add(flow.stage)
            kept = group["entries"].get(key)
            if kept is None:
                group["entries"][key] = (params, flow.uuid)
            elif kept[1] != flow.uuid and kept[0] != params:
                conflicts.append((kept[1], flow.uuid))
    memo.contributions = seen        # only this compile's flows stay
    unused = _keep(groups, keep, memo)

    shapes, entries, described = [], [], []
    for sid in sorted(groups, key=lambda sid: memo.shape_info[sid][1]):
        (pipeline, table, priority, key_fields, template, param_fields), _, text = memo.shape_info[sid]
        index = len(shapes)
        stages = tuple(sorted(groups[sid]["stages"]))
        shapes.append(Shape(pipeline, table, priority, key_fields, template, param_fields, stages))
        described.append(text(stages))
        for (datapath, key), (params, uuid) in sorted(groups[sid]["entries"].items(),
                                                      key=lambda kv: (kv[0][0], repr(kv[0][1]))):
            entries.append(Entry(index, datapath, key, params, uuid))
    digest = hashlib.sha256(json.dumps(described).encode()).hexdigest()
    return Plan(tuple(shapes), tuple(entries), tuple(skipped), tuple(conflicts), digest[:16],
                unused)


def _keep(groups: dict, keep: tuple, memo: AnalysisCache) -> int:
    """Add the running program's shapes to `groups` if it needs no other shape and no
    other stage (see build_plan); returns how many of them stay unfilled."""
    if not keep:
        return 0
    kept = {}
    for s in keep:
        sid = memo.shape_ids.get((s.pipeline, s.table, s.priority, s.key, s.template, s.params))
        if sid is None:         # the id table was reset: rebuild rather than guess
            return 0
        kept[sid] = set(s.stages)
    if any(sid not in kept or not g["stages"] <= kept[sid] for sid, g in groups.items()):
        return 0
    unused = 0
    for sid, stages in kept.items():
        g = groups.get(sid)
        if g is None:
            g = groups[sid] = {"stages": set(), "entries": {}}
            unused += 1
        g["stages"] |= stages
    return unused


def _contributions(flow: LogicalFlow, a: Analysis, memo: AnalysisCache) -> list:
    """One flow's part of the plan: (shape id, (datapath, key values), params) per
    conjunction of its match. Shape identities get small ids once, with their sort key
    and description, so later compiles neither hash nor format them again."""
    if a.error is not None:
        return _fail_closed(flow, a, memo)
    template, params, param_fields = _flow_template(flow, a.category, a.acts)
    return [(_shape_id(flow, tuple(KeyField(f, m) for f, _, m in conj), template, param_fields,
                       memo), (flow.datapath, tuple(v for _, v, _ in conj)), params)
            for conj in a.dnf.conjs]


def _fail_closed(flow: LogicalFlow, a: Analysis, memo: AnalysisCache) -> list:
    """A failed flow's part of the plan: <not compiled> on each conjunction of the
    superset its Analysis holds (everything, if it holds none)."""
    template = (NotCompiled(a.category if a.category != A.COMPILED else A.UNSUPPORTED),)
    conjs = a.dnf.conjs if a.dnf is not None else EVERYTHING.conjs
    return [(_shape_id(flow, tuple(KeyField(f, m) for f, _, m in conj), template, (), memo),
             (flow.datapath, tuple(v for _, v, _ in conj)), ()) for conj in conjs]


def _shape_id(flow, key_fields, template, param_fields, memo: AnalysisCache) -> int:
    ident = (flow.pipeline, flow.table, flow.priority, key_fields, template, param_fields)
    sid = memo.shape_ids.get(ident)
    if sid is None:
        sid = memo.shape_ids[ident] = len(memo.shape_info)
        order = (PIPELINES.index(flow.pipeline), flow.table, -flow.priority,
                 [k.describe() for k in key_fields], format_actions(template))
        # describe() depends on the stages, which vary per compile: format the rest once
        match = " && ".join(f"{k.describe()} == K{i}" for i, k in enumerate(key_fields)) or "1"
        rest = f"prio={flow.priority}: {match} -> {format_actions(template)}"
        head = f"{flow.pipeline} table={flow.table} ("
        memo.shape_info.append((ident, order,
                                lambda stages, head=head, rest=rest: f"{head}{', '.join(stages)}) {rest}"))
    return sid


def instantiate(shape: Shape, params: tuple) -> tuple:
    """The template with an entry's constants put back: the flow's own actions."""
    return tuple(act.instantiate(params) for act in shape.template)


def describe_key(plan: Plan, entry: Entry) -> str:
    shape = plan.shapes[entry.shape]
    parts = [f"dp={entry.datapath}"]
    for kf, value in zip(shape.key, entry.key):
        parts.append(f"{kf.field}={value}" if kf.mask is None else f"{kf.field}={format_int(value, 'hex')}")
    return ", ".join(parts)


def lookup(plan: Plan, pipeline: str, table: int, datapath: str, pkt: dict,
           port_key: Callable[[str], int], symtab: SymbolTable | None = None) -> Entry | None:
    """What the generated code does for one table: probe each shape's map in order and
    return the first entry hit (a Python model of emit_c's output)."""
    symtab = symtab or default_symtab()
    by_shape: dict[int, dict] = {}
    for entry in plan.entries:
        if entry.datapath == datapath:
            shape = plan.shapes[entry.shape]
            key = tuple(port_key(v) if kf.mask is None else v for kf, v in zip(shape.key, entry.key))
            by_shape.setdefault(entry.shape, {})[key] = entry
    for index in plan.shape_ids(pipeline, table):
        shape = plan.shapes[index]
        probe = tuple(read_field(pkt, symtab.fields[kf.field]) & (kf.mask if kf.mask is not None else -1)
                      for kf in shape.key)
        hit = by_shape.get(index, {}).get(probe)
        if hit is not None:
            return hit
    return None
