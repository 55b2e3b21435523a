"""Drop reasons, mirrored from bpf/lib/drop.h (tests/datapath/test_mirrors.py checks names
and values against the compiled C), and a reader for the per-CPU drop counters."""
from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

from .bpfsrc import lib_header
DROP_MAX = 64


class Drop(IntEnum):
    RUNT = -1
    VLAN_TRUNCATED = -2
    VLAN_TOO_DEEP = -3
    ARP_TRUNCATED = -4
    ARP_UNSUPPORTED = -5
    IP4_TRUNCATED = -6
    IP4_BAD_HEADER = -7
    IP4_BAD_LENGTH = -8
    IP6_TRUNCATED = -9
    IP6_EXT_HEADERS = -10
    L4_TRUNCATED = -11
    TCP_BAD_DOFF = -12
    ND_TRUNCATED = -13
    GENEVE_TRUNCATED = -14
    GENEVE_BAD_VERSION = -15
    GENEVE_BAD_OPT_LEN = -16
    GENEVE_UNKNOWN_CRIT_OPT = -17
    GENEVE_NO_OVN_OPT = -18
    GENEVE_BAD_PROTO = -19
    GENEVE_OAM = -20
    TUNNEL_UNKNOWN_SRC = -21
    TUNNEL_FRAGMENT = -22
    UNKNOWN_VIF = -23
    POLICY = -24
    UNKNOWN_OUTPORT = -25
    OUTPORT_NOT_LOCAL = -26
    UNKNOWN_CHASSIS = -27
    LOOPBACK = -28
    ENCAP_FAILED = -29
    DECAP_FAILED = -30
    MCAST_UNKNOWN_GROUP = -31
    MCAST_TOO_MANY = -32
    MISSED_TAIL_CALL = -33
    NEED_CONTROLLER = -34
    META_FAILED = -35
    ENCAP_TOO_BIG = -36
    PIPELINE_ERROR = -37
    IP6_BAD_HEADER = -38
    NOT_COMPILED = -39
    NO_PIPELINE = -40
    HOP_LIMIT = -41
    LOOP_BAD_HEADER = -42
    NO_LOOP = -43
    NO_NEIGH = -44
    FIB_TOO_BIG = -45
    PUNT_LOST = -46
    INJECT_BAD_HEADER = -47
    PUNT_RATE = -48
    GSO_UNSUPPORTED = -49


_ENUM_LINE = re.compile(r"^\s*OVNBPF_DROP_([A-Z0-9_]+)\s*=\s*(-\d+)\s*,")


def parse_header(path: Path | None = None) -> dict[str, int]:
    """The enum as written in C: {name: code}."""
    out = {}
    for line in (path or lib_header("drop.h")).read_text().splitlines():
        m = _ENUM_LINE.match(line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def name(code: int) -> str:
    try:
        return Drop(code).name
    except ValueError:
        return f"UNKNOWN({code})"


def index(reason: Drop | int) -> int:
    """Slot of a reason in the ovnbpf_drops counter array."""
    return -int(reason)
