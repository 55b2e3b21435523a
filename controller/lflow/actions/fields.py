"""Actions written as field syntax rather than a keyword: `a = b;`, `a <-> b;`, `ip.ttl--;`
(ovn-sb(5): "field = constant", "field1 = field2", "field1 <-> field2", "ip.ttl--")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..ast import Const, FieldRef, Param, StrConst
from ..formatter import format_operand
from .base import UNSUPPORTED, Action, NotLowered, Verdict, constant_problem


@dataclass(frozen=True)
class Assign(Action):
    """`dst = src;` where src is a constant or a field."""
    syntax: ClassVar[str] = "assign"
    dst: FieldRef
    src: object

    def format(self) -> str:
        return f"{format_operand(self.dst)} = {format_operand(self.src)};"

    def fields(self) -> tuple:
        return ((self.dst, True),) + (((self.src, False),) if isinstance(self.src, FieldRef) else ())

    def check(self, symtab, pipeline):
        yield from super().check(symtab, pipeline)
        if isinstance(self.src, Const):
            problem = constant_problem(symtab, self.dst, self.src)
            if problem:
                yield UNSUPPORTED, problem
        if self.dst.name == "outport" and pipeline == "egress":
            yield UNSUPPORTED, "outport is read-only in the egress pipeline"

    def template(self, params, fields):
        # a port name or an unmasked constant becomes a map-entry constant (a hole)
        if isinstance(self.src, StrConst) or isinstance(self.src, Const) and self.src.mask is None:
            params.append(self.src)
            fields.append(self.dst.name if not self.dst.sliced else
                          f"{self.dst.name}[{self.dst.lo}..{self.dst.hi}]")
            return Assign(self.dst, Param(len(params) - 1))
        return self

    def instantiate(self, params):
        if isinstance(self.src, Param):
            return Assign(self.dst, params[self.src.index])
        return self

    def lower_c(self, c):
        if isinstance(self.src, Param):
            words = c.param(self.src.index)
        elif isinstance(self.src, FieldRef):
            words = c.read(self.src)
        else:
            raise NotLowered("masked constant assignment")
        c.write(self.dst, words)

    def evaluate(self, run):
        value, mask = run.value(self.src)
        run.store(self.dst, value, mask)


@dataclass(frozen=True)
class Exchange(Action):
    """`a <-> b;`"""
    syntax: ClassVar[str] = "exchange"
    a: FieldRef
    b: FieldRef

    def format(self) -> str:
        return f"{format_operand(self.a)} <-> {format_operand(self.b)};"

    def fields(self) -> tuple:
        return ((self.a, True), (self.b, True))

    def lower_c(self, c):
        a, b = c.read(self.a), c.read(self.b)
        c.write(self.a, b)
        c.write(self.b, a)

    def evaluate(self, run):
        a, _ = run.value(self.a)
        b, _ = run.value(self.b)
        run.store(self.a, b)
        run.store(self.b, a)


@dataclass(frozen=True)
class DecTtl(Action):
    """`ip.ttl--;`: decrement, and stop processing the packet if it reaches 0. (ip.ttl is
    not assignable, so fields() names nothing to check: the action owns the write.)"""
    syntax: ClassVar[str] = "decrement"

    def format(self) -> str:
        return "ip.ttl--;"

    def lower_c(self, c):
        c.line("if (f->ip_ttl <= 1)")
        c.line("    return OVNBPF_PL_DROP;  /* TTL would reach 0: processing stops */")
        c.line("f->ip_ttl--;")

    def evaluate(self, run):
        if run.pkt["ip_ttl"] <= 1:
            return Verdict(("drop",))
        run.pkt["ip_ttl"] -= 1
