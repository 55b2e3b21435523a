"""The oracle: real `ovn-trace` on the same Southbound and arguments, read into the model.

Two runs: `--minimal` gives the delivered copies with every rewrite reduced to a constant
(applied in order to the input packet, that is the packet each port receives);
`--detailed` gives the stages, the lflows hit, the drops and the pipeline of each output
(which egress, under which multicast group), from which the chassis that does each step
and the Geneve header of each tunnelled copy follow, as OVN places them: ingress and the
logical hops through routers on the inport's chassis, egress on the outport's chassis,
one Geneve copy per remote chassis for a multicast group (outport = the group's key).
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from ..punt.dhcp import DhcpError, parse_options
from .fields import PACKET_FIELDS, canonical_name, parse_value
from .model import Drop, Output, Pass, Stage, TraceResult, Tunnel

__all__ = ["OracleError", "run_ovn_trace", "parse_minimal", "parse_detailed", "oracle_result",
           "GENERATING_ACTIONS"]

# Nested blocks of --minimal that make a new packet (ovn-controller's pinctrl does these);
# any other block (clone) is a copy of the current packet.
GENERATING_ACTIONS = ("icmp4", "icmp4_error", "icmp6", "icmp6_error", "arp", "nd_ns", "nd_na",
                      "nd_na_router", "tcp_reset", "sctp_abort", "reject", "put_dhcp_opts",
                      "put_dhcpv6_opts", "dns_lookup")


CT_NEXTS = 16

_CT_NEXT_END = re.compile(r"ct_next\(ct_state=[^)]*\);$")   # the last ct_next of a dropped packet


class OracleError(RuntimeError):
    pass


def run_ovn_trace(sb_remote: str, datapath: str | None, microflow: str, fmt: str,
                  timeout: float = 30.0) -> str:
    """ovn-trace's stdout for one format ("minimal", "detailed", "summary")."""
    # The walk runs each chassis with an empty conntrack table: every ct_next finds a new
    # connection. ovn-trace's default is est|trk: ask it for new|trk on each ct_next (a
    # packet meets at most a few: one per stateful switch pipeline it crosses).
    cmd = ["ovn-trace", f"--db={sb_remote}", f"--{fmt}"] + ["--ct=new"] * CT_NEXTS
    if "," in sb_remote:
        cmd.append("--no-leader-only")
    cmd += ([datapath] if datapath else []) + [microflow]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise OracleError("ovn-trace is not installed (Debian package ovn-central/ovn-common)") from None
    except subprocess.TimeoutExpired:
        raise OracleError(f"ovn-trace did not answer within {timeout:.0f} s (is {sb_remote} up?)") from None
    if r.returncode != 0 or not r.stdout.startswith("#"):
        msg = (r.stdout + r.stderr).strip().splitlines()
        raise OracleError("ovn-trace failed: " + (msg[-1] if msg else f"exit status {r.returncode}"))
    return r.stdout


# ---- --minimal --------------------------------------------------------------------

_OUTPUT = re.compile(r'output\("([^"]*)"\);$')
_DECREMENT = re.compile(r"([\w.]+)--;$")
_ASSIGN = re.compile(r"([\w.]+) = (.+);$")
# pause-and-resume actions: ovn-trace prints the call with its arguments and sets the result
_PUT_OPTS = re.compile(r"(put_dhcp_opts|put_dhcpv6_opts|put_nd_ra_opts)\((.*)\);$")


@dataclass(frozen=True)
class MinimalCopy:
    port: str
    fields: tuple
    generated_by: str | None


def _set(fields: dict, name: str, value: int) -> None:
    try:
        key = canonical_name(name)
    except KeyError:
        return                            # metadata ovn-trace chose to show: not packet data
    if key in PACKET_FIELDS:
        fields[key] = value


_L3_L4 = ("ip.ttl", "ip4.src", "ip4.dst", "ip6.src", "ip6.dst", "ip6.label", "ip.proto", "ip.dscp",
          "ip.ecn", "ip.frag", "icmp4.type", "icmp4.code", "tcp.src", "tcp.dst", "tcp.flags",
          "nd.target", "nd.sll", "nd.tll")


def _generated(name: str, fields: dict) -> dict:
    """The packet an action makes, before its nested actions run. ovn-trace prints only
    the nested assignments; the new packet's own fields are implicit (ovn-sb(5)): `arp {}`
    turns an IPv4 packet into an ARP request (op 1, sha = eth.src, spa = ip4.src,
    tha = 0, tpa = ip4.dst) with no IP header left. Other actions keep the fields."""
    if name in ("nd_ns", "nd_na", "nd_na_router"):
        return _generated_nd(name, fields)
    if name != "arp":
        return dict(fields)
    out = dict(fields)
    out.update({"eth.type": 0x0806, "arp.op": 1, "arp.sha": fields.get("eth.src", 0),
                "arp.spa": fields.get("ip4.src", 0), "arp.tha": 0, "arp.tpa": fields.get("ip4.dst", 0)})
    out.update(dict.fromkeys(_L3_L4, 0))
    return out


def _generated_nd(name: str, fields: dict) -> dict:
    """ND packets (ovn-sb(5), RFC 4861): `nd_ns {}` solicits ip6.dst from eth.src, to the
    solicited-node group of ip6.dst, hop limit 255, with the source link-layer option;
    `nd_na {}` / `nd_na_router {}` answer a solicitation from its eth.dst and target back to
    its eth.src and ip6.src, with the target link-layer option (= that eth.dst). Traffic
    class and flow label are 0, as pinctrl makes them."""
    out = dict(fields)
    out.update(dict.fromkeys(_L3_L4, 0))
    out.update({"eth.type": 0x86DD, "ip.proto": 58, "ip.ttl": 255, "ip6.src": fields.get("ip6.src", 0)})
    if name == "nd_ns":
        group = (0xFF02 << 112) | (0x1FF << 24) | (fields.get("ip6.dst", 0) & 0xFFFFFF)
        out.update({"eth.dst": 0x333300000000 | (group & 0xFFFFFFFF), "ip6.dst": group,
                    "icmp4.type": 135, "nd.target": fields.get("ip6.dst", 0),
                    "nd.sll": fields.get("eth.src", 0)})
    else:
        target = fields.get("nd.target", 0)
        out.update({"eth.src": fields.get("eth.dst", 0), "eth.dst": fields.get("eth.src", 0),
                    "ip6.src": target, "ip6.dst": fields.get("ip6.src", 0) or (0xFF02 << 112 | 1),
                    "icmp4.type": 136, "nd.target": target, "nd.tll": fields.get("eth.dst", 0)})
    return out


def parse_minimal(text: str, packet: dict) -> tuple[str, list[MinimalCopy]]:
    """(the OpenFlow line, delivered copies) from ovn-trace --minimal output."""
    flow_line = ""
    stack = [(dict(packet), None)]
    copies = []
    for raw in text.splitlines():
        line = raw.strip()
        fields, generated = stack[-1]
        if not line:
            continue
        if line.startswith("#"):
            flow_line = line[1:].strip()
        elif line.endswith("{"):
            name = line[:-1].strip()
            stack.append((_generated(name, fields), name if name in GENERATING_ACTIONS else generated))
        elif line == "};":
            if len(stack) > 1:
                stack.pop()
        elif _CT_NEXT_END.match(line):
            continue                      # conntrack state is not packet data; nothing after
        elif line.startswith(("/*", "***")):
            continue                      # ovn-trace's notes ("We assume that this packet ...")
        elif m := _PUT_OPTS.match(line):
            _put_opts(m.group(1), m.group(2), fields)
        elif m := _OUTPUT.match(line):
            copies.append(MinimalCopy(m.group(1), tuple(fields.items()), generated))
        elif m := _DECREMENT.match(line):
            key = canonical_name(m.group(1))
            fields[key] = (fields.get(key, 0) - 1) & 0xFF
        elif m := _ASSIGN.match(line):
            try:
                value = parse_value(m.group(2))
            except ValueError:
                raise OracleError(f"cannot read ovn-trace's action {line!r}") from None
            _set(fields, m.group(1), value)
        else:
            raise OracleError(f"unexpected line in ovn-trace --minimal output: {line!r}")
    return flow_line, copies


def _put_opts(name: str, args: str, fields: dict) -> None:
    """What the controller does to the packet that ovn-trace leaves implicit: pinctrl's
    DHCPv4 reply goes to the offered address (the trace's frame is a DHCPDISCOVER without
    the broadcast flag, as ovn-trace assumes). The others are not modelled."""
    if name != "put_dhcp_opts":
        return
    try:
        offer = next(o for o in parse_options(args) if o.code == 0).values[0]
    except DhcpError as e:
        raise OracleError(f"cannot read ovn-trace's put_dhcp_opts({args}): {e}") from None
    fields["ip4.dst"] = offer


# ---- --detailed -------------------------------------------------------------------

_LFLOW = re.compile(r"(\d+)\. (\S+) \(([^)]*)\): (.*), priority (\d+), uuid ([0-9a-f]+)$")
_OUT_NOTE = re.compile(r'/\* output to "([^"]*)", type "([^"]*)" \*/$')
_KV = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Section:
    indent: int
    header: str                    # 'egress(dp="ls1", inport="lsp-vm1", outport="lsp-vm3")'
    kind: str                      # ingress, egress, multicast, or the action's name (icmp4)
    args: dict
    parent: "Section | None"

    def ancestor(self, kind: str):
        s = self
        while s is not None:
            if s.kind == kind:
                return s
            s = s.parent
        return None


@dataclass(frozen=True)
class Event:
    """One thing the detailed output says: a stage hit, an output, a drop."""
    kind: str                       # "stage", "output", "drop"
    section: Section
    stage: Stage | None = None
    port: str | None = None
    port_type: str | None = None
    reason: str | None = None


def parse_detailed(text: str) -> list[Event]:
    lines = text.splitlines()
    events: list[Event] = []
    stack: list[Section] = []
    current = None
    stage = None
    i = 0
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line and nxt.strip() and set(nxt.strip()) == {"-"} and not line.startswith("#"):
            while stack and stack[-1].indent >= indent:
                stack.pop()
            head = line.split("(", 1)[0]
            current = Section(indent, line, head, dict(_KV.findall(line)),
                              stack[-1] if stack else None)
            stack.append(current)
            stage = None
            i += 2
            continue
        i += 1
        if not line or line.startswith("#") or current is None:
            continue
        if m := _LFLOW.match(line):
            stage = Stage(current.header, int(m.group(1)), m.group(2), m.group(4),
                          int(m.group(5)), m.group(6))
            events.append(Event("stage", current, stage))
        elif m := _OUT_NOTE.match(line):
            events.append(Event("output", current, stage, port=m.group(1), port_type=m.group(2)))
        elif line.startswith("/* omitting output"):
            events.append(Event("drop", current, stage, reason=line[3:-3].strip()))
        elif line == "drop;":
            events.append(Event("drop", current, stage, reason="dropped by a logical flow"))
        elif stage is not None and events and events[-1].stage is stage and events[-1].kind == "stage":
            # an action line of the current lflow: keep it with the stage
            stage = Stage(stage.pipeline, stage.table, stage.name, stage.match, stage.priority,
                          stage.lflow, stage.actions + (line,))
            events[-1] = Event("stage", current, stage)
    return events


# ---- both, with the Southbound: chassis and tunnels ---------------------------------------

def _full_uuid(state, prefix):
    if state is None or prefix is None:
        return prefix
    found = [f.uuid for f in state.flows if f.uuid.startswith(prefix)]
    return found[0] if len(found) == 1 else prefix


def _where(state, ingress_chassis, section: Section):
    """The chassis that runs `section`: egress (and what follows) on the outport's chassis
    when that is a VIF bound elsewhere, everything else where the packet entered."""
    egress = section.ancestor("egress") if section.kind != "egress" else section
    if egress is None or state is None:
        return ingress_chassis
    port = state.port_named(egress.args.get("outport", ""))
    if port is not None and port.type == "" and port.chassis:
        return port.chassis
    return ingress_chassis


def _tunnel(state, ingress_chassis, section: Section):
    egress = section if section.kind == "egress" else section.ancestor("egress")
    to = _where(state, ingress_chassis, section)
    if egress is None or to == ingress_chassis or state is None:
        return None
    dps = {d.name: d for d in state.datapaths}
    dp = dps.get(egress.args.get("dp"))
    if dp is None:
        return None
    key = lambda name: next((p.tunnel_key for p in state.ports if p.logical_port == name), 0)  # noqa: E731
    out = key(egress.args.get("outport"))
    mc = section.ancestor("multicast")
    if mc is not None:
        out = next((g.tunnel_key for g in state.mcast_groups
                    if g.name == mc.args.get("mcgroup") and g.datapath == dp.uuid), out)
    return Tunnel(ingress_chassis, to, dp.tunnel_key, key(egress.args.get("inport")), out)


def oracle_result(packet: dict, minimal: str, detailed: str, state=None,
                  ingress_chassis: str | None = None) -> TraceResult:
    flow_line, copies = parse_minimal(minimal, packet)
    events = parse_detailed(detailed)
    delivered = [e for e in events if e.kind == "output" and e.port_type != "patch"]
    if len(delivered) != len(copies):
        raise OracleError(f"ovn-trace's minimal output lists {len(copies)} deliveries but its "
                          f"detailed output {len(delivered)}")
    result = TraceResult("ovn-trace", flow_line, tuple(packet.items()))
    for copy, event in zip(copies, delivered):
        if copy.port != event.port:
            raise OracleError(f"ovn-trace's outputs differ between formats: {copy.port} vs {event.port}")
        result.outputs.append(Output(copy.port, _where(state, ingress_chassis, event.section),
                                     copy.fields, None, copy.generated_by))
        tunnel = _tunnel(state, ingress_chassis, event.section)
        if tunnel and tunnel not in result.tunnels:
            result.tunnels.append(tunnel)
    for e in events:
        where = _where(state, ingress_chassis, e.section)
        if e.kind == "drop":
            lflow = e.stage.lflow if e.stage and e.reason.startswith("dropped") else None
            result.drops.append(Drop(where, e.reason, _full_uuid(state, lflow),
                                     e.stage.name if lflow else None))
        if e.kind in ("stage", "output", "drop"):
            if not result.passes or result.passes[-1].chassis != where:
                result.passes.append(Pass(where))
            p = result.passes[-1]
            if e.kind == "stage":
                p.steps.append(e.stage)
            elif e.kind == "output":
                p.steps.append(f'{e.section.header}: output to "{e.port}"'
                               + (f' (type "{e.port_type}")' if e.port_type else ""))
            else:
                p.steps.append(f"{e.section.header}: drop: {e.reason}")
    return result
