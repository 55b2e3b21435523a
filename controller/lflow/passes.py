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
from .expr import (And, Bool, Cmp, FlowError, Cond, Dnf, FALSE, Or, TRUE, Term,
                   UnsupportedError)
from .parser import Parser, ParseError, parse_match
from .symbols import Field, Predicate, SymbolTable, default_symtab

__all__ = ["Env", "annotate", "simplify", "evaluate_conditions", "normalize",
           "compile_match", "MAX_CONJUNCTIONS"]

# A match may expand to this many conjunctions (map entries): an address set or port group
# of 100,000 members is one entry each. Products are bounded before they are made.
MAX_CONJUNCTIONS = 1 << 18
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


@dataclass(frozen=True)
class Env:
    """Southbound data a match may refer to by name."""
    address_sets: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)  # $name
    port_groups: Mapping[str, tuple[str, ...]] = dc_field(default_factory=dict)   # @name
    # datapath name -> tunnel key: northd names a datapath's SB Port_Group
    # "<tunnel key>_<name>" while its flows say @name
    datapath_keys: Mapping[str, int] = dc_field(default_factory=dict)

    def port_group(self, name: str, datapath: str | None = None):
        """The members of @name as a flow of `datapath` means it, or None if unknown:
        the datapath's own group first, then the bare name (older northd)."""
        key = self.datapath_keys.get(datapath) if datapath is not None else None
        if key is not None:
            members = self.port_groups.get(f"{key}_{name}")
            if members is not None:
                return members
        return self.port_groups.get(name)


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
    """lenient: a leaf that cannot be compiled (unknown field, set, group, conntrack...)
    becomes true instead of an error. Negation is in the leaves and And/Or are monotone,
    so the result matches a superset of the packets the match could: what a flow that
    fails closed must drop."""

    def __init__(self, symtab: SymbolTable, env: Env, datapath: str | None = None,
                 lenient: bool = False):
        self.symtab = symtab
        self.env = env
        self.datapath = datapath
        self.lenient = lenient
        self.canonical = _canonical_fields(symtab)

    def run(self, node, negate: bool):
        if not self.lenient or isinstance(node, (ast.And, ast.Or, ast.Not, ast.BoolLit)):
            return self._run(node, negate)
        try:
            return self._run(node, negate)
        except FlowError:
            return TRUE

    def _run(self, node, negate: bool):
        if isinstance(node, ast.BoolLit):
            return Bool(node.value != negate)
        if isinstance(node, ast.Not):
            return self.run(node.item, not negate)
        if isinstance(node, (ast.And, ast.Or)):
            # de Morgan: under negation && becomes || and vice versa.
            is_and = isinstance(node, ast.And) != negate
            items = tuple(self.run(item, negate) for item in node.items)
            return And(items) if is_and else Or(items)
        if isinstance(node, ast.MatchCall):
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
            raise FlowError(str(e)) from None
        if base.unsupported:
            raise UnsupportedError(f"field {ref.name} is not supported: {base.unsupported}",
                                   base.unsupported)
        width = hi - lo + 1 if not base.is_string else 0
        if ref.sliced:
            if base.is_string or not base.ordinal:
                raise FlowError(f"cannot take bits of nominal field {ref.name}")
            if ref.hi >= width:
                raise FlowError(f"{ref.name}[{ref.lo}..{ref.hi}] is outside its {width} bits")
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
            raise FlowError(f"unknown symbol {ref.name!r}")
        sym = self.symtab.lookup(ref.name)
        if isinstance(sym, Predicate):
            if ref.sliced:
                raise FlowError(f"cannot take bits of predicate {ref.name}")
            return self.run(_parse_symbol_text(sym.expansion), negate)
        base, lo, width = self.resolve(ref)
        if width != 1:
            raise FlowError(f"{ref.name} is {width} bits wide: compare it explicitly")
        cmp = Cmp(base.name, "!=" if negate else "==", lo, 1, ((1, 1),))
        return self.with_prereqs(ref, cmp)

    def compare(self, node: ast.Compare, negate: bool):
        if node.field.name not in self.symtab:
            raise FlowError(f"unknown field {node.field.name!r}")
        if isinstance(self.symtab.lookup(node.field.name), Predicate):
            raise FlowError(f"predicate {node.field.name} cannot be compared")
        base, lo, width = self.resolve(node.field)
        op = _NEGATE[node.op] if negate else node.op
        if op not in ("==", "!=") and (base.is_string or not base.ordinal):
            raise FlowError(f"{node.op} is not allowed on nominal field {node.field.name}")
        values = []
        for value in node.values:
            values.extend(self.expand_value(value, base, node.field.name, width))
        if op not in ("==", "!=") and (len(values) != 1 or node.is_set
                                       or values[0][1] != _all_ones(width)):
            raise FlowError(f"{node.op} needs a single unmasked constant")
        return self.with_prereqs(node.field, Cmp(base.name, op, lo, width, tuple(values)))

    def expand_value(self, value, base: Field, name: str, width: int) -> list:
        if isinstance(value, ast.AddrSetRef):
            if value.name not in self.env.address_sets:
                raise FlowError(f"unknown address set ${value.name}")
            out = []
            for text in self.env.address_sets[value.name]:
                try:
                    const = Parser(text).parse_value()
                except ParseError as e:
                    raise FlowError(f"address set ${value.name}: {e}") from None
                out.extend(self.expand_value(const, base, name, width))
            return out
        if isinstance(value, ast.PortGroupRef):
            members = self.env.port_group(value.name, self.datapath)
            if members is None:
                raise FlowError(f"unknown port group @{value.name}")
            return [v for port in members
                    for v in self.expand_value(ast.StrConst(port), base, name, width)]
        if base.is_string:
            if not isinstance(value, ast.StrConst):
                raise FlowError(f"{name} is a string field: compare it with a quoted name")
            return [(value.value, None)]
        if not isinstance(value, ast.Const):
            raise FlowError(f"{name} is an integer field: compare it with a number")
        mask = _all_ones(width) if value.mask is None else value.mask
        if value.value >> width or mask >> width:
            raise FlowError(f"constant {value.value:#x} does not fit in {width}-bit {name}")
        if value.value & ~mask:
            raise FlowError(f"constant {value.value:#x} has bits outside its mask {mask:#x}")
        return [(value.value, mask)]


def annotate(tree, symtab: SymbolTable | None = None, env: Env | None = None,
             datapath: str | None = None, lenient: bool = False):
    """AST -> IR with predicates expanded, negations in the leaves and prerequisites added.
    `datapath` (its name) resolves @port_group names; `lenient`: see _Annotator."""
    return _Annotator(symtab or default_symtab(), env or Env(), datapath, lenient).run(tree, False)


# ---- simplify ----------------------------------------------------------------------

def _fold(node_type, items):
    """Flatten, fold constants and drop duplicates in an And/Or (linear: a dict is the
    ordered set, so a 100,000-address set folds in one pass)."""
    absorbing, neutral = (FALSE, TRUE) if node_type is And else (TRUE, FALSE)
    out = {}
    for item in items:
        parts = item.items if isinstance(item, node_type) else (item,)
        for part in parts:
            if part == absorbing:
                return absorbing
            if part != neutral:
                out[part] = None
    if not out:
        return neutral
    return next(iter(out)) if len(out) == 1 else node_type(tuple(out))


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
            raise FlowError(f"{cmp.field} != \"...\" is not supported (string fields only "
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


def simplify(node, lenient: bool = False):
    """Annotated IR -> IR of Bool, Term, And, Or, Cond (no Cmp), folded and flattened.
    lenient: a comparison that cannot be expressed becomes true (see _Annotator)."""
    if isinstance(node, Cmp):
        if not lenient:
            return _cmp_terms(node)
        try:
            return _cmp_terms(node)
        except FlowError:
            return TRUE
    if isinstance(node, (And, Or)):
        return _fold(type(node), [simplify(item, lenient) for item in node.items])
    if isinstance(node, (Bool, Term, Cond)):
        return node
    raise TypeError(f"not an IR node: {node!r}")


# ---- evaluate chassis-dependent conditions ----------------------------------------------

def evaluate_conditions(node, is_chassis_resident: Callable[[str], bool]):
    """Replace each is_chassis_resident(port) by its value on this chassis, then fold."""
    if isinstance(node, Cond):
        if node.name != "is_chassis_resident":
            raise FlowError(f"unknown condition {node.name}")
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
            right = _dnf(item)
            if len(conjs) * len(right) > MAX_CONJUNCTIONS:
                raise FlowError(f"expression expands to more than {MAX_CONJUNCTIONS} terms")
            conjs = [m for a in conjs for b in right if (m := _merge(a, b)) is not None]
        return conjs
    if isinstance(node, Cond):
        raise FlowError("evaluate_conditions must run before normalize")
    raise TypeError(f"not a simplified IR node: {node!r}")


def _sort_key(conj):
    return tuple((f, (0, v, m) if m is not None else (1, 0, 0), str(v)) for f, v, m in conj)


def normalize(node) -> Dnf:
    """Simplified, condition-free IR -> Dnf (sorted, duplicates and absorbed terms removed)."""
    conjs = _dnf(node)
    if len(conjs) > MAX_CONJUNCTIONS:
        raise FlowError(f"expression expands to more than {MAX_CONJUNCTIONS} terms")
    kept = _Absorber()
    for conj in sorted(conjs, key=len):  # shorter (more general) first absorbs longer ones
        kept.add(conj)
    out = {tuple((f, v, m) for f, (v, m) in sorted(c.items())) for c in kept.kept}
    return Dnf(tuple(sorted(out, key=_sort_key)))


class _Absorber:
    """The conjunctions not implied by one kept before them, in time linear in their
    number: kept ones are grouped by signature (their fields and masks), and a conjunction
    implies a kept one exactly when, on a signature whose fields it has under at least
    those masks, its values cut to that signature are a kept group member. So each test is
    one set lookup per signature (a handful), not one _implies() per kept conjunction."""

    def __init__(self):
        self.kept: list[dict] = []
        self.groups: dict[tuple, set] = {}     # signature -> projected value tuples

    def add(self, conj: dict) -> None:
        for sig, members in self.groups.items():
            proj = _project(conj, sig)
            if proj is not None and proj in members:
                return
        self.kept.append(conj)
        sig = tuple((f, m) for f, (_, m) in sorted(conj.items()))
        self.groups.setdefault(sig, set()).add(tuple(v for _, (v, _) in sorted(conj.items())))


def _project(conj: dict, sig: tuple):
    """conj's values under a signature's fields and masks, or None if conj does not
    test every one of those bits."""
    out = []
    for field, mask in sig:
        got = conj.get(field)
        if got is None:
            return None
        value, m = got
        if mask is None:
            if m is not None:
                return None
            out.append(value)
        else:
            if m is None or mask & ~m:
                return None
            out.append(value & mask)
    return tuple(out)


def compile_match(text: str, symtab: SymbolTable | None = None, env: Env | None = None,
                  is_chassis_resident: Callable[[str], bool] = lambda port: False,
                  uuid: str | None = None) -> Dnf:
    """All passes on one match string."""
    tree = parse_match(text, uuid)
    ir = simplify(annotate(tree, symtab, env))
    return normalize(evaluate_conditions(ir, is_chassis_resident))
