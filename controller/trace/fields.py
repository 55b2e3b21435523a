"""The packet fields a trace talks about: their names, how values print, and diffs.

A packet is described as {field: int} over the *canonical* names of the symbol table
(the first row with a given storage: `tcp.src` also stands for udp.src and sctp.src,
`icmp4.type` for icmp6.type, `arp.op` for rarp.op), because that is what a normalized
match yields. When printing, the protocol of the packet picks the name users expect
(`udp.dst = 53`, not `tcp.dst = 53`).
"""
from __future__ import annotations

import ipaddress

from ..lflow.symbols import Field, Kind, SymbolTable, default_symtab

__all__ = ["PACKET_FIELDS", "METADATA_FIELDS", "canonical_name", "display_name", "format_value",
           "diff", "assignments", "parse_value"]

# Packet fields, in the order assignments are printed (ovn-trace prints in execution
# order, which a frame diff cannot know; this order puts the routing rewrite first, as in
# `ip.ttl--; eth.src = ...; eth.dst = ...;`).
PACKET_FIELDS = (
    "ip.ttl", "eth.src", "eth.dst", "eth.type", "vlan.present", "vlan.tci",
    "arp.op", "arp.sha", "arp.spa", "arp.tha", "arp.tpa",
    "ip4.src", "ip4.dst", "ip6.src", "ip6.dst", "ip6.label", "ip.proto", "ip.dscp", "ip.ecn",
    "ip.frag", "icmp4.type", "icmp4.code", "tcp.src", "tcp.dst", "tcp.flags",
    "nd.target", "nd.sll", "nd.tll",
)

# Logical metadata: a packet that enters from a VM carries none of it but the inport.
METADATA_FIELDS = ("inport", "outport", "flags") + tuple(f"reg{i}" for i in range(16))

_SYMTAB = default_symtab()


def _storage_owner(symtab: SymbolTable) -> dict[str, str]:
    first: dict[tuple, str] = {}
    out = {}
    for name, fld in symtab.fields.items():
        if fld.storage:
            out[name] = first.setdefault((fld.storage, fld.is_string), name)
    return out


_CANONICAL = _storage_owner(_SYMTAB)


def canonical_name(name: str) -> str:
    """`udp.dst` -> `tcp.dst`; unknown names raise KeyError."""
    return _CANONICAL[name]


def field_row(name: str) -> Field:
    return _SYMTAB.fields[name]


def _l4_prefix(packet: dict) -> str:
    proto = packet.get("ip.proto", 0)
    return {6: "tcp", 17: "udp", 132: "sctp"}.get(proto, "tcp")


def display_name(name: str, packet: dict) -> str:
    """The name of canonical field `name` that fits the protocol of `packet`."""
    if name in ("tcp.src", "tcp.dst"):
        return f"{_l4_prefix(packet)}.{name.split('.')[1]}"
    if name in ("icmp4.type", "icmp4.code") and packet.get("eth.type") == 0x86DD:
        return name.replace("icmp4", "icmp6")
    if name.startswith("arp.") and packet.get("eth.type") == 0x8035:
        return "r" + name
    return name


def format_value(name: str, value: int) -> str:
    kind = field_row(name).kind
    if kind is Kind.MAC:
        return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))
    if kind is Kind.IPV4:
        return str(ipaddress.IPv4Address(value))
    if kind is Kind.IPV6:
        return str(ipaddress.IPv6Address(value))
    if name == "eth.type":
        return f"{value:#x}"
    return str(value)


def parse_value(text: str) -> int:
    """A constant as ovn-trace prints it (decimal, 0x hex, MAC, IPv4, IPv6)."""
    from ..lflow.lexer import INT, tokenize
    toks = tokenize(text)
    if len(toks) != 2 or toks[0].kind != INT:
        raise ValueError(f"not a constant: {text!r}")
    return toks[0].value


def diff(before: dict, after: dict) -> dict:
    """{field: (old, new)} for every packet field whose value changed."""
    out = {}
    for name in PACKET_FIELDS:
        old, new = before.get(name, 0), after.get(name, 0)
        if old != new:
            out[name] = (old, new)
    return out


def assignments(before: dict, after: dict) -> list[str]:
    """The changes from `before` to `after` as ovn-trace --minimal actions (no `;`)."""
    out = []
    for name, (old, new) in diff(before, after).items():
        shown = display_name(name, after)
        if name == "ip.ttl" and new == old - 1:
            out.append("ip.ttl--")
        else:
            out.append(f"{shown} = {format_value(name, new)}")
    return out
