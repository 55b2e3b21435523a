"""The expression passes, one function each, in the order they run:

    annotate(tree)            resolve symbols, expand predicates, push negation into the
                              leaves, add each field's prerequisites (positively)
    simplify(ir)              sets, != and <,<=,>,>= become masked equality terms;
                              constant folding and flattening
    evaluate_conditions(ir)   decide is_chassis_resident() for this chassis
    normalize(ir)             a disjunction of conjunctions of (field, value, mask)

Negation is pushed down *before* prerequisites are added, so `!(tcp.dst == 80)` means
`tcp.dst != 80 && tcp`: prerequisites are never negated (as in OVN).
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from functools import lru_cache
from typing import Callable, Mapping

from . import ast
from .expr import (And, Bool, Cmp, CompileError, Cond, Dnf, FALSE, Or, TRUE, Term,
                   UnsupportedError)
from .parser import Parser, ParseError, parse_match
from .symbols import Field, Predicate, SymbolTable, default_symtab

__all__ = ["Env", "annotate", "simplify", "evaluate_conditions", "normalize",
           "compile_match", "MAX_CONJUNCTIONS"]

MAX_CONJUNCTIONS = 4096
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True)
class Env:
    """Southbound data a match may refer to by name."""
    address_sets: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)  # $name
    port_groups: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)   # @name


@lru_cache(maxsize=None)
def _parse_symbol_text(text: str):
    return parse_match(text)


def _all_ones(width: int) -> int:
    return (1 << width) - 1


# ---- annotate ----------------------------------------------------------------------

def _canonical_fields(symtab: SymbolTable) -> dict[str, str]:
    """Fields that share storage (tcp.src/udp.src, arp.op/rarp.op, icmp4/icmp6.type) are
    one field to the passes, named after the first row with that storage, so that terms
    on the same bits merge (and contradict) in normalize and share a key in the planner."""
    cached = symtab.__dict__.get("_canonical")
    if cached is not None and cached[0] == len(symtab.fields):
        return cached[1]
    first: dict[tuple, str] = {}
    out = {}
    for name, fld in symtab.fields.items():
        if fld.storage:
            out[name] = first.setdefault((fld.storage, fld.is_string), name)
    symtab.__dict__["_canonical"] = (len(symtab.fields), out)   # symbol tables only grow
    return out


def _register_of(base: Field, lo: int, width: int, symtab: SymbolTable):
    """A slice of xreg/xxreg that lies inside one 32-bit register, as (regN, lo)."""
    if not base.name.startswith(("xreg", "xxreg")) or width == 0:
        return None
    hi = lo + width - 1
    index_from_right = lo // 32
    if hi // 32 != index_from_right:
        return None
    slices = base.storage
    member = slices[len(slices) - 1 - index_from_right].member   # e.g. "reg[3]"
    reg = "reg" + member[4:-1]
    return symtab.fields[reg], lo - 32 * index_from_right


class _Annotator:
    def __init__(self, symtab: SymbolTable, env: Env):
        self.symtab = symtab
        self.env = env
        self.canonical = _canonical_fields(symtab)

    def run(self, node, negate: bool):
        if isinstance(node, ast.BoolLit):
            return Bool(node.value != negate)
        if isinstance(node, ast.Not):
            return self.run(node.item, not negate)
        if isinstance(node, (ast.And, ast.Or)):
            # de Morgan: under negation && becomes || and vice versa.
            is_and = isinstance(node, ast.And) != negate
            items = tuple(self.run(item, negate) for item in node.items)
            return And(items) if is_and else Or(items)
        if isinstance(node, ast.Call):
            return Cond(node.name, node.args[0].value, not negate)
        if isinstance(node, ast.Symbol):
            return self.symbol(node.ref, negate)
        if isinstance(node, ast.Compare):
            return self.compare(node, negate)
        raise TypeError(f"not a match node: {node!r}")

    def resolve(self, ref: ast.FieldRef) -> tuple[Field, int, int]:
        """(base field, lo, width) of a field or subfield reference with its slice."""
        try:
            base, lo, hi = self.symtab.resolve(ref.name)
        except ValueError as e:
            raise CompileError(str(e)) from None
        if base.unsupported:
            raise UnsupportedError(f"field {ref.name} is not supported: {base.unsupported}",
                                   base.unsupported)
        width = hi - lo + 1 if not base.is_string else 0
        if ref.sliced:
            if base.is_string or not base.ordinal:
                raise CompileError(f"cannot take bits of nominal field {ref.name}")
            if ref.hi >= width:
                raise CompileError(f"{ref.name}[{ref.lo}..{ref.hi}] is outside its {width} bits")
            lo, width = lo + ref.lo, ref.hi - ref.lo + 1
        in_register = _register_of(base, lo, width, self.symtab)
        if in_register:
            base, lo = in_register
        return self.symtab.fields[self.canonical[base.name]], lo, width

    def prereqs(self, ref: ast.FieldRef):
        """The prerequisites of a field or subfield, annotated (always positive)."""
        texts = []
        sym = self.symtab.lookup(ref.name)
        if getattr(sym, "prereq", None):
            texts.append(sym.prereq)
        base, _, _ = self.symtab.resolve(ref.name)
        if base is not sym and base.prereq:
            texts.append(base.prereq)
        return [self.run(_parse_symbol_text(t), False) for t in texts]

    def with_prereqs(self, ref, cmp):
        prereqs = self.prereqs(ref)
        return And((cmp, *prereqs)) if prereqs else cmp

    def symbol(self, ref: ast.FieldRef, negate: bool):
        if ref.name not in self.symtab:
            raise CompileError(f"unknown symbol {ref.name!r}")
        sym = self.symtab.lookup(ref.name)
        if isinstance(sym, Predicate):
            if ref.sliced:
                raise CompileError(f"cannot take bits of predicate {ref.name}")
            return self.run(_parse_symbol_text(sym.expansion), negate)
        base, lo, width = self.resolve(ref)
        if width != 1:
            raise CompileError(f"{ref.name} is {width} bits wide: compare it explicitly")
        cmp = Cmp(base.name, "!=" if negate else "==", lo, 1, ((1, 1),))
        return self.with_prereqs(ref, cmp)

    def compare(self, node: ast.Compare, negate: bool):
        if node.field.name not in self.symtab:
            raise CompileError(f"unknown field {node.field.name!r}")
        if isinstance(self.symtab.lookup(node.field.name), Predicate):
            raise CompileError(f"predicate {node.field.name} cannot be compared")
        base, lo, width = self.resolve(node.field)
        op = _NEGATE[node.op] if negate else node.op
        if op not in ("==", "!=") and (base.is_string or not base.ordinal):
            raise CompileError(f"{node.op} is not allowed on nominal field {node.field.name}")
        values = []
        for value in node.values:
            values.extend(self.expand_value(value, base, node.field.name, width))
        if op not in ("==", "!=") and (len(values) != 1 or node.is_set
                                       or values[0][1] != _all_ones(width)):
            raise CompileError(f"{node.op} needs a single unmasked constant")
        return self.with_prereqs(node.field, Cmp(base.name, op, lo, width, tuple(values)))

    def expand_value(self, value, base: Field, name: str, width: int) -> list:
        if isinstance(value, ast.AddrSetRef):
            if value.name not in self.env.address_sets:
                raise CompileError(f"unknown address set ${value.name}")
            out = []
            for text in self.env.address_sets[value.name]:
                try:
                    const = Parser(text).parse_value()
                except ParseError as e:
                    raise CompileError(f"address set ${value.name}: {e}") from None
                out.extend(self.expand_value(const, base, name, width))
            return out
        if isinstance(value, ast.PortGroupRef):
            if value.name not in self.env.port_groups:
                raise CompileError(f"unknown port group @{value.name}")
            return [v for port in self.env.port_groups[value.name]
                    for v in self.expand_value(ast.StrConst(port), base, name, width)]
        if base.is_string:
            if not isinstance(value, ast.StrConst):
                raise CompileError(f"{name} is a string field: compare it with a quoted name")
            return [(value.value, None)]
        if not isinstance(value, ast.Const):
            raise CompileError(f"{name} is an integer field: compare it with a number")
        mask = _all_ones(width) if value.mask is None else value.mask
        if value.value >> width or mask >> width:
            raise CompileError(f"constant {value.value:#x} does not fit in {width}-bit {name}")
        if value.value & ~mask:
            raise CompileError(f"constant {value.value:#x} has bits outside its mask {mask:#x}")
        return [(value.value, mask)]


def annotate(tree, symtab: SymbolTable | None = None, env: Env | None = None):
    """AST -> IR with predicates expanded, negations in the leaves and prerequisites added."""
    return _Annotator(symtab or default_symtab(), env or Env()).run(tree, False)


# ---- simplify ----------------------------------------------------------------------

def _fold(node_type, items):
    """Flatten, fold constants and drop duplicates in an And/Or."""
    absorbing, neutral = (FALSE, TRUE) if node_type is And else (TRUE, FALSE)
    out = []
    for item in items:
        parts = item.items if isinstance(item, node_type) else (item,)
        for part in parts:
            if part == absorbing:
                return absorbing
            if part != neutral and part not in out:
                out.append(part)
    if not out:
        return neutral
    return out[0] if len(out) == 1 else node_type(tuple(out))


def _range_prefixes(low: int, high: int, width: int):
    """Cover [low, high] with aligned blocks: (value, mask) pairs within `width` bits."""
    out = []
    while low <= high:
        size = low & -low if low else 1 << width
        while size > high - low + 1:
            size >>= 1
        out.append((low, _all_ones(width) & ~(size - 1)))
        low += size
    return out


def _cmp_terms(cmp: Cmp):
    if not cmp.width:  # string field
        if cmp.op != "==":
            raise CompileError(f"{cmp.field} != \"...\" is not supported (string fields only "
                               "support == in a positive sense)")
        return _fold(Or, [Term(cmp.field, v, None) for v, _ in cmp.values])

    def term(value, mask):
        return Term(cmp.field, value << cmp.lo, mask << cmp.lo)

    if cmp.op == "==":
        return _fold(Or, [term(v, m) for v, m in cmp.values])
    if cmp.op == "!=":
        # f & m != v: some bit under the mask differs. For a set: differs from each.
        return _fold(And, [
            _fold(Or, [term(~v & (1 << b), 1 << b) for b in range(cmp.width) if m >> b & 1])
            for v, m in cmp.values])
    [(c, _)] = cmp.values
    top = _all_ones(cmp.width)
    low, high = {"<": (0, c - 1), "<=": (0, c), ">": (c + 1, top), ">=": (c, top)}[cmp.op]
    return _fold(Or, [term(v, m) for v, m in _range_prefixes(low, min(high, top), cmp.width)])


def simplify(node):
    """Annotated IR -> IR of Bool, Term, And, Or, Cond (no Cmp), folded and flattened."""
    if isinstance(node, Cmp):
        return _cmp_terms(node)
    if isinstance(node, (And, Or)):
        return _fold(type(node), [simplify(item) for item in node.items])
    if isinstance(node, (Bool, Term, Cond)):
        return node
    raise TypeError(f"not an IR node: {node!r}")


# ---- evaluate chassis-dependent conditions ----------------------------------------------

def evaluate_conditions(node, is_chassis_resident: Callable[[str], bool]):
    """Replace each is_chassis_resident(port) by its value on this chassis, then fold."""
    if isinstance(node, Cond):
        if node.name != "is_chassis_resident":
            raise CompileError(f"unknown condition {node.name}")
        return Bool(bool(is_chassis_resident(node.arg)) == node.positive)
    if isinstance(node, (And, Or)):
        return _fold(type(node), [evaluate_conditions(item, is_chassis_resident)
                                  for item in node.items])
    return node


# ---- normalize ---------------------------------------------------------------------

def _merge(a: dict, b: dict) -> dict | None:
    """The conjunction of two conjunctions, or None if they contradict."""
    out = dict(a)
    for field, (value, mask) in b.items():
        if field not in out:
            out[field] = (value, mask)
            continue
        v0, m0 = out[field]
        if mask is None:  # strings
            if v0 != value:
                return None
            continue
        if (v0 ^ value) & m0 & mask:
            return None
        out[field] = (v0 | value, m0 | mask)
    return out


def _implies(a: dict, b: dict) -> bool:
    """Every packet matching conjunction a matches conjunction b."""
    for field, (value, mask) in b.items():
        if field not in a:
            return False
        v0, m0 = a[field]
        if mask is None:
            if v0 != value:
                return False
        elif mask & ~m0 or (v0 ^ value) & mask:
            return False
    return True


def _dnf(node) -> list[dict]:
    if isinstance(node, Bool):
        return [{}] if node.value else []
    if isinstance(node, Term):
        return [{node.field: (node.value, node.mask)}]
    if isinstance(node, Or):
        return [c for item in node.items for c in _dnf(item)]
    if isinstance(node, And):
        conjs = [{}]
        for item in node.items:
            conjs = [m for a in conjs for b in _dnf(item) if (m := _merge(a, b)) is not None]
            if len(conjs) > MAX_CONJUNCTIONS:
                raise CompileError(f"expression expands to more than {MAX_CONJUNCTIONS} terms")
        return conjs
    if isinstance(node, Cond):
        raise CompileError("evaluate_conditions must run before normalize")
    raise TypeError(f"not a simplified IR node: {node!r}")


def _sort_key(conj):
    return tuple((f, (0, v, m) if m is not None else (1, 0, 0), str(v)) for f, v, m in conj)


def normalize(node) -> Dnf:
    """Simplified, condition-free IR -> Dnf (sorted, duplicates and absorbed terms removed)."""
    conjs = _dnf(node)
    if len(conjs) > MAX_CONJUNCTIONS:
        raise CompileError(f"expression expands to more than {MAX_CONJUNCTIONS} terms")
    kept: list[dict] = []
    for conj in sorted(conjs, key=len):  # shorter (more general) first absorbs longer ones
        if not any(_implies(conj, k) for k in kept):
            kept.append(conj)
    out = {tuple((f, v, m) for f, (v, m) in sorted(c.items())) for c in kept}
    return Dnf(tuple(sorted(out, key=_sort_key)))


def compile_match(text: str, symtab: SymbolTable | None = None, env: Env | None = None,
                  is_chassis_resident: Callable[[str], bool] = lambda port: False,
                  uuid: str | None = None) -> Dnf:
    """All passes on one match string."""
    tree = parse_match(text, uuid)
    ir = simplify(annotate(tree, symtab, env))
    return normalize(evaluate_conditions(ir, is_chassis_resident))
