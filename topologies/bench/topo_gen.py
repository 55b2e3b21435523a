"""One logical switch with N ports, for verifier tests and benchmarks.

`populate_one_switch(central, n)` writes it into a real NB (ovn-nbctl, in batches) and lets
real ovn-northd produce the SB; a chassis `hv1` with port p1 bound makes the switch local.
Port i has MAC 0a:00:00:HH:MM:LL and IP 10.HH.MM.LL (i's bytes).

Real northd costs ~1 s for 1,000 ports but ~140 s for 10,000 (plus ~25 s for a Python IDL
snapshot), so `replicate_ports(state, n)` grows a snapshot made by real northd for a few
ports into one with n ports: every flow, binding and group member that names port p2 is
copied for p3..pn with p2's name, key, MAC and IP replaced. The tests check that this
yields exactly what real northd yields at 1,000 ports (same flow count, same shapes).
"""
from __future__ import annotations

import dataclasses
import hashlib

__all__ = ["port_name", "port_mac", "port_ip", "populate_one_switch", "replicate_ports"]

SWITCH = "ls1"
CHASSIS = "hv1"


def port_name(i: int) -> str:
    return f"p{i}"


def port_mac(i: int) -> str:
    return f"0a:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"


def port_ip(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def populate_one_switch(central, n: int, batch: int = 1000) -> None:
    central.nbctl("ls-add", SWITCH, "--", "set", "Logical_Switch", SWITCH,
                  "other_config:requested-tnl-key=1")
    for start in range(1, n + 1, batch):
        args = []
        for i in range(start, min(n, start + batch - 1) + 1):
            args += ["--", "lsp-add", SWITCH, port_name(i), "--", "lsp-set-addresses",
                     port_name(i), f"{port_mac(i)} {port_ip(i)}",
                     "--", "set", "Logical_Switch_Port", port_name(i),
                     f"options:requested-tnl-key={i}"]
        central.nbctl(*args[1:], timeout=600)
    central.nbctl("--wait=sb", "sync", timeout=600)
    central.sbctl("chassis-add", CHASSIS, "geneve", "127.0.0.1")
    central.sbctl("lsp-bind", port_name(1), CHASSIS)


def _uuid(*parts) -> str:
    h = hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _substituter(template: int, i: int):
    old = (f'"{port_name(template)}"', port_mac(template), port_ip(template))
    new = (f'"{port_name(i)}"', port_mac(i), port_ip(i))

    def sub(text: str) -> str:
        for a, b in zip(old, new):
            text = text.replace(a, b)
        return text
    return sub


def _mentions(text: str, template: int) -> bool:
    return (f'"{port_name(template)}"' in text or port_mac(template) in text
            or _ip_in(text, port_ip(template)))


def _ip_in(text: str, ip: str) -> bool:
    # "10.0.0.2" must not match inside "10.0.0.20"
    start = text.find(ip)
    while start >= 0:
        end = start + len(ip)
        if (start == 0 or not (text[start - 1].isdigit() or text[start - 1] == ".")) and \
                (end == len(text) or not text[end].isdigit()):
            return True
        start = text.find(ip, start + 1)
    return False


def replicate_ports(state, n: int, template: int = 2):
    """A copy of `state` (one switch made by populate_one_switch with >= template ports)
    with ports up to n: port `template`'s flows, binding and memberships copied."""
    have = {p.logical_port for p in state.ports}
    pb = next(p for p in state.ports if p.logical_port == port_name(template))
    per_port = [f for f in state.flows if _mentions(f.match + " " + f.actions, template)]
    flows, ports = list(state.flows), list(state.ports)
    for i in range(1, n + 1):
        if port_name(i) in have:
            continue
        sub = _substituter(template, i)
        for f in per_port:
            flows.append(dataclasses.replace(f, uuid=_uuid(f.uuid, i), match=sub(f.match),
                                             actions=sub(f.actions)))
        ports.append(dataclasses.replace(
            pb, uuid=_uuid(pb.uuid, i), logical_port=port_name(i), tunnel_key=i,
            mac=tuple(f"{port_mac(i)} {port_ip(i)}" for _ in pb.mac), chassis=None))
    added = [port_name(i) for i in range(1, n + 1) if port_name(i) not in have]
    groups = []
    for g in state.mcast_groups:
        if port_name(template) in g.ports:
            g = dataclasses.replace(g, ports=tuple(sorted(set(g.ports) | set(added))))
        groups.append(g)
    return dataclasses.replace(state, flows=tuple(flows), ports=tuple(ports),
                               mcast_groups=tuple(groups))
