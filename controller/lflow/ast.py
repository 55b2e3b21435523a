"""Syntax trees of the match language, as written (before any symbol is resolved).

Nodes are frozen dataclasses, so two parses of the same text compare equal and the
round trip parse -> format -> parse can be checked with `==`. Constants remember
their notation (`fmt`) so that the formatter prints `10.0.1.0/24` back, not an int.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Const", "StrConst", "Param", "AddrSetRef", "PortGroupRef", "FieldRef", "Value", "Operand",
    "BoolLit", "Symbol", "Compare", "And", "Or", "Not", "MatchCall", "Expr", "RELOPS", "FLIP",
]


# ---- operands ---------------------------------------------------------------

@dataclass(frozen=True)
class Const:
    """An integer constant, optionally masked: `6`, `0x800`, `10.0.1.0/24`."""
    value: int
    fmt: str = "dec"                 # dec, hex, ipv4, ipv6, mac
    mask: int | None = None          # a bit mask, already expanded from a CIDR length
    mask_fmt: str | None = None      # as fmt, or "cidr"


@dataclass(frozen=True)
class StrConst:
    value: str


@dataclass(frozen=True)
class AddrSetRef:
    """`$name`: an Address_Set (or a port group's _ip4/_ip6 addresses)."""
    name: str


@dataclass(frozen=True)
class PortGroupRef:
    """`@name`: a Port_Group's ports."""
    name: str


@dataclass(frozen=True)
class FieldRef:
    """A field, subfield or predicate name with an optional bit range `[lo..hi]`."""
    name: str
    lo: int | None = None
    hi: int | None = None

    @property
    def sliced(self) -> bool:
        return self.lo is not None


@dataclass(frozen=True)
class Param:
    """A hole in an action template (plan.py): the flow's constant lives in a map value."""
    index: int


Value = Const | StrConst | AddrSetRef | PortGroupRef
Operand = Value | FieldRef


# ---- match expressions --------------------------------------------------------

RELOPS = ("==", "!=", "<", "<=", ">", ">=")
# `5 < tcp.src` is `tcp.src > 5`: the operator seen from the field's side.
FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class BoolLit:
    value: bool


@dataclass(frozen=True)
class Symbol:
    """A bare mention of a predicate or a 1-bit field: `ip4`, `reg0[15]`."""
    ref: FieldRef


@dataclass(frozen=True)
class Compare:
    """`field op value` or `field op {v1, v2, ...}` (then is_set is True)."""
    field: FieldRef
    op: str
    values: tuple[Value, ...]
    is_set: bool = False


@dataclass(frozen=True)
class And:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    item: "Expr"


@dataclass(frozen=True)
class MatchCall:
    """A chassis-dependent condition such as `is_chassis_resident("lsp-vm1")`."""
    name: str
    args: tuple[StrConst, ...]


Expr = BoolLit | Symbol | Compare | And | Or | Not | MatchCall
