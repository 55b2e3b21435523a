"""Parser for the match and actions columns of Logical_Flow.

The match grammar (precedence from ovn-sb(5)):
    expr    := unary (('&&' unary)* | ('||' unary)*)      -- && and || never mix unparenthesized
    unary   := '!' unary | '(' expr ')' | '0' | '1' | call | relation | symbol
    relation:= field relop value | value relop field | value relop field relop value
    value   := INT | MASKED | STRING | $set | @group | '{' value (','? value)* ','? '}'
Actions are a sequence of `action ;`; each action class (actions.py) parses its own
syntax after the parser has recognised which kind it is.

Errors name the lflow (when a uuid is given), the text and the 1-based column.
"""
from __future__ import annotations

from .ast import (AddrSetRef, And, BoolLit, MatchCall, Compare, Const, FLIP, FieldRef, Not, Or,
                  PortGroupRef, RELOPS, StrConst, Symbol)
from .lexer import ADDRSET, END, ID, INT, MASKED, PORTGROUP, PUNCT, STRING, LexError, Token, tokenize

__all__ = ["ParseError", "Parser", "parse_match", "parse_actions"]

CONDITION_FUNCTIONS = ("is_chassis_resident",)

# Parentheses, '!' and nested action blocks deeper than this are refused with a reason:
# every pass after the parser recurses over the tree, and Python's stack is finite.
MAX_DEPTH = 100


class ParseError(ValueError):
    def __init__(self, reason: str, text: str, col: int, uuid: str | None = None):
        where = f"lflow {uuid}: " if uuid else ""
        super().__init__(f"{where}{reason} at column {col} in {_excerpt(text, col)!r}")
        self.reason = reason
        self.text = text
        self.col = col
        self.uuid = uuid


def _excerpt(text: str, col: int, width: int = 80) -> str:
    """The text around a column, short enough for a log line."""
    if len(text) <= width:
        return text
    start = max(0, min(col - 1 - width // 2, len(text) - width))
    return ("..." if start else "") + text[start:start + width] + \
        ("..." if start + width < len(text) else "")


def _prefix_mask(length: int, width: int) -> int:
    return ((1 << length) - 1) << (width - length)


def const_from_token(tok: Token) -> Const:
    if tok.kind == INT:
        return Const(tok.value, tok.fmt)
    mask = tok.mask
    if tok.mask_fmt == "cidr":
        width = 32 if tok.fmt == "ipv4" else 128
        if mask > width:
            raise ValueError(f"prefix length {mask} is longer than {width}")
        mask = _prefix_mask(mask, width)
    return Const(tok.value, tok.fmt, mask, tok.mask_fmt)


class Parser:
    """A cursor over the tokens of one string, with the helpers both grammars use."""

    def __init__(self, text: str, uuid: str | None = None):
        self.text = text
        self.uuid = uuid
        try:
            self.tokens = tokenize(text)
        except LexError as e:
            raise ParseError(e.reason, text, e.col, uuid) from None
        self.pos = 0
        self.depth = 0

    def enter(self) -> None:
        """One more level of nesting (a parenthesis, '!', a nested action block)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"match or actions nested deeper than {MAX_DEPTH}")

    def leave(self) -> None:
        self.depth -= 1

    # -- cursor ------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, n: int = 1) -> Token:
        return self.tokens[min(self.pos + n, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != END:
            self.pos += 1
        return tok

    def error(self, reason: str, tok: Token | None = None) -> ParseError:
        tok = tok or self.tok
        found = "end of input" if tok.kind == END else repr(tok.text)
        return ParseError(f"{reason}, found {found}", self.text, tok.col, self.uuid)

    def accept(self, op: str) -> bool:
        if self.tok.is_punct(op):
            self.advance()
            return True
        return False

    def expect(self, op: str) -> Token:
        if not self.tok.is_punct(op):
            raise self.error(f"expected {op!r}")
        return self.advance()

    def expect_id(self, what: str = "an identifier") -> str:
        if self.tok.kind != ID:
            raise self.error(f"expected {what}")
        return self.advance().text

    def expect_int(self) -> int:
        if self.tok.kind != INT or self.tok.fmt not in ("dec", "hex"):
            raise self.error("expected an integer")
        return self.advance().value

    def expect_end(self) -> None:
        if self.tok.kind != END:
            raise self.error("expected end of input")

    # -- operands ----------------------------------------------------------------
    def at_value(self) -> bool:
        return self.tok.kind in (INT, MASKED, STRING, ADDRSET, PORTGROUP)

    def parse_value(self):
        tok = self.advance()
        if tok.kind in (INT, MASKED):
            try:
                return const_from_token(tok)
            except ValueError as e:
                raise ParseError(str(e), self.text, tok.col, self.uuid) from None
        if tok.kind == STRING:
            return StrConst(tok.value)
        if tok.kind == ADDRSET:
            return AddrSetRef(tok.value)
        if tok.kind == PORTGROUP:
            return PortGroupRef(tok.value)
        raise self.error("expected a constant", tok)

    def parse_field_ref(self) -> FieldRef:
        name = self.expect_id("a field name")
        if not self.accept("["):
            return FieldRef(name)
        lo = self.expect_int()
        hi = self.expect_int() if self.accept("..") else lo
        if hi < lo:
            raise self.error(f"bit range {lo}..{hi} is reversed")
        self.expect("]")
        return FieldRef(name, lo, hi)

    def parse_operand(self):
        """A field (possibly sliced) or a constant: the right side of an assignment."""
        if self.tok.kind == ID:
            return self.parse_field_ref()
        return self.parse_value()

    # -- match -------------------------------------------------------------------
    def parse_expr(self):
        first = self.parse_unary()
        if not self.tok.is_punct("&&", "||"):
            return first
        op = self.tok.text
        items = [first]
        while self.accept(op):
            items.append(self.parse_unary())
        if self.tok.is_punct("&&", "||"):
            raise self.error("&& and || require parentheses when used together")
        node = And if op == "&&" else Or
        flat: list = []
        for item in items:  # (a && b) && c is a && b && c
            flat.extend(item.items if isinstance(item, node) else (item,))
        return node(tuple(flat))

    def parse_unary(self):
        self.enter()
        try:
            return self._parse_unary()
        finally:
            self.leave()

    def _parse_unary(self):
        tok = self.tok
        if self.accept("!"):
            parenthesized = self.tok.is_punct("(")
            item = self.parse_unary()
            if isinstance(item, Compare) and not parenthesized:
                raise self.error("'!' applied to a relation requires parentheses", tok)
            return Not(item)
        if self.accept("("):
            expr = self.parse_expr()
            self.expect(")")
            return expr
        if tok.kind == INT and tok.fmt == "dec" and tok.value in (0, 1) \
                and not self.peek().is_punct(*RELOPS):
            self.advance()
            return BoolLit(bool(tok.value))
        if tok.kind == ID and self.peek().is_punct("("):
            return self.parse_call()
        if tok.kind == ID:
            field = self.parse_field_ref()
            if not self.tok.is_punct(*RELOPS):
                return Symbol(field)
            op = self.advance().text
            values, is_set = self.parse_values()
            return Compare(field, op, values, is_set)
        if self.at_value() or tok.is_punct("{"):
            return self.parse_constant_first()
        raise self.error("expected a match expression")

    def parse_values(self):
        brace = self.tok
        if not self.accept("{"):
            if not self.at_value():
                raise self.error("expected a constant or a set")
            return (self.parse_value(),), False
        values = []
        while not self.accept("}"):
            if not self.at_value():
                raise self.error("expected a constant in set")
            values.append(self.parse_value())
            self.accept(",")  # commas in sets are optional
        if not values:
            raise self.error("empty set", brace)
        return tuple(values), True

    def parse_constant_first(self):
        """`80 == tcp.src` and the range form `1024 <= tcp.src <= 49151`."""
        values, is_set = self.parse_values()
        if not self.tok.is_punct(*RELOPS):
            raise self.error("expected a relational operator after constant")
        op1 = self.advance().text
        field = self.parse_field_ref()
        left = Compare(field, FLIP[op1], values, is_set)
        if not self.tok.is_punct(*RELOPS):
            return left
        op2 = self.advance().text
        if op1 not in ("<", "<=") or op2 not in ("<", "<=") or is_set:
            raise self.error("a range must be written low < field < high")
        hi_values, hi_set = self.parse_values()
        if hi_set:
            raise self.error("a range bound cannot be a set")
        return And((left, Compare(field, op2, hi_values)))

    def parse_call(self):
        name_tok = self.tok
        name = self.expect_id()
        if name not in CONDITION_FUNCTIONS:
            raise self.error(f"unknown function {name!r}", name_tok)
        self.expect("(")
        args = []
        while not self.accept(")"):
            if self.tok.kind != STRING:
                raise self.error("expected a quoted port name")
            args.append(StrConst(self.advance().value))
            self.accept(",")
        if len(args) != 1:
            raise self.error(f"{name} takes exactly one argument", name_tok)
        return MatchCall(name, tuple(args))

    # -- actions -----------------------------------------------------------------
    def parse_action_list(self, closing: str | None = None) -> tuple:
        """Actions up to `closing` (a '}' of a nested block) or the end of input."""
        from .actions import parse_action  # actions.py imports this module
        self.enter()
        try:
            return self._parse_action_list(parse_action, closing)
        finally:
            self.leave()

    def _parse_action_list(self, parse_action, closing):
        actions = []
        while True:
            if closing is None and self.tok.kind == END:
                break
            if closing is not None and self.tok.is_punct(closing):
                break
            if self.tok.kind == END:
                raise self.error(f"expected {closing!r} to close the nested actions")
            actions.append(parse_action(self))
        return tuple(actions)


def parse_match(text: str, uuid: str | None = None):
    """Parse a match column into an ast.Expr."""
    p = Parser(text, uuid)
    if p.tok.kind == END:
        raise p.error("empty match")
    expr = p.parse_expr()
    p.expect_end()
    return expr


def parse_actions(text: str, uuid: str | None = None) -> tuple:
    """Parse an actions column into a tuple of action objects."""
    p = Parser(text, uuid)
    actions = p.parse_action_list()
    p.expect_end()
    return actions
