"""What every action class is made of, and the registry they enter by being defined.

An action class is the one place an OVN action lives. It carries:

    keyword, parse(), format()   its syntax in the Logical_Flow actions column
    category, reason             compiled / needs-conntrack / needs-punt / unsupported, and
                                 why, in OVN's terms (classify.py reports it)
    fields(), check()            the fields it reads and writes, and what else makes a flow
                                 using it uncompilable (classify.py)
    lower_c(c)                   its C (emit_c.py passes a lowering context `c`)
    evaluate(run)                its reference semantics (evaluator.py passes `run`)
    punt                         how the controller's punt handler carries it out, or why not
                                 (a PuntHandling; controller/punt/handler.py dispatches on it)
    template(), instantiate()    how the planner cuts its constants out (plan.py)

A part an action lacks is the base class's, which refuses (NotLowered, NotImplementedError);
tests/unit/lflow/test_action_registry.py checks that every action OVN defines has each part
its category needs, or says why not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..ast import Const, FieldRef
from ..formatter import format_operand
from ..lexer import END
from ..symbols import NEEDS_CONNTRACK, Predicate, SymbolError

COMPILED = "compiled"
CONNTRACK = "needs-conntrack"
PUNT = "needs-punt"
UNSUPPORTED = "unsupported"
CATEGORIES = (COMPILED, CONNTRACK, PUNT, UNSUPPORTED)

# The registry: statement actions by keyword (`put_arp(...)`, `arp { }`), and functions
# used as `dst = fn(...)` by keyword. (The syntax-only actions `a = b;`, `a <-> b;` and
# `ip.ttl--;` are found by their syntax: actions/__init__.py SYNTAX_ACTIONS.)
ACTIONS: dict[str, type] = {}
RESULT_ACTIONS: dict[str, type] = {}


class NotLowered(Exception):
    """The action (or this use of it) has no C: the shape fails closed to NOT_COMPILED."""


class Verdict(tuple):
    """("next", pipeline|None, table|None) | ("output",) | ("drop",) | ("punt", keyword)."""


# ---- how the punt handler carries out a punted action ---------------------------------

@dataclass(frozen=True)
class PuntHandling:
    """kind: "generate" (build a packet with punt/packets.py, run the nested actions on it,
    inject it), "learn" (a copy of the packet: write a MAC_Binding row), "ignore" (consumed
    on purpose, as ovn-controller does when the feature is not configured; `reason` says
    why), or "none" (the handler cannot do it yet; `reason` says what is missing)."""
    kind: str
    reason: str = ""

    @property
    def handled(self) -> bool:
        return self.kind != "none"


GENERATE = PuntHandling("generate")
LEARN = PuntHandling("learn")
# pause and resume (put_dhcp_opts, dns_lookup, ...): the handler's method of that name
# changes the packet in place, the result bit is written, the flow's remaining actions run
PAUSE = PuntHandling("pause")


def ignore(reason: str) -> PuntHandling:
    return PuntHandling("ignore", reason)


def not_handled(reason: str) -> PuntHandling:
    return PuntHandling("none", reason)


# ---- field checks (classify.py) ------------------------------------------------------------

def field_problem(symtab, ref: FieldRef, writing: bool):
    """(category, reason) if a field reference cannot be compiled, else None."""
    try:
        sym = symtab.lookup(ref.name)
        if isinstance(sym, Predicate):
            return UNSUPPORTED, f"{ref.name} is a predicate, not a field"
        base, _, _ = symtab.resolve(ref.name)
    except SymbolError as e:
        return UNSUPPORTED, str(e)
    if base.unsupported:
        category = CONNTRACK if base.unsupported == NEEDS_CONNTRACK else UNSUPPORTED
        return category, f"{ref.name}: {base.unsupported}"
    if writing and not base.writable:
        return UNSUPPORTED, f"{ref.name} is read-only"
    return None


def constant_problem(symtab, dst: FieldRef, src: Const):
    """Why a constant cannot be assigned to dst (too wide for it), else None; OVN refuses
    such an action, so do we (it would be cut to the field's bits)."""
    try:
        base, lo, hi = symtab.resolve(dst.name)
    except SymbolError:
        return None      # reported by field_problem
    if base.is_string:
        return None
    width = (dst.hi - dst.lo + 1) if dst.sliced else hi - lo + 1
    if src.value >> width or (src.mask is not None and src.mask >> width):
        return f"{dst.name}: constant {src.value:#x} does not fit in {width} bits"
    return None


# ---- the base class ---------------------------------------------------------------------

class Action:
    keyword: ClassVar[str] = ""
    category: ClassVar[str] = COMPILED
    reason: ClassVar[str] = ""
    # Punted actions that take the packet away (icmp4 {}, handle_svc_check) rather than
    # sending the controller a copy and going on (put_arp).
    consumes_packet: ClassVar[bool] = False
    # Consuming actions that OVN runs as pause-and-resume (put_dhcp_opts): the controller
    # changes the packet, writes the result, runs the flow's remaining actions and resumes.
    pauses: ClassVar[bool] = False
    # next / output / drop: the pipeline's verdict, nothing runs after it
    terminal: ClassVar[bool] = False
    # statement (`kw;`, `kw(...)`, `kw { }`), result (`dst = kw(...)`), or syntax (`a = b`)
    syntax: ClassVar[str] = "statement"
    punt: ClassVar[PuntHandling | None] = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.keyword and "keyword" in cls.__dict__:
            table = RESULT_ACTIONS if cls.syntax == "result" else ACTIONS
            assert cls.keyword not in table, f"action {cls.keyword} declared twice"
            table[cls.keyword] = cls

    # syntax
    def format(self) -> str:
        raise NotImplementedError

    def nested(self) -> tuple:
        return ()

    # classification
    def fields(self) -> tuple:
        """(FieldRef, writing) per field of its operands the symbol table must allow (a
        helper's arguments are the helper's business: its lower_c checks them)."""
        return ()

    def check(self, symtab, pipeline: str):
        """(category, reason) per thing that stops this use of the action compiling."""
        for ref, writing in self.fields():
            problem = field_problem(symtab, ref, writing)
            if problem:
                yield problem

    # planning
    def template(self, params: list, fields: list):
        """The action with its constants cut out into params (default: none)."""
        return self

    def instantiate(self, params: tuple):
        return self

    # C
    def lower_c(self, c) -> None:
        raise NotLowered(f"no lowering for {self.format()}")

    # reference semantics
    def evaluate(self, run):
        """Run on run.pkt; a Verdict ends the action list, None goes on."""
        if self.category == PUNT:
            return Verdict(("punt", self.keyword))
        raise NotImplementedError(f"no reference semantics for {self.format()}")


# ---- syntax families ----------------------------------------------------------------------

@dataclass(frozen=True)
class RawArgs:
    """Arguments kept as written, for actions whose argument syntax is their own
    (`ct_lb_mark(backends=10.0.0.2:80; hash_fields="ip_src")`, `log(name="x")`)."""
    text: str


def parse_args(p) -> tuple:
    """`( a, b, ... )` as operands, or as RawArgs if they are not plain operands."""
    open_tok = p.expect("(")
    start = p.pos
    depth = 1
    while depth:
        tok = p.tok
        if tok.kind == END:
            raise p.error("expected ')' to close the arguments", tok)
        if tok.is_punct("("):
            depth += 1
        elif tok.is_punct(")"):
            depth -= 1
        if depth:
            p.advance()
    end_tok = p.advance()  # the closing ')'
    tokens = p.tokens[start:p.pos - 1]
    if not tokens:
        return ()
    # Try the plain form: operand (',' operand)*.
    saved = p.pos
    p.pos = start
    operands = []
    try:
        while p.pos < saved - 1:
            operands.append(p.parse_operand())
            if p.pos < saved - 1:
                p.expect(",")
        if p.pos == saved - 1:
            p.pos = saved
            return tuple(operands)
    except ValueError:
        pass
    p.pos = saved
    raw = p.text[open_tok.col:end_tok.col - 1].strip()
    return (RawArgs(raw),)


def format_args(args: tuple) -> str:
    return ", ".join(a.text if isinstance(a, RawArgs) else format_operand(a) for a in args)


def call_helper(run, action) -> None:
    """A compiled helper action in the evaluator: the test's helper, if it gave one."""
    fn = run.helpers.get(action.keyword)
    if fn:
        fn(run.pkt, action.args)


@dataclass(frozen=True)
class Bare(Action):
    """An action that is just its keyword: `output;`."""

    @classmethod
    def parse(cls, p):
        return cls()

    def format(self) -> str:
        return f"{self.keyword};"


@dataclass(frozen=True)
class Keyword(Action):
    """A keyword with optional arguments: `ct_next;`, `ct_dnat(10.0.0.1);`."""
    args: tuple = ()
    with_parens: bool = False

    @classmethod
    def parse(cls, p):
        if p.tok.is_punct("("):
            return cls(parse_args(p), True)
        return cls()

    def format(self) -> str:
        if not self.with_parens:
            return f"{self.keyword};"
        return f"{self.keyword}({format_args(self.args)});"


@dataclass(frozen=True)
class Call(Action):
    """A function call statement: `put_arp(inport, arp.spa, arp.sha);`."""
    args: tuple = ()

    @classmethod
    def parse(cls, p):
        if not p.tok.is_punct("("):
            raise p.error(f"expected '(' after {cls.keyword}")
        return cls(parse_args(p))

    def format(self) -> str:
        return f"{self.keyword}({format_args(self.args)});"


@dataclass(frozen=True)
class ResultCall(Action):
    """`dst = function(args);`: the function's result goes to dst."""
    syntax: ClassVar[str] = "result"
    dst: FieldRef = None
    args: tuple = ()

    @classmethod
    def parse_after_assign(cls, p, dst: FieldRef):
        p.advance()  # the function name
        return cls(dst, parse_args(p))

    def format(self) -> str:
        return f"{format_operand(self.dst)} = {self.keyword}({format_args(self.args)});"

    def fields(self) -> tuple:
        return ((self.dst, True),)

    def evaluate(self, run):
        # the helper the test gave, else 0 (not found / not allowed)
        fn = run.helpers.get(self.keyword, lambda p, args: 0)
        run.store(self.dst, fn(run.pkt, self.args))


@dataclass(frozen=True)
class Nested(Action):
    """`keyword { actions };`"""
    actions: tuple = ()

    @classmethod
    def parse(cls, p):
        if not p.tok.is_punct("{"):
            raise p.error(f"expected '{{' after {cls.keyword}")
        p.expect("{")
        actions = p.parse_action_list("}")
        p.expect("}")
        return cls(actions)

    def nested(self) -> tuple:
        return self.actions

    def format(self) -> str:
        inner = " ".join(a.format() for a in self.actions)
        return f"{self.keyword} {{ {inner} }};" if inner else f"{self.keyword} {{ }};"
