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
from .symbols import NEEDS_CONNTRACK, SymbolError, SymbolTable, default_symtab

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


def _check_actions(acts, symtab: SymbolTable, findings: _Findings, pipeline: str, top: bool):
    """Each action's category and reason, and whatever its check() finds (fields it
    cannot read or write, ...); the registry's classes say it, this only collects."""
    terminated = None
    for act in acts:
        if terminated and top:
            findings.add(A.UNSUPPORTED, f"actions after '{terminated}' are not lowered yet")
        findings.add(act.category, f"{act.keyword}: {act.reason}" if act.reason else "")
        for problem in act.check(symtab, pipeline):
            findings.add(*problem)
        # Actions inside a punted block run in the controller; inside clone they run here.
        if act.category not in (A.PUNT, A.CONNTRACK):
            _check_actions(act.nested(), symtab, findings, pipeline, False)
        # a pausing action (put_dhcp_opts) resumes the packet: what follows it still runs
        if act.terminal or (act.consumes_packet and not act.pauses):
            terminated = terminated or act.keyword


def _with_action_prereqs(match, acts, symtab: SymbolTable):
    """The match ANDed with the prerequisites of the fields the flow's own actions touch,
    as ovn-controller does: northd's two DNS response flows share the match
    `udp.dst == 53 && reg0[4]` and differ only by `ip4.src <-> ip4.dst` / `ip6.src <-> ...`.
    (Nested actions act on a new packet: their prerequisites are not the flow's.)"""
    texts = []
    for act in acts:
        refs = [ref for ref, _ in act.fields()]
        if isinstance(act, A.DecTtl):
            refs.append(ast.FieldRef("ip.ttl"))
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
