"""Tie a microflow to the Southbound: which datapath, which ingress port, which chassis.

Like ovn-trace, DATAPATH may be omitted (the inport says it) and is a logical switch or
router name or a Datapath_Binding UUID; unlike ovn-trace (which warns and then asserts),
an unknown port or a port of another datapath is a clear error."""
from __future__ import annotations

from dataclasses import dataclass

from .microflow import MicroflowError

__all__ = ["Binding", "bind"]


@dataclass(frozen=True)
class Binding:
    datapath: object          # rows.DatapathBinding
    inport: object            # rows.PortBinding
    chassis: str | None       # where the packet enters: the inport's chassis or --chassis


def _find_datapath(state, name: str):
    for d in state.datapaths:
        if name in (d.name, d.uuid):
            return d
    known = ", ".join(sorted(d.name for d in state.datapaths)) or "none"
    raise MicroflowError(f'unknown datapath "{name}" (known: {known})')


def bind(state, datapath: str | None, inport: str | None, chassis: str | None = None) -> Binding:
    if not inport:
        raise MicroflowError('microflow does not specify ingress port: add inport == "PORT"')
    port = state.port_named(inport)
    if port is None:
        raise MicroflowError(f'{inport}: unknown logical port')
    dps = state.datapath_by_uuid()
    home = dps.get(port.datapath)
    if datapath is not None:
        dp = _find_datapath(state, datapath)
        if dp.uuid != port.datapath:
            raise MicroflowError(f'logical port "{inport}" is in datapath '
                                 f'"{home.name if home else port.datapath}", not in "{dp.name}"')
    if chassis is not None and chassis not in {c.name for c in state.chassis}:
        raise MicroflowError(f'unknown chassis "{chassis}"')
    return Binding(home, port, chassis or port.chassis)
