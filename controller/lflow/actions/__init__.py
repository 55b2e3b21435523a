"""The action registry: every action of the Logical_Flow actions column, one class each.

One module per family; defining a class with a `keyword` registers it (base.py):

    base.py         the parts every action has, the syntax families, the registry tables
    fields.py       `a = b;`, `a <-> b;`, `ip.ttl--;`
    control.py      next, output, drop
    lookups.py      port security, MAC_Binding and FDB map lookups (compiled helpers)
    conntrack.py    ct_* (needs conntrack), ct_clear (a no-op here)
    punt.py         what the controller carries out: put_arp, arp {}, icmp4 {}, handle_*, ...
    unsupported.py  declared, with the reason they fail closed

emit_c, evaluator, classify, plan, punt/handler and compile dispatch through the classes;
tests/unit/lflow/test_action_registry.py checks that every action OVN defines is here with
the parts its category needs. ARCHITECTURE.md shows how to add one.
"""
from __future__ import annotations

from ..ast import FieldRef
from ..lexer import ID
from . import conntrack, control, fields, lookups, punt, unsupported  # noqa: F401 (registers)
from .base import (ACTIONS, CATEGORIES, COMPILED, CONNTRACK, PUNT, RESULT_ACTIONS,
                   UNSUPPORTED, Action, Bare, Call, Keyword, Nested, NotLowered, PuntHandling,
                   RawArgs, ResultCall, Verdict)
from .conntrack import CtClear
from .control import Drop, Next, Output
from .fields import Assign, DecTtl, Exchange

__all__ = [
    "COMPILED", "CONNTRACK", "PUNT", "UNSUPPORTED", "CATEGORIES", "Action", "Assign",
    "Exchange", "DecTtl", "Next", "Output", "Drop", "Nested", "ResultCall", "Call", "Keyword",
    "Bare", "RawArgs", "CtClear", "NotLowered", "PuntHandling", "Verdict", "parse_action",
    "ACTIONS", "RESULT_ACTIONS", "SYNTAX_ACTIONS", "walk_actions", "all_actions",
]

# Actions recognised by their syntax rather than a keyword.
SYNTAX_ACTIONS = (Assign, Exchange, DecTtl)
_FIELD_SYNTAX = ("=", "<->", "--", "[")


def all_actions() -> list[type]:
    """Every registered action class: keyword ones, result functions, syntax ones."""
    return [*ACTIONS.values(), *RESULT_ACTIONS.values(), *SYNTAX_ACTIONS]


def parse_action(p) -> Action:
    """Parse one action and its terminating ';'."""
    tok = p.tok
    if tok.kind != ID:
        raise p.error("expected an action")
    nxt = p.peek()
    if tok.text in ACTIONS and not nxt.is_punct(*_FIELD_SYNTAX):
        cls = ACTIONS[tok.text]
        p.advance()
        action = cls.parse(p)
    elif nxt.is_punct(*_FIELD_SYNTAX):
        dst = p.parse_field_ref()
        if p.accept("--"):
            if dst != FieldRef("ip.ttl"):
                raise p.error("only ip.ttl can be decremented", tok)
            action = DecTtl()
        elif p.accept("<->"):
            if p.tok.kind != ID:
                raise p.error("expected a field to exchange with")
            action = Exchange(dst, p.parse_field_ref())
        else:
            p.expect("=")
            if p.tok.kind == ID and p.peek().is_punct("("):
                fn = p.tok.text
                if fn not in RESULT_ACTIONS:
                    raise p.error(f"unknown function {fn!r}")
                action = RESULT_ACTIONS[fn].parse_after_assign(p, dst)
            else:
                action = Assign(dst, p.parse_operand())
    else:
        raise p.error(f"unknown action {tok.text!r}")
    p.expect(";")
    return action


def walk_actions(actions):
    """Every action, nested ones included, depth first."""
    for action in actions:
        yield action
        yield from walk_actions(action.nested())
