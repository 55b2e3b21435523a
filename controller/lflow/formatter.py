"""Print syntax trees back as logical-flow text.

The output is canonical (one spacing style, constants in the notation they were written
in), so parse -> format -> parse is the identity on trees, and formatting twice gives the
same text.
"""
from __future__ import annotations

import ipaddress
import json

from .ast import (AddrSetRef, And, BoolLit, MatchCall, Compare, Const, Expr, FieldRef, Not, Or,
                  Param, PortGroupRef, StrConst, Symbol)

__all__ = ["format_int", "format_operand", "format_match", "format_actions"]


def format_int(value: int, fmt: str) -> str:
    if fmt == "hex":
        return hex(value)
    if fmt == "ipv4":
        return str(ipaddress.IPv4Address(value))
    if fmt == "ipv6":
        return str(ipaddress.IPv6Address(value))
    if fmt == "mac":
        raw = f"{value:012x}"
        return ":".join(raw[i:i + 2] for i in range(0, 12, 2))
    return str(value)


def _mask_text(const: Const) -> str:
    if const.mask_fmt == "cidr":
        return str(bin(const.mask).count("1"))
    return format_int(const.mask, const.mask_fmt or const.fmt)


def format_operand(op) -> str:
    if isinstance(op, Const):
        text = format_int(op.value, op.fmt)
        return text if op.mask is None else f"{text}/{_mask_text(op)}"
    if isinstance(op, StrConst):
        return json.dumps(op.value)
    if isinstance(op, AddrSetRef):
        return f"${op.name}"
    if isinstance(op, PortGroupRef):
        return f"@{op.name}"
    if isinstance(op, Param):
        return f"<V{op.index}>"
    if isinstance(op, FieldRef):
        if op.lo is None:
            return op.name
        if op.lo == op.hi:
            return f"{op.name}[{op.lo}]"
        return f"{op.name}[{op.lo}..{op.hi}]"
    raise TypeError(f"not an operand: {op!r}")


def _format(expr: Expr, parent: type | None) -> str:
    if isinstance(expr, BoolLit):
        return "1" if expr.value else "0"
    if isinstance(expr, Symbol):
        return format_operand(expr.ref)
    if isinstance(expr, Compare):
        if expr.is_set:
            rhs = "{" + ", ".join(format_operand(v) for v in expr.values) + "}"
        else:
            rhs = format_operand(expr.values[0])
        text = f"{format_operand(expr.field)} {expr.op} {rhs}"
        # `!` binds tighter than relations, so a negated comparison needs parentheses.
        return f"({text})" if parent is Not else text
    if isinstance(expr, Not):
        return "!" + _format(expr.item, Not)
    if isinstance(expr, MatchCall):
        return f"{expr.name}(" + ", ".join(format_operand(a) for a in expr.args) + ")"
    if isinstance(expr, (And, Or)):
        sep = " && " if isinstance(expr, And) else " || "
        text = sep.join(_format(item, type(expr)) for item in expr.items)
        # && and || never mix without parentheses; ! of a group needs them too.
        return f"({text})" if parent in (And, Or, Not) and parent is not type(expr) else text
    raise TypeError(f"not an expression: {expr!r}")


def format_match(expr: Expr) -> str:
    return _format(expr, None)


def format_actions(actions) -> str:
    """Format a sequence of action objects; each knows its own syntax."""
    return " ".join(action.format() for action in actions)
