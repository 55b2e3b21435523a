"""Analysis templates: the analysis of a new flow from that of a flow that differs only in
its port names, MACs and IPv4 addresses.

A new port brings a handful of flows that are copies of every other port's flows with
other literals (`eth.dst == 0a:..:02 -> outport = "p2"; output;`). Parsing, classifying
and normalizing each costs ~0.5 ms in Python, and the port's first packet waits for it.
Here a flow's text is cut into a canonical form (literals replaced by placeholders) and
its literals; a flow whose canonical form was analyzed before gets that analysis with
the old literals' values replaced by the new ones, wherever they occur verbatim.

This is a speculation, not a proof: an analysis may use a literal in a way that is not
verbatim (folded with another constant, absorbed by a prefix). So:
  - forms with a masked MAC or IPv4 literal (a prefix, a mask) are never templated, nor
    flows whose analysis failed, nor literals that do not all appear in the analysis; a
    form includes which literals repeat which, so the old-to-new mapping is one-to-one;
  - the caller verifies every templated analysis against a real one right after it has
    programmed the datapath (IncrementalCompiler.verify), and a form that ever differs is
    never templated again. A mismatch costs a full compile, and is counted.
"""
from __future__ import annotations

import dataclasses
import re

from .expr import Dnf
from .passes import _sort_key

__all__ = ["canonical", "TemplateStore"]

# a quoted string | a MAC (optionally /mask) | an IPv4 address (optionally /len or /mask),
# not part of an IPv6 address (no ':' before) and not a longer dotted or hex run
_LITERAL = re.compile(
    r'(?P<str>"(?:[^"\\]|\\.)*")'
    r'|(?<![0-9A-Fa-f:])(?P<mac>[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})(?![0-9A-Fa-f:])(?P<macmask>/)?'
    r'|(?<![0-9A-Fa-f:.])(?P<ip4>\d{1,3}(?:\.\d{1,3}){3})(?![\d.])(?P<ip4mask>/)?')


def _value(kind: str, text: str):
    if kind == "str":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "mac":
        return int(text.replace(":", ""), 16)
    a, b, c, d = (int(x) for x in text.split("."))
    if max(a, b, c, d) > 255:
        raise ValueError(text)
    return a << 24 | b << 16 | c << 8 | d


def canonical(text: str):
    """(canonical text, ((kind, value), ...)) or None when the text has a masked literal."""
    parts, literals, pos = [], [], 0
    for m in _LITERAL.finditer(text):
        if m.group("macmask") or m.group("ip4mask"):
            return None
        kind = next(k for k in ("str", "mac", "ip4") if m.group(k))
        try:
            value = _value(kind, m.group(kind))
        except ValueError:
            return None
        parts.append(text[pos:m.start()])
        parts.append(f"\x00{kind}\x00")
        literals.append((kind, value))
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts), tuple(literals)


_FIELDS: dict[type, tuple] = {}      # a type -> its dataclass init fields, () if none
_LEAVES = (bool, float, type(None))


def _fields(t) -> tuple:
    names = _FIELDS.get(t)
    if names is None:
        names = _FIELDS[t] = (tuple(f.name for f in dataclasses.fields(t) if f.init)
                              if dataclasses.is_dataclass(t) else ())
    return names


def _substitute(obj, smap, imap, hit):
    t = type(obj)
    if t in _LEAVES:
        return obj
    if t is str:
        if obj in smap:
            hit.add(obj)
            return smap[obj]
        return obj
    if t is int:
        if obj in imap:
            hit.add(obj)
            return imap[obj]
        return obj
    if t is tuple or t is list:
        items = [_substitute(x, smap, imap, hit) for x in obj]
        return obj if all(a is b for a, b in zip(items, obj)) else t(items)
    if t is frozenset:
        return frozenset(_substitute(x, smap, imap, hit) for x in obj)
    if t is dict:
        return {_substitute(k, smap, imap, hit): _substitute(v, smap, imap, hit)
                for k, v in obj.items()}
    if t is type:
        return obj
    changes = {}
    for name in _fields(t):
        old = getattr(obj, name)
        new = _substitute(old, smap, imap, hit)
        if new is not old:
            changes[name] = new
    return dataclasses.replace(obj, **changes) if changes else obj


class TemplateStore:
    """canonical form -> (literal values, analysis) of the first flow analyzed in it."""

    def __init__(self, limit: int = 20_000):
        self.limit = limit
        self.forms: dict[tuple, tuple] = {}
        self.refused: set[tuple] = set()     # forms whose templating once proved wrong
        self.seen: set[tuple] = set()        # (pipeline, match, actions) already offered

    @staticmethod
    def form(pipeline: str, match: str, actions: str):
        m, a = canonical(match), canonical(actions)
        if m is None or a is None or not (m[1] or a[1]):
            return None, None
        literals = m[1] + a[1]
        # which literals repeat which (a router port's MAC in match and actions): part of
        # the form, so the old-to-new mapping is one-to-one
        first = {}
        pattern = tuple(first.setdefault(lit, i) for i, lit in enumerate(literals))
        return (pipeline, m[0], a[0], pattern), literals

    def offer(self, pipeline, match, actions, analysis) -> None:
        """Keep a real analysis as the template of its form (the first one wins)."""
        ident = (pipeline, match, actions)
        if ident in self.seen or analysis.error is not None:
            return
        if len(self.seen) >= self.limit:
            self.seen.clear()
            self.forms.clear()
        self.seen.add(ident)
        form, literals = self.form(pipeline, match, actions)
        if form is not None and form not in self.forms and form not in self.refused:
            self.forms[form] = (literals, analysis)

    def instantiate(self, pipeline, match, actions):
        """(form, analysis) for this flow from its form's template, or (None, None)."""
        form, literals = self.form(pipeline, match, actions)
        if form is None or form not in self.forms:
            return None, None
        old, analysis = self.forms[form]
        smap, imap = {}, {}
        for (kind, was), (_, now) in zip(old, literals):
            (smap if kind == "str" else imap)[was] = now
        # values must not collide across kinds either (a string never equals an int, but
        # an old MAC could equal an old IPv4 value): one meaning per value
        if len(imap) != len({v for k, v in old if k != "str"}):
            return None, None
        if len(set(imap.values())) != len(imap):
            return None, None            # two old values would become one
        hit = set()
        out = _substitute(analysis, smap, imap, hit)
        if len(hit) != len(smap) + len(imap):
            return None, None            # a literal the analysis does not hold verbatim
        if out.dnf is not None:          # normalize() sorts conjunctions by value
            out = dataclasses.replace(out, dnf=Dnf(tuple(sorted(set(out.dnf.conjs),
                                                                key=_sort_key))))
        return form, out

    def refuse(self, form) -> None:
        self.forms.pop(form, None)
        self.refused.add(form)
