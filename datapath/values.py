"""The values ChassisDatapath's set_* calls take: where a logical port is (Local, Remote,
Patch), how to reach a chassis (Tunnel), a multicast group's members (Group).

Pure (no kernel): the controller builds them from the Southbound (chassisd/desired.py),
tests and benches build them by hand. Keys are the integers the datapath indexes by
(datapath and port tunnel keys, chassis ids); names stop in the controller.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Local", "Remote", "Patch", "Tunnel", "Group", "Where"]


@dataclass(frozen=True)
class Local:
    ifindex: int


@dataclass(frozen=True)
class Remote:
    chassis: int


@dataclass(frozen=True)
class Patch:
    peer_dp: int
    peer_port: int


@dataclass(frozen=True)
class Tunnel:
    """The next hop is bpf_fib_lookup's answer; `dmac` (the static fallback while the
    kernel has no neighbour entry) and `ifindex` (default: the uplink) are optional.
    `egress_mark`: the chassis understands the egress-done bit (an ovnbpf chassis), so in
    ingress mode its unicast runs egress here (bpf/lib/split.h); never for OVS chassis.
    `trust_egress_done`: packets it marks egress-done skip egress here (it advertises that
    it sends the bit, and we that we accept it); from anyone else the mark is ignored."""
    remote_ip: str
    dmac: str | None = None
    ifindex: int | None = None
    egress_mark: bool = False
    trust_egress_done: bool = False


@dataclass(frozen=True)
class Group:
    local_ports: frozenset[int] | tuple[int, ...]
    remote_chassis: frozenset[int] | tuple[int, ...] = ()
    wire_key: int = 0      # outport of remote copies; 0 = the group key itself


Where = Local | Remote | Patch      # a logical port's place, the value of set_lports
