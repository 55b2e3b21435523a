"""Control flow: `next;`, `next(N);`, `next(pipeline=P, table=N);`, `output;`, `drop;`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..lexer import ID
from .base import UNSUPPORTED, Action, Bare, Verdict


@dataclass(frozen=True)
class Next(Action):
    keyword: ClassVar[str] = "next"
    terminal: ClassVar[bool] = True
    pipeline: str | None = None
    table: int | None = None
    named: bool = False          # written as next(table=N) rather than next(N)

    @classmethod
    def parse(cls, p):
        if not p.accept("("):
            return cls()
        if p.tok.kind != ID:
            table = p.expect_int()
            p.expect(")")
            return cls(None, table, False)
        pipeline = table = None
        while not p.accept(")"):
            key_tok = p.tok
            key = p.expect_id("'pipeline' or 'table'")
            p.expect("=")
            if key == "pipeline":
                pipeline = p.expect_id("ingress or egress")
                if pipeline not in ("ingress", "egress"):
                    raise p.error("pipeline must be ingress or egress", key_tok)
            elif key == "table":
                table = p.expect_int()
            else:
                raise p.error("expected 'pipeline' or 'table'", key_tok)
            p.accept(",")
        return cls(pipeline, table, True)

    def format(self) -> str:
        if self.pipeline is None and self.table is None:
            return "next;"
        if not self.named:
            return f"next({self.table});"
        parts = []
        if self.pipeline is not None:
            parts.append(f"pipeline={self.pipeline}")
        if self.table is not None:
            parts.append(f"table={self.table}")
        return f"next({', '.join(parts)});"

    def check(self, symtab, pipeline):
        if self.table is not None or self.pipeline is not None:
            yield UNSUPPORTED, "next() to a given table is not lowered yet"

    def lower_c(self, c):
        c.line("return OVNBPF_PL_NEXT;")

    def evaluate(self, run):
        return Verdict(("next", self.pipeline, self.table))


class Output(Bare):
    keyword = "output"
    terminal = True

    def lower_c(self, c):
        c.line("return OVNBPF_PL_OUTPUT;")

    def evaluate(self, run):
        return Verdict(("output",))


class Drop(Bare):
    keyword = "drop"
    terminal = True

    def lower_c(self, c):
        c.line("return OVNBPF_PL_DROP;")

    def evaluate(self, run):
        return Verdict(("drop",))
