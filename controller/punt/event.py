"""Wire formats between the datapath and the punt handler (mirrors of bpf/lib/flow.h,
bpf/lib/maps.h (the punt event) and bpf/xdp_inject.c; tests/datapath/test_mirrors.py
compares every offset and size with the compiled C).

A punt event is `struct ovnbpf_punt_event` (header + the whole `struct ovnbpf_flow` at the
moment of the punt) followed by the frame's bytes as the datapath parsed them.
An injection is `struct ovnbpf_inject_hdr` followed by an Ethernet frame.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

from ..lflow.symbols import FLOW_MEMBERS

__all__ = ["Flow", "PuntEvent", "BadEvent", "decode_event", "encode_event", "inject_header",
           "flow_to_dict", "dict_to_flow", "PUNT_MAGIC", "INJECT_MAGIC", "CONSUME", "COPY",
           "STAGE_INGRESS", "STAGE_EGRESS", "RESUME_TABLE", "RESUME_OUTPUT", "COPY_KINDS"]

PUNT_MAGIC = 0x6F766E70      # OVNBPF_PUNT_MAGIC
PUNT_VERSION = 1
INJECT_MAGIC = 0x6F766E69    # OVNBPF_INJECT_MAGIC
CONSUME, COPY = 1, 2         # OVNBPF_PUNT_CONSUME / OVNBPF_PUNT_COPY_KIND
STAGE_INGRESS, STAGE_EGRESS = 0, 1
RESUME_TABLE, RESUME_OUTPUT = 1, 2
COPY_KINDS = {1: "put_arp", 2: "put_nd", 3: "put_fdb"}   # OVNBPF_COPY_* (flow.h)
MAX_FRAME = 9216             # OVNBPF_PUNT_MAX_BYTES

u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64


class Flow(ctypes.Structure):
    """struct ovnbpf_flow (bpf/lib/flow.h), field for field."""
    _fields_ = [
        ("dp", u32), ("inport", u32), ("outport", u32), ("flags", u32), ("reg", u32 * 16),
        ("present", u32), ("_pad0", u32),
        ("eth_src", u64), ("eth_dst", u64), ("eth_type", u16), ("vlan_tci", u16), ("_pad1", u32),
        ("arp_sha", u64), ("arp_tha", u64), ("arp_spa", u32), ("arp_tpa", u32), ("arp_op", u16),
        ("_pad2", u16 * 3),
        ("ip4_src", u32), ("ip4_dst", u32), ("ip6_src_hi", u64), ("ip6_src_lo", u64),
        ("ip6_dst_hi", u64), ("ip6_dst_lo", u64), ("ip6_label", u32), ("ip_proto", u8),
        ("ip_ttl", u8), ("ip_dscp", u8), ("ip_ecn", u8),
        ("tp_src", u16), ("tp_dst", u16), ("tcp_flags", u16), ("icmp_type", u8), ("icmp_code", u8),
        ("nd_target_hi", u64), ("nd_target_lo", u64), ("nd_sll", u64), ("nd_tll", u64),
        ("ct_state", u32), ("ct_mark", u32), ("ct_label_hi", u64), ("ct_label_lo", u64),
        ("l3_off", u16), ("l4_off", u16), ("frame_len", u16), ("hops", u8), ("origin", u8),
        ("out_type", u32), ("out_a", u32), ("out_b", u32),
        ("punt_cookie", u32), ("copy_cookie", u32), ("start_table", u16), ("resume", u8),
        ("copy_kind", u8), ("punt_depth", u8), ("_pad3", u8 * 3),
        ("icmp_id", u16), ("_pad4", u16 * 3),
    ]


class EventHeader(ctypes.Structure):
    """struct ovnbpf_punt_event without the flow."""
    _fields_ = [("magic", u32), ("version", u16), ("flow_size", u16), ("kind", u32),
                ("cookie", u32), ("stage", u32), ("what", u32), ("pkt_len", u32), ("_pad", u32)]


class Event(ctypes.Structure):
    _fields_ = [("hdr", EventHeader), ("flow", Flow)]


class InjectHeader(ctypes.Structure):
    """struct ovnbpf_inject_hdr (bpf/xdp_inject.c)."""
    _fields_ = [("magic", u32), ("stage", u32), ("resume", u32), ("table", u32), ("dp", u32),
                ("inport", u32), ("outport", u32), ("flags", u32), ("reg", u32 * 16),
                ("hops", u32), ("origin", u32), ("depth", u32)]


class BadEvent(ValueError):
    """A punt event that cannot be handled; `reason` is its counter name."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class PuntEvent:
    kind: int            # CONSUME / COPY
    cookie: int
    stage: int           # STAGE_INGRESS / STAGE_EGRESS
    what: int            # COPY: OVNBPF_COPY_*
    flow: dict           # FLOW_MEMBERS -> value, plus the private members below
    frame: bytes         # as parsed (the pipeline's changes are in `flow`)

    @property
    def pipeline(self) -> str:
        return "ingress" if self.stage == STAGE_INGRESS else "egress"


_PRIVATE = ("l3_off", "l4_off", "frame_len", "hops", "origin", "punt_depth")


def flow_to_dict(fl: Flow) -> dict:
    out = {}
    for name in FLOW_MEMBERS:
        if name.startswith("reg["):
            out[name] = fl.reg[int(name[4:-1])]
        else:
            out[name] = getattr(fl, name)
    for name in _PRIVATE:
        out[name] = getattr(fl, name)
    return out


def dict_to_flow(d: dict) -> Flow:
    fl = Flow()
    for name, value in d.items():
        if name.startswith("reg["):
            fl.reg[int(name[4:-1])] = value
        elif hasattr(fl, name):
            setattr(fl, name, value)
    return fl


def decode_event(data: bytes) -> PuntEvent:
    """Bytes of one perf sample -> PuntEvent; BadEvent (with a counter name) otherwise."""
    size = ctypes.sizeof(Event)
    if len(data) < size:
        raise BadEvent("short_event", f"{len(data)} bytes < {size}")
    ev = Event.from_buffer_copy(data[:size])
    h = ev.hdr
    if h.magic != PUNT_MAGIC or h.version != PUNT_VERSION:
        raise BadEvent("bad_magic", f"magic {h.magic:#x} version {h.version}")
    if h.flow_size != ctypes.sizeof(Flow):
        raise BadEvent("flow_size_mismatch", f"datapath {h.flow_size}, controller {ctypes.sizeof(Flow)}")
    if h.kind not in (CONSUME, COPY) or h.stage not in (STAGE_INGRESS, STAGE_EGRESS):
        raise BadEvent("bad_kind", f"kind {h.kind} stage {h.stage}")
    frame = bytes(data[size:size + h.pkt_len])
    if len(frame) != h.pkt_len or h.pkt_len < 14:
        raise BadEvent("short_frame", f"{len(frame)} of {h.pkt_len} bytes")
    return PuntEvent(h.kind, h.cookie, h.stage, h.what, flow_to_dict(ev.flow), frame)


def encode_event(kind: int, cookie: int, stage: int, flow: dict, frame: bytes, what: int = 0) -> bytes:
    """The bytes the datapath would submit (tests, and the trace's in-process punts)."""
    ev = Event()
    ev.hdr = EventHeader(PUNT_MAGIC, PUNT_VERSION, ctypes.sizeof(Flow), kind, cookie, stage,
                         what, len(frame), 0)
    ev.flow = dict_to_flow(flow)
    return bytes(ev) + frame


def inject_header(stage: int, resume: int, table: int, meta: dict) -> bytes:
    h = InjectHeader()
    h.magic, h.stage, h.resume, h.table = INJECT_MAGIC, stage, resume, table
    h.dp, h.inport, h.outport, h.flags = meta["dp"], meta["inport"], meta["outport"], meta["flags"]
    for i in range(16):
        h.reg[i] = meta.get(f"reg[{i}]", 0)
    h.hops, h.origin, h.depth = meta.get("hops", 0), meta.get("origin", 0), meta.get("punt_depth", 0)
    return bytes(h)
