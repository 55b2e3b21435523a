"""ovn-trace's MICROFLOW argument -> one concrete packet.

A microflow is a match expression that must pin down a single packet: after the
compiler's own passes (annotate adds prerequisites, so `icmp4.type == 8` brings
`eth.type == 0x800 && ip.proto == 1`; simplify; normalize) it has to be exactly one
conjunction. Bits it leaves unconstrained are 0, as in ovn-trace (whose flow shows
`nw_ttl=0` when no ip.ttl is given).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..lflow import passes
from ..lflow.expr import CompileError, UnsupportedError
from ..lflow.parser import ParseError, parse_match
from .fields import METADATA_FIELDS, PACKET_FIELDS, field_row, format_value

__all__ = ["MicroflowError", "MicroflowUnsupported", "Microflow", "parse_microflow"]


class MicroflowError(ValueError):
    """The microflow is malformed, ambiguous or contradictory (ovn-trace refuses it too)."""


class MicroflowUnsupported(MicroflowError):
    """ovn-trace accepts it, but a packet entering from a VM cannot carry it."""


@dataclass(frozen=True)
class Microflow:
    text: str
    inport: str | None
    packet: tuple            # ((field, value), ...) over PACKET_FIELDS, unset fields 0
    constrained: frozenset   # the fields the microflow (with prerequisites) sets

    @property
    def fields(self) -> dict:
        return dict(self.packet)


def _column_of(name: str, text: str) -> int:
    m = re.search(r"(?<![\w.])" + re.escape(name) + r"(?![\w.])", text)
    return m.start() + 1 if m else 1


def _format_conj(conj) -> str:
    parts = []
    for name, value, mask in conj:
        if mask is None:
            parts.append(f'{name} == "{value}"')
        elif name in PACKET_FIELDS:
            full = (1 << field_row(name).width) - 1
            text = format_value(name, value)
            parts.append(f"{name} == {text}" if mask == full else f"{name} == {text}/{format_value(name, mask)}")
        else:
            parts.append(f"{name} == {value:#x}/{mask:#x}")
    return " && ".join(parts) or "1"


def parse_microflow(text: str) -> Microflow:
    """Parse and check one microflow; raises MicroflowError with ovn-trace's kinds of
    message ('Syntax error ...', 'Constraints are ambiguous', '... contradictory')."""
    try:
        tree = parse_match(text)
    except ParseError as e:
        raise MicroflowError(f"Syntax error: {e.reason} at column {e.col}") from None
    try:
        ir = passes.simplify(passes.annotate(tree))
    except UnsupportedError as e:
        raise MicroflowUnsupported(f"{e}: ovnbpf trace cannot build such a packet") from None
    except CompileError as e:
        msg = str(e)
        name = re.search(r"'([^']+)'|(\S+) is an? ", msg)
        col = _column_of(name.group(1) or name.group(2), text) if name else None
        raise MicroflowError(msg + (f" at column {col}" if col else "")) from None
    try:
        dnf = passes.normalize(passes.evaluate_conditions(ir, _no_conditions))
    except CompileError as e:
        raise MicroflowError(str(e)) from None
    if dnf.is_false:
        raise MicroflowError("Constraints are contradictory.")
    if len(dnf.conjs) > 1:
        shown = " || ".join(f"({_format_conj(c)})" for c in dnf.conjs[:3])
        more = f" || ... ({len(dnf.conjs)} alternatives)" if len(dnf.conjs) > 3 else ""
        raise MicroflowError(f"Constraints are ambiguous: {shown}{more}. A microflow must "
                             "describe one packet (e.g. say ip4 or ip6, and give exact values).")
    [conj] = dnf.conjs
    inport = None
    packet = dict.fromkeys(PACKET_FIELDS, 0)
    constrained = set()
    for name, value, mask in conj:
        if name == "inport":
            inport = value
        elif name in METADATA_FIELDS or name.startswith(("xreg", "xxreg")):
            raise MicroflowUnsupported(
                f"{name} is logical metadata: a packet sent by a VM cannot carry it, so "
                "ovnbpf trace does not take it in a microflow (not implemented yet)")
        elif name in ("ct_state", "ct_mark", "ct_label"):
            raise MicroflowUnsupported(
                f"{name} is conntrack state: a packet sent by a VM cannot carry it; ct_next "
                "gives it (ovnbpf trace runs with an empty conntrack table: every connection "
                "is new, as ovn-trace's default --ct)")
        elif name not in packet:
            raise MicroflowUnsupported(f"field {name} cannot be put in a packet (not implemented yet)")
        else:
            packet[name] = value
            constrained.add(name)
    _complete(packet)
    return Microflow(text, inport, tuple(packet.items()), frozenset(constrained))


def _complete(packet: dict) -> None:
    """Bits that imply others in any real packet: a tag's CFI (OVS's "present") and its
    present bit go together; a later fragment is a fragment."""
    if packet["vlan.tci"] & 0x1000 or packet["vlan.present"]:
        packet["vlan.tci"] |= 0x1000
        packet["vlan.present"] = 1
    if packet["ip.frag"] & 2:
        packet["ip.frag"] |= 1


def _no_conditions(port):
    raise CompileError(f"is_chassis_resident({port!r}) has no meaning in a microflow")
