"""What a trace found, whoever ran it (ovn-trace or our programs): one model, three formats.

`Delivered` is one delivered copy with the packet as delivered (fields, and frame bytes when
we have them); `Dropped` one copy that died and why; `Tunnelled` one Geneve copy between
chassis; `Stage` one logical flow hit, grouped per chassis for --detailed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Delivered", "Dropped", "Tunnelled", "Stage", "Pass", "TraceResult"]


@dataclass(frozen=True)
class Delivered:
    port: str
    chassis: str | None
    fields: tuple                    # ((field, value), ...): the delivered packet
    packet: bytes | None = None      # the delivered frame (ours), None for ovn-trace
    generated_by: str | None = None  # "icmp4" etc.: a packet made by a packet-generating action

    @property
    def field_map(self) -> dict:
        return dict(self.fields)


@dataclass(frozen=True)
class Dropped:
    chassis: str | None
    reason: str
    lflow: str | None = None         # lflow UUID (or ovn-trace's 8-digit prefix)
    stage: str | None = None


@dataclass(frozen=True)
class Tunnelled:
    src: str | None                  # from chassis
    dst: str | None                  # to chassis
    vni: int
    inport: int
    outport: int


@dataclass(frozen=True)
class Stage:
    pipeline: str                    # 'ingress(dp="ls1", inport="lsp-vm1")' or similar
    table: int | None
    name: str
    match: str
    priority: int | None
    lflow: str | None
    actions: tuple = ()


@dataclass
class Pass:
    """What one chassis did with the packet (or with one copy that reached it)."""
    chassis: str | None
    steps: list = field(default_factory=list)     # Stage, or a note such as 'output to "P"'

    @property
    def stages(self) -> list:
        return [s for s in self.steps if isinstance(s, Stage)]


@dataclass
class TraceResult:
    engine: str                      # "ovn-trace" or "ovnbpf"
    flow_line: str                   # the microflow in OpenFlow syntax
    packet: tuple                    # the input packet's fields
    outputs: list = field(default_factory=list)
    drops: list = field(default_factory=list)
    tunnels: list = field(default_factory=list)
    passes: list = field(default_factory=list)
    input_frame: bytes | None = None
