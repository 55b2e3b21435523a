"""A pure-Python reference evaluator: what a match or an action list *means* on a packet.

A packet is a dict with the members of struct ovnbpf_flow (bpf/lib/flow.h) as keys,
registers as "reg[0]".."reg[15]"; `new_packet()` makes one. String fields (inport,
outport) hold port keys; the evaluator maps names to keys with a `port_key` callback.

`eval_match` interprets the syntax tree directly from the symbol table (predicates by
their text, prerequisites added at the leaves, negation pushed down first) and shares no
code with passes.py, so the property tests can check every pass against it.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from . import actions as A
from . import ast
from .expr import And, Bool, Cmp, Cond, Dnf, Or, Term
from .parser import Parser, parse_match
from .passes import Env
from .symbols import FLOW_MEMBERS, Field, Predicate, SymbolTable, default_symtab

__all__ = ["new_packet", "read_field", "write_field", "eval_match", "eval_ir", "eval_dnf",
           "run_actions", "operand_value", "Verdict"]

PortKey = Callable[[str], int]


def new_packet(**members) -> dict:
    pkt = {name: 0 for name in FLOW_MEMBERS}
    for name, value in members.items():
        if name not in pkt:
            raise KeyError(f"struct ovnbpf_flow has no member {name!r}")
        pkt[name] = value
    return pkt


def read_field(pkt: dict, fld: Field) -> int:
    value = 0
    for s in fld.storage:
        value = (value << s.width) | ((pkt[s.member] >> s.shift) & ((1 << s.width) - 1))
    return value


def write_field(pkt: dict, fld: Field, value: int, mask: int | None = None) -> None:
    """Store `value` into the field's storage, only the bits set in `mask`."""
    if mask is None:
        mask = (1 << max(fld.width, 32 if fld.is_string else 0)) - 1
    shift = 0
    for s in reversed(fld.storage):
        part_mask = (mask >> shift) & ((1 << s.width) - 1)
        part = (value >> shift) & part_mask
        member_bits = (1 << FLOW_MEMBERS[s.member]) - 1
        old = pkt[s.member]
        pkt[s.member] = ((old & ~(part_mask << s.shift)) | (part << s.shift)) & member_bits
        shift += s.width


@lru_cache(maxsize=None)
def _parsed(text: str):
    return parse_match(text)


def _relation(x: int, op: str, c: int) -> bool:
    return {"==": x == c, "!=": x != c, "<": x < c, "<=": x <= c, ">": x > c, ">=": x >= c}[op]


_NEG = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


class _MatchEvaluator:
    def __init__(self, pkt, symtab, env, port_key, is_resident, datapath=None):
        self.pkt, self.symtab, self.env = pkt, symtab, env
        self.port_key, self.is_resident = port_key, is_resident
        self.datapath = datapath

    def ev(self, node, negate: bool) -> bool:
        if isinstance(node, ast.BoolLit):
            return node.value != negate
        if isinstance(node, ast.Not):
            return self.ev(node.item, not negate)
        if isinstance(node, ast.And):
            results = (self.ev(i, negate) for i in node.items)
            return any(results) if negate else all(results)
        if isinstance(node, ast.Or):
            results = (self.ev(i, negate) for i in node.items)
            return all(results) if negate else any(results)
        if isinstance(node, ast.Call):
            return bool(self.is_resident(node.args[0].value)) != negate
        if isinstance(node, ast.Symbol):
            sym = self.symtab.lookup(node.ref.name)
            if isinstance(sym, Predicate):
                return self.ev(_parsed(sym.expansion), negate)
            return self.compare(node.ref, "!=" if negate else "==", [ast.Const(1)])
        if isinstance(node, ast.Compare):
            return self.compare(node.field, _NEG[node.op] if negate else node.op,
                                list(node.values))
        raise TypeError(node)

    def prereqs_hold(self, ref) -> bool:
        sym = self.symtab.lookup(ref.name)
        base, _, _ = self.symtab.resolve(ref.name)
        texts = [t for t in {sym.prereq, base.prereq} if t]
        return all(self.ev(_parsed(t), False) for t in texts)

    def values(self, values):
        for v in values:
            if isinstance(v, ast.AddrSetRef):
                yield from self.values(Parser(t).parse_value() for t in self.env.address_sets[v.name])
            elif isinstance(v, ast.PortGroupRef):
                members = self.env.port_group(v.name, self.datapath)
                if members is None:
                    raise KeyError(f"unknown port group @{v.name}")
                yield from (ast.StrConst(p) for p in members)
            else:
                yield v

    def compare(self, ref, op, values) -> bool:
        base, lo, hi = self.symtab.resolve(ref.name)
        if ref.sliced:
            lo, hi = lo + ref.lo, lo + ref.hi
        x = read_field(self.pkt, base)
        tests = []
        for v in self.values(values):
            if isinstance(v, ast.StrConst):
                tests.append(_relation(x, op, self.port_key(v.value)))
            else:
                bits = (x >> lo) & ((1 << (hi - lo + 1)) - 1)
                if v.mask is not None:
                    tests.append(_relation(bits & v.mask, op, v.value))
                else:
                    tests.append(_relation(bits, op, v.value))
        # == against a set: any member; != against a set: none of them.
        result = all(tests) if op == "!=" else any(tests)
        return result and self.prereqs_hold(ref)


def eval_match(tree, pkt: dict, port_key: PortKey, symtab: SymbolTable | None = None,
               env: Env | None = None, is_resident: Callable[[str], bool] = lambda p: False,
               datapath: str | None = None) -> bool:
    """Does the match (a syntax tree) hold for pkt? (`datapath` names @port groups.)"""
    return _MatchEvaluator(pkt, symtab or default_symtab(), env or Env(), port_key,
                           is_resident, datapath).ev(tree, False)


def _term_holds(pkt, symtab, port_key, field, value, mask) -> bool:
    x = read_field(pkt, symtab.fields[field])
    if mask is None:
        return x == port_key(value)
    return x & mask == value


def eval_ir(node, pkt: dict, port_key: PortKey, symtab: SymbolTable | None = None,
            is_resident: Callable[[str], bool] = lambda p: False) -> bool:
    """Evaluate the passes' IR (any stage before normalize)."""
    symtab = symtab or default_symtab()
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, And):
        return all(eval_ir(i, pkt, port_key, symtab, is_resident) for i in node.items)
    if isinstance(node, Or):
        return any(eval_ir(i, pkt, port_key, symtab, is_resident) for i in node.items)
    if isinstance(node, Cond):
        return bool(is_resident(node.arg)) == node.positive
    if isinstance(node, Term):
        return _term_holds(pkt, symtab, port_key, node.field, node.value, node.mask)
    if isinstance(node, Cmp):
        x = read_field(pkt, symtab.fields[node.field])
        if not node.width:
            tests = [_relation(x, node.op, port_key(v)) for v, _ in node.values]
        else:
            bits = (x >> node.lo) & ((1 << node.width) - 1)
            tests = [_relation(bits & m, node.op, v) for v, m in node.values]
        return all(tests) if node.op == "!=" else any(tests)
    raise TypeError(node)


def eval_dnf(dnf: Dnf, pkt: dict, port_key: PortKey, symtab: SymbolTable | None = None) -> bool:
    symtab = symtab or default_symtab()
    return any(all(_term_holds(pkt, symtab, port_key, f, v, m) for f, v, m in conj)
               for conj in dnf.conjs)


# ---- actions --------------------------------------------------------------------------

Verdict = A.Verdict


def operand_value(pkt, symtab, operand, port_key):
    """(value, mask or None) of an action operand: a constant, a port name, a field."""
    if isinstance(operand, ast.Const):
        return operand.value, operand.mask
    if isinstance(operand, ast.StrConst):
        return port_key(operand.value), None
    base, lo, hi = symtab.resolve(operand.name)
    if base.is_string and not operand.sliced:     # inport/outport: the whole port key
        return read_field(pkt, base), None
    if operand.sliced:
        lo, hi = lo + operand.lo, lo + operand.hi
    return (read_field(pkt, base) >> lo) & ((1 << (hi - lo + 1)) - 1), None


_operand_value = operand_value     # the older private name


def _store(pkt, symtab, ref, value, mask=None):
    base, lo, hi = symtab.resolve(ref.name)
    if ref.sliced:
        lo, hi = lo + ref.lo, lo + ref.hi
    width = hi - lo + 1 if not base.is_string else 32
    field_mask = ((1 << width) - 1) if mask is None else mask
    write_field(pkt, base, value << lo, field_mask << lo)


class _Run:
    """What an action's evaluate(run) works with (see actions/base.py)."""

    def __init__(self, pkt, symtab, port_key, helpers):
        self.pkt, self.symtab, self.port_key, self.helpers = pkt, symtab, port_key, helpers

    def value(self, operand):
        return operand_value(self.pkt, self.symtab, operand, self.port_key)

    def store(self, ref, value, mask=None):
        _store(self.pkt, self.symtab, ref, value, mask)


def run_actions(actions, pkt: dict, port_key: PortKey, symtab: SymbolTable | None = None,
                helpers: dict | None = None) -> Verdict:
    """Execute actions on pkt (in place) up to the first next/output/drop or punt.

    `helpers` maps function-like action keywords (check_in_port_sec, get_fdb, get_arp, ...)
    to callables (pkt, args) -> value; missing ones return 0. An empty list drops."""
    run = _Run(pkt, symtab or default_symtab(), port_key, helpers or {})
    for act in actions:
        verdict = act.evaluate(run)
        if verdict is not None:
            return verdict
    return Verdict(("drop",))
