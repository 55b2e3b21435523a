"""Classify each logical flow by what the datapath needs to run it.

    compiled         the BPF pipeline runs it (possibly via a helper map lookup)
    needs-conntrack  uses ct_* fields or actions; we have no conntrack yet
    needs-punt       packet-generating or learning actions (icmp4 {}, arp {}, put_arp, ...),
                     to be done by the controller's punt path
    unsupported      anything else, with the reason

A flow takes the most severe category of its parts (unsupported > needs-conntrack >
needs-punt > compiled); `reasons` lists every distinct reason found.

Run `python -m controller.lflow.classify lflow-list.txt` for a summary of a capture.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

from . import actions as A
from . import ast
from .expr import CompileError, UnsupportedError
from .flows import LogicalFlow, read_lflow_list
from .lower import lower_clone
from .parser import ParseError, parse_actions, parse_match
from .passes import Env, annotate, simplify
from .symbols import NEEDS_CONNTRACK, Predicate, SymbolError, SymbolTable, default_symtab

__all__ = ["Classification", "classify_flow", "summarize", "SEVERITY"]

SEVERITY = {A.COMPILED: 0, A.PUNT: 1, A.CONNTRACK: 2, A.UNSUPPORTED: 3}


@dataclass(frozen=True)
class Classification:
    category: str
    reasons: tuple[str, ...] = ()


class _Findings:
    def __init__(self):
        self.category = A.COMPILED
        self.reasons: dict[str, list[str]] = {}

    def add(self, category: str, reason: str) -> None:
        if SEVERITY[category] > SEVERITY[self.category]:
            self.category = category
        found = self.reasons.setdefault(category, [])
        if reason and category != A.COMPILED and reason not in found:
            found.append(reason)

    def result(self) -> Classification:
        # Only the reasons of the winning category explain the classification.
        return Classification(self.category, tuple(self.reasons.get(self.category, ())))


def _field_problem(symtab: SymbolTable, ref: ast.FieldRef, writing: bool):
    """(category, reason) if a field reference cannot be compiled, else None."""
    try:
        sym = symtab.lookup(ref.name)
        if isinstance(sym, Predicate):
            return A.UNSUPPORTED, f"{ref.name} is a predicate, not a field"
        base, _, _ = symtab.resolve(ref.name)
    except SymbolError as e:
        return A.UNSUPPORTED, str(e)
    if base.unsupported:
        category = A.CONNTRACK if base.unsupported == NEEDS_CONNTRACK else A.UNSUPPORTED
        return category, f"{ref.name}: {base.unsupported}"
    if writing and not base.writable:
        return A.UNSUPPORTED, f"{ref.name} is read-only"
    return None


def _constant_problem(symtab: SymbolTable, dst: ast.FieldRef, src: ast.Const):
    """Why a constant cannot be assigned to dst (too wide for it), else None; OVN refuses
    such an action, so do we (it would be cut to the field's bits)."""
    try:
        base, lo, hi = symtab.resolve(dst.name)
    except SymbolError:
        return None      # reported by _field_problem
    if base.is_string:
        return None
    width = (dst.hi - dst.lo + 1) if dst.sliced else hi - lo + 1
    if src.value >> width or (src.mask is not None and src.mask >> width):
        return f"{dst.name}: constant {src.value:#x} does not fit in {width} bits"
    return None


def _check_actions(acts, symtab: SymbolTable, findings: _Findings, pipeline: str, top: bool):
    terminated = None
    for act in acts:
        if terminated and top:
            findings.add(A.UNSUPPORTED, f"actions after '{terminated}' are not lowered yet")
        findings.add(act.category, f"{act.keyword}: {act.reason}" if act.reason else "")
        if isinstance(act, A.Next) and (act.table is not None or act.pipeline is not None):
            findings.add(A.UNSUPPORTED, "next() to a given table is not lowered yet")
        refs = []
        if isinstance(act, A.Assign):
            refs = [(act.dst, True)] + ([(act.src, False)] if isinstance(act.src, ast.FieldRef) else [])
        elif isinstance(act, A.Exchange):
            refs = [(act.a, True), (act.b, True)]
        elif isinstance(act, A.ResultCall):
            refs = [(act.dst, True)]
        for ref, writing in refs:
            problem = _field_problem(symtab, ref, writing)
            if problem:
                findings.add(*problem)
        if isinstance(act, A.Assign) and isinstance(act.src, ast.Const):
            problem = _constant_problem(symtab, act.dst, act.src)
            if problem:
                findings.add(A.UNSUPPORTED, problem)
        if isinstance(act, A.Assign) and act.dst.name == "outport" and pipeline == "egress":
            findings.add(A.UNSUPPORTED, "outport is read-only in the egress pipeline")
        # Actions inside a punted block run in the controller; inside clone they run here.
        if isinstance(act, A.Nested) and act.category not in (A.PUNT, A.CONNTRACK):
            _check_actions(act.nested(), symtab, findings, pipeline, False)
        # a pausing action (put_dhcp_opts) resumes the packet: what follows it still runs
        if isinstance(act, (A.Next, A.Output, A.Drop)) or (act.consumes_packet and not act.pauses):
            terminated = terminated or act.keyword


def _with_action_prereqs(match, acts, symtab: SymbolTable):
    """The match ANDed with the prerequisites of the fields the flow's own actions touch,
    as ovn-controller does: northd's two DNS response flows share the match
    `udp.dst == 53 && reg0[4]` and differ only by `ip4.src <-> ip4.dst` / `ip6.src <-> ...`.
    (Nested actions act on a new packet: their prerequisites are not the flow's.)"""
    texts = []
    for act in acts:
        refs = []
        if isinstance(act, A.Assign):
            refs = [act.dst] + ([act.src] if isinstance(act.src, ast.FieldRef) else [])
        elif isinstance(act, A.Exchange):
            refs = [act.a, act.b]
        elif isinstance(act, A.DecTtl):
            refs = [ast.FieldRef("ip.ttl")]
        for ref in refs:
            try:
                sym = symtab.lookup(ref.name)
                base, _, _ = symtab.resolve(ref.name)
            except SymbolError:
                continue             # reported by _field_problem
            for t in (getattr(sym, "prereq", None), base.prereq):
                if t and t not in texts:
                    texts.append(t)
    if not texts:
        return match
    return ast.And((match, *(parse_match(t) for t in texts)))


def classify_flow(flow: LogicalFlow, symtab: SymbolTable | None = None,
                  env: Env | None = None) -> Classification:
    return classify_parsed(flow, symtab, env)[0]


def classify_parsed(flow: LogicalFlow, symtab: SymbolTable | None = None,
                    env: Env | None = None):
    """(Classification, simplified match IR or None, lowered actions or None, error): one
    parse serves both the classification and the planner (see plan.analyze_flow)."""
    symtab = symtab or default_symtab()
    findings = _Findings()
    try:
        match = parse_match(flow.match, flow.uuid8)
        acts = lower_clone(parse_actions(flow.actions, flow.uuid8))
    except ParseError as e:
        return Classification(A.UNSUPPORTED, (f"parse error: {e}",)), None, None, str(e)
    ir = error = None
    try:
        match = _with_action_prereqs(match, acts, symtab)
        ir = simplify(annotate(match, symtab, env, flow.datapath))
    except UnsupportedError as e:
        findings.add(A.CONNTRACK if e.reason == NEEDS_CONNTRACK else A.UNSUPPORTED, str(e))
        error = str(e)
    except CompileError as e:
        findings.add(A.UNSUPPORTED, f"match: {e}")
        error = str(e)
    _check_actions(acts, symtab, findings, flow.pipeline, True)
    return findings.result(), ir, acts, error


def summarize(flows, symtab=None, env=None) -> tuple[Counter, Counter]:
    """(flows per category, flows per (category, reason))."""
    categories, reasons = Counter(), Counter()
    for flow in flows:
        c = classify_flow(flow, symtab, env)
        categories[c.category] += 1
        for reason in c.reasons:
            reasons[(c.category, reason)] += 1
    return categories, reasons


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m controller.lflow.classify LFLOW_LIST.txt", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        flows = read_lflow_list(f.read())
    # $svc_monitor_mac comes from SB_Global; any MAC classifies the same way.
    env = Env(address_sets={"svc_monitor_mac": ("00:00:00:00:00:00",)})
    categories, reasons = summarize(flows, env=env)
    print(f"{len(flows)} flows")
    for category in sorted(categories, key=SEVERITY.get):
        print(f"  {category:16} {categories[category]}")
        for (cat, reason), n in sorted(reasons.items()):
            if cat == category:
                print(f"      {n:4}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
