"""The expression IR that the passes work on (after symbols are resolved).

Stages, each a subset of the node types below:
  annotate  -> Bool, Cmp, And, Or, Cond            (no negation left: pushed into the leaves)
  simplify  -> Bool, Term, And, Or, Cond           (sets, != and relations expanded to terms)
  evaluate  -> Bool, Term, And, Or                 (chassis-dependent conditions decided)
  normalize -> Dnf: a disjunction of conjunctions of terms

Fields here are always *base* fields of the symbol table (subfields and slices have
become bit positions), so two terms on the same storage can be merged.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FlowError", "UnsupportedError", "Bool", "Cmp", "Term", "And", "Or", "Cond", "Conj", "Dnf", "TRUE", "FALSE"]


class FlowError(ValueError):
    """One flow the compiler cannot handle (bad width, unknown set...): it costs only that
    flow. (compile.CompileError is the other kind: the whole chassis compile failed.)"""


class UnsupportedError(FlowError):
    """Uses something the datapath cannot provide; `reason` says what (e.g. conntrack)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Bool:
    value: bool


TRUE, FALSE = Bool(True), Bool(False)


@dataclass(frozen=True)
class Cmp:
    """`field[lo .. lo+width-1] op v` for each (v, mask) in values (a set when several).

    Values and masks are relative to the slice. For string fields width is 0, values are
    (name, None). With several values, == means any of them, != means none of them."""
    field: str
    op: str
    lo: int
    width: int
    values: tuple


@dataclass(frozen=True)
class Term:
    """`(field & mask) == value`, bits at their absolute positions in the base field.
    For string fields: `field == value` and mask is None."""
    field: str
    value: int | str
    mask: int | None


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Cond:
    """A chassis-dependent condition, e.g. is_chassis_resident("cr-lrp"), or its negation."""
    name: str
    arg: str
    positive: bool = True


# One conjunction: field -> (value, mask); for string fields (name, None). Sorted by field.
Conj = tuple[tuple[str, object, object], ...]


@dataclass(frozen=True)
class Dnf:
    """A disjunction of conjunctions. () is false; ((),) is true (the empty conjunction)."""
    conjs: tuple[Conj, ...]

    @property
    def is_true(self) -> bool:
        return () in self.conjs

    @property
    def is_false(self) -> bool:
        return not self.conjs
