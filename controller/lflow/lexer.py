"""Tokens of OVN's logical-flow language (the Logical_Flow match and actions columns).

The lexer knows nothing about fields or actions: it turns text into a list of
`Token`s. Constants keep the notation they were written in (`fmt`) so the
formatter can print them back the same way. Errors carry the column (1-based).
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

__all__ = ["LexError", "Token", "tokenize"]


class LexError(ValueError):
    def __init__(self, message: str, text: str, col: int):
        super().__init__(f"{message} at column {col}: {text!r}")
        self.text = text
        self.col = col
        self.reason = message


# Token kinds.
ID = "ID"              # identifiers, dots allowed inside: ip4.dst, flags.loopback
STRING = "STRING"      # "lsp-vm1" (JSON syntax)
INT = "INT"            # any integer-valued constant: 6, 0x800, 10.0.0.1, fe80::1, 0a:00:..
MASKED = "MASKED"      # constant/mask: 10.0.1.0/24, 0x800/0xf00
ADDRSET = "ADDRSET"    # $name
PORTGROUP = "PORTGROUP"  # @name
PUNCT = "PUNCT"        # operators and punctuation
END = "END"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str          # the source text of the token
    col: int           # 1-based column of its first character
    value: object = None   # int for INT/MASKED, str for STRING/ID/ADDRSET/PORTGROUP
    fmt: str | None = None   # notation of an integer: dec, hex, ipv4, ipv6, mac
    mask: int | None = None
    mask_fmt: str | None = None  # as fmt, plus "cidr" for a prefix length

    def is_punct(self, *ops: str) -> bool:
        return self.kind == PUNCT and self.text in ops


# Longest operators first so that "<->" wins over "<" and "--" over "-".
_PUNCTS = ("<->", "==", "!=", "<=", ">=", "&&", "||", "..", "--", "++",
           "<", ">", "!", "(", ")", "{", "}", "[", "]", ",", ";", "=", ":", "/", "-")

# longest first, as the tuple lists them
_PUNCT_RE = re.compile("|".join(re.escape(op) for op in _PUNCTS))
_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f:])")
# A run of characters that could be an IPv6 address (with an optional dotted tail).
_IPV6_CANDIDATE_RE = re.compile(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(?:\d+\.\d+\.\d+\.\d+)?")
_IPV4_RE = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![0-9.])")
_HEX_RE = re.compile(r"0[xX][0-9A-Fa-f]+")
_DEC_RE = re.compile(r"\d+")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _scan_constant(text: str, pos: int):
    """Return (value, fmt, end) for an integer constant starting at pos, or None."""
    m = _MAC_RE.match(text, pos)
    if m:
        return int(m.group().replace(":", ""), 16), "mac", m.end()
    m = _IPV6_CANDIDATE_RE.match(text, pos)
    if m and m.group().count(":") >= 2:
        try:
            return int(ipaddress.IPv6Address(m.group())), "ipv6", m.end()
        except ValueError:
            pass
    m = _IPV4_RE.match(text, pos)
    if m:
        try:
            return int(ipaddress.IPv4Address(m.group())), "ipv4", m.end()
        except ValueError:
            raise LexError("invalid IPv4 address", m.group(), pos + 1) from None
    m = _HEX_RE.match(text, pos)
    if m:
        return int(m.group(), 16), "hex", m.end()
    if text[pos].isdigit():
        m = _DEC_RE.match(text, pos)
        if m:
            return int(m.group()), "dec", m.end()
    return None


_SPACE_RE = re.compile(r"\s*")


def _skip_space_and_comments(text: str, pos: int) -> int:
    pos = _SPACE_RE.match(text, pos).end()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
        elif text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            if end < 0:
                raise LexError("unterminated comment", text[pos:], pos + 1)
            pos = end + 2
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end + 1
        else:
            break
    return pos


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; the list always ends with an END token."""
    tokens: list[Token] = []
    pos = _skip_space_and_comments(text, 0)
    while pos < len(text):
        col = pos + 1
        ch = text[pos]
        if ch == '"':
            m = _STRING_RE.match(text, pos)
            if not m:
                raise LexError("unterminated string", text[pos:], col)
            try:
                value = json.loads(m.group())
            except ValueError:
                raise LexError("invalid string escape", m.group(), col) from None
            tokens.append(Token(STRING, m.group(), col, value))
            pos = m.end()
        elif ch in "$@":
            m = _NAME_RE.match(text, pos + 1)
            if not m:
                raise LexError(f"expected a name after {ch!r}", text[pos:pos + 10], col)
            kind = ADDRSET if ch == "$" else PORTGROUP
            tokens.append(Token(kind, text[pos:m.end()], col, m.group()))
            pos = m.end()
        else:
            const = _scan_constant(text, pos) if (ch.isdigit() or ch in "abcdefABCDEF:") else None
            if const is not None:
                value, fmt, end = const
                token = Token(INT, text[pos:end], col, value, fmt)
                if end < len(text) and text[end] == "/" and not text.startswith("/*", end) \
                        and not text.startswith("//", end):
                    mask = _scan_constant(text, end + 1)
                    if mask is None:
                        raise LexError("expected a mask after '/'", text[pos:end + 10], end + 2)
                    mvalue, mfmt, mend = mask
                    if mfmt == "dec" and fmt in ("ipv4", "ipv6"):
                        mfmt = "cidr"
                    token = Token(MASKED, text[pos:mend], col, value, fmt, mvalue, mfmt)
                    end = mend
                tokens.append(token)
                pos = end
            elif ch.isalpha() or ch == "_":
                m = _ID_RE.match(text, pos)
                word = m.group()
                if word.endswith("."):
                    raise LexError("identifier ends with '.'", word, col)
                tokens.append(Token(ID, word, col, word))
                pos = m.end()
            else:
                m = _PUNCT_RE.match(text, pos)
                if not m:
                    raise LexError(f"unexpected character {ch!r}", text[pos:pos + 10], col)
                op = m.group()
                tokens.append(Token(PUNCT, op, col, op))
                pos = m.end()
        pos = _skip_space_and_comments(text, pos)
    tokens.append(Token(END, "", len(text) + 1))
    return tokens
