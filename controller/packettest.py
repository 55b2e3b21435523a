"""Packet tests against the real compiled pipelines: send a scapy packet, see what came out.

    from scapy.layers.l2 import Ether
    from scapy.layers.inet import IP, ICMP
    from controller.packettest import Pipeline

    with Pipeline("unix:/run/ovn/ovnsb_db.sock") as pipeline:       # or Pipeline.of_lab("v1")
        result = pipeline.send("vm1", Ether(src=..., dst=...) / IP(...) / ICMP())
        [copy] = result.delivered
        assert copy.port == "vm3" and copy.packet[IP].ttl == 63
        assert not result.drops

`Pipeline` reads the Southbound once (real northd's logical flows, the chassis and port
bindings) and, for each chassis a packet reaches, compiles and loads that chassis' programs
exactly as `ovnbpf controller` would, into a private network namespace and a private bpffs
directory; packets then run through the real XDP programs with BPF_PROG_TEST_RUN (what
`ovnbpf trace` does). Geneve copies are followed to the destination chassis' tunnel program,
multicast copies are sent live through the private namespace's devices. Nothing touches a
running chassis or a real interface; `close()` (or leaving the `with`) removes all of it.

Needs root and the kernel features the datapath needs (BPF, XDP on veth). The Southbound
may come from a whole lab (`Pipeline.of_lab`) or from a central alone, with chassis
registered by `ovn-sbctl chassis-add` and ports bound by `ovn-sbctl lsp-bind`: no chassis
daemons are needed (see docs/packet-tests.md and the `ovn_sb` fixture of the pytest plugin).

This module is the documented surface; it is built on `controller.trace` (the walk).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from scapy.layers.l2 import Ether

from . import rundir
from .trace.bind import bind
from .trace.frame import MIN_FRAME, frame_fields
from .trace.microflow import MicroflowError
from .trace.model import Stage
from .trace.render import render_detailed
from .trace.sb import snapshot
from .trace.walk import Walker

__all__ = ["Pipeline", "Result", "Delivered", "Dropped", "PacketTestError"]


class PacketTestError(ValueError):
    """A send that cannot be made as asked (unknown port, port not on any chassis, ...)."""


@dataclass(frozen=True)
class Delivered:
    """One copy the pipelines delivered to a logical port."""
    port: str                   # the logical port (Port_Binding.logical_port) it left by
    chassis: str                # the chassis (Chassis.name) whose VIF it left from
    packet: Ether               # the frame as the VM behind `port` receives it
    generated_by: str | None = None   # "icmp4", "arp", ...: made by the controller (a punt)

    @property
    def raw(self) -> bytes:
        return bytes(self.packet)


@dataclass(frozen=True)
class Dropped:
    """One copy that died, and where.

    `reason` is the datapath's drop reason (bpf/lib/drop.h: POLICY for a logical flow's
    `drop;`, NOT_COMPILED for a flow the compiler could not compile, ...). `lflow` is the
    Logical_Flow UUID that dropped it, `stage` its stage name (e.g. "ls_in_apply_port_sec"),
    `pipeline` "ingress"/"egress", `match` the flow's match: all None when the drop was not a
    logical flow's (a malformed frame, a missing tunnel, ...)."""
    chassis: str | None
    reason: str
    lflow: str | None = None
    stage: str | None = None
    pipeline: str | None = None
    table: int | None = None
    match: str | None = None


@dataclass
class Result:
    """What one `send` did: the delivered copies, the drops, and the logical flows hit."""
    delivered: list = field(default_factory=list)    # [Delivered]
    drops: list = field(default_factory=list)        # [Dropped]
    tunnels: list = field(default_factory=list)      # Geneve copies between chassis (trace.model.Tunnel)
    stages: list = field(default_factory=list)       # [(chassis, trace.model.Stage)] in walk order
    trace: object = None                             # the full trace.model.TraceResult

    def to(self, port: str) -> list:
        """The copies delivered to `port`."""
        return [d for d in self.delivered if d.port == port]

    @property
    def ports(self) -> list:
        """The ports copies were delivered to, sorted (a multicast: several)."""
        return sorted(d.port for d in self.delivered)

    def __str__(self):
        return render_detailed(self.trace) if self.trace is not None else repr(self)


_DROP_ACTION = re.compile(r"(^|[;{\s])drop\s*;")


class Pipeline:
    """The compiled pipelines of every chassis of one Southbound, ready to take packets.

    `sb`: an OVSDB remote of the Southbound ("unix:/path/sb.sock", "tcp:IP:6642", several
    comma-separated). `chassis`: the chassis a packet enters on when the port it is sent
    from is bound nowhere, or to send from a port as if its VM lived on that chassis (as
    `ovn-trace --chassis` / `ovnbpf trace --chassis`); by default a packet enters on the
    chassis its port is bound to. The Southbound is read once, at construction and on
    `refresh()`: make NB changes, wait for them (`ovn-nbctl --wait=sb sync`), then
    `refresh()`. A chassis' programs are built on the first packet that reaches it (bcc and
    clang: seconds), then reused.
    """

    def __init__(self, sb: str, chassis: str | None = None, timeout: float = 10.0):
        self.sb = sb
        self.chassis = chassis
        self.timeout = timeout
        self.state = snapshot(sb, timeout=timeout)
        self._walker = None
        self._hosts = {}

    @classmethod
    def of_lab(cls, lab: str, chassis: str | None = None, timeout: float = 10.0) -> "Pipeline":
        """The pipelines of a running lab (`ovnbpf lab up --name LAB`), by the lab's name."""
        return cls(rundir.lab_sb_remote(lab), chassis, timeout)

    # -- lifetime -------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Unload every program, unpin every map, delete the private namespace. Idempotent."""
        if self._walker is not None:
            walker, self._walker = self._walker, None
            walker.close()

    def refresh(self) -> None:
        """Read the Southbound again; the next packet rebuilds what changed (all chassis)."""
        self.close()
        self._hosts = {}
        self.state = snapshot(self.sb, timeout=self.timeout)

    # -- packets --------------------------------------------------------------------------

    def send(self, port: str, packet, chassis: str | None = None) -> Result:
        """Send `packet` (a scapy packet starting with Ether, or frame bytes) from the VIF of
        logical port `port`, as its VM would, and follow every copy to its end. Frames
        shorter than Ethernet's minimum are padded with zeros to 60 bytes, as a NIC does.
        `chassis` overrides where it enters (default: this Pipeline's, then the port's)."""
        frame = bytes(packet)
        if len(frame) < MIN_FRAME:
            frame += b"\x00" * (MIN_FRAME - len(frame))
        where = self._bind(port, chassis or self.chassis)
        walker = self._walker_for(where)
        fields = frame_fields(frame)
        trace = walker.trace(where, frame, fields, f"packet from {port}")
        return self._result(trace)

    def _bind(self, port: str, chassis: str | None):
        try:
            lport = self.state.port_named(port)
            if lport is not None and lport.type != "":
                raise PacketTestError(f'logical port "{port}" is a {lport.type} port: packets '
                                      "are sent from VIF ports (a VM's)")
            where = bind(self.state, None, port, chassis)
        except MicroflowError as e:
            raise PacketTestError(str(e)) from None
        if where.chassis is None:
            raise PacketTestError(f'logical port "{port}" is not bound to a chassis: bind it '
                                  "(ovn-sbctl lsp-bind PORT CHASSIS) or pass chassis=")
        return where

    def _walker_for(self, where):
        """One Walker while the hosted ports stay the same; a port hosted somewhere new
        (chassis=) reloads, since which VIFs a chassis has is part of its programs."""
        hosts = {c: set(p) for c, p in self._hosts.items()}     # a copy: compared below
        if where.chassis != where.inport.chassis:
            hosts.setdefault(where.chassis, set()).add(where.inport.logical_port)
        if self._walker is not None and hosts != self._hosts:
            self.close()
        if self._walker is None:
            self._walker = Walker(self.state, stages=True, hosts=hosts)
            self._hosts = {c: set(p) for c, p in hosts.items()}
        return self._walker

    def _result(self, trace) -> Result:
        r = Result(trace=trace, tunnels=list(trace.tunnels))
        for p in trace.passes:
            r.stages += [(p.chassis, s) for s in p.stages]
        for out in trace.outputs:
            r.delivered.append(Delivered(out.port, out.chassis, Ether(out.packet),
                                         out.generated_by))
        for d in trace.drops:
            r.drops.append(self._dropped(trace, d))
        return r

    @staticmethod
    def _dropped(trace, d) -> Dropped:
        """Name the logical flow behind a drop: the walk's own answer when it has one, else
        the flow hit on that chassis whose actions drop (the last such in walk order), or,
        for a flow that could not be compiled, the last flow hit there."""
        flow = None
        lflow = getattr(d, "lflow", None)
        hits = [s for p in trace.passes if p.chassis == d.chassis for s in p.stages]
        if lflow:
            flow = next((s for s in hits if s.lflow == lflow), None)
        elif d.reason == "POLICY":
            flow = next((s for s in reversed(hits)
                         if any(_DROP_ACTION.search(a) for a in s.actions)), None)
        elif d.reason == "NOT_COMPILED" and hits:
            flow = hits[-1]
        if flow is None:
            return Dropped(d.chassis, d.reason, lflow, getattr(d, "stage", None))
        return Dropped(d.chassis, d.reason, flow.lflow, flow.name, _pipeline_of(flow),
                       flow.table, flow.match)


def _pipeline_of(stage: Stage) -> str:
    return stage.pipeline.split("(", 1)[0]
