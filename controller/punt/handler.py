"""One punt event -> what the controller does about it (OVN's pinctrl, in Python).

The datapath punts with the lflow's cookie (bpf/lib/punt.h). The handler finds the lflow,
runs its actions on the packet as it was at the punt (the reference evaluator,
controller/lflow/evaluator.py, for everything but the punted action itself), builds the
generated packet (packets.py), runs the nested actions on it, and returns where it goes
back in:

    ... output; }   -> Injection(stage, RESUME_OUTPUT): the stage's output decision
    ... next; }     -> Injection(stage, RESUME_TABLE, lflow table + 1)
    R = put_dhcp_opts(...); next;  (pause and resume, dhcp.py) -> the packet turned into
                       the reply (or left as it was, R = 0), the flow's remaining actions
                       run, Injection(stage, RESUME_TABLE, lflow table + 1)
    put_arp / put_nd (copies) -> MacBinding rows for the Southbound (ovn-controller's job)

Anything it cannot do is counted under a reason (and logged once per lflow), never
silently dropped: `counters` is what `ovnbpf ctl` and the status file show.
"""
from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass

from ..lflow import actions as A
from ..lflow import ast
from ..lflow.actions.base import format_args
from ..lflow.evaluator import operand_value, read_field, run_actions
from ..lflow.lower import lower_clone
from ..lflow.parser import ParseError, parse_actions
from ..lflow.symbols import default_symtab
from . import dhcp, dhcp6, dns
from . import packets as P
from .event import (COPY, COPY_KINDS, RESUME_OUTPUT, RESUME_TABLE, STAGE_EGRESS,
                    STAGE_INGRESS, BadEvent, PuntEvent, decode_event)

__all__ = ["Injection", "MacBinding", "PuntHandler", "Result", "HANDLED"]

log = logging.getLogger("ovnbpf.punt")

# Punted actions this handler carries out: each action class says how (its `punt`,
# controller/lflow/actions/punt.py); the compiler counts their flows as compiled. A
# pausing one ("pause": put_dhcp_opts, dns_lookup, ...) is the method `_<keyword>` below.
HANDLED = frozenset(cls.keyword for cls in A.all_actions()
                    if cls.category == A.PUNT and cls.punt is not None and cls.punt.handled)
# A generated packet may punt again (an ICMP error to a neighbour nobody resolved yet makes
# an ARP request); a chain longer than this is a loop, dropped and counted (punt_loop).
MAX_DEPTH = 4


@dataclass(frozen=True)
class Injection:
    stage: int           # STAGE_INGRESS / STAGE_EGRESS
    resume: int          # RESUME_TABLE / RESUME_OUTPUT
    table: int
    meta: dict           # dp, inport, outport, flags, reg[i], hops, origin
    frame: bytes
    keyword: str         # the action that made it
    lflow: str


@dataclass(frozen=True)
class MacBinding:
    logical_port: str
    ip: str
    mac: str
    datapath: str        # Datapath_Binding uuid


@dataclass
class Result:
    injections: list
    bindings: list
    outcome: str         # counter name


def _mac_text(v: int) -> str:
    return ":".join(f"{b:02x}" for b in (v & 0xFFFFFFFFFFFF).to_bytes(6, "big"))


class PuntHandler:
    """Bound to one SB snapshot and one compile (cookies); `update()` on every change."""

    def __init__(self, state=None, cookies=None):
        self.symtab = default_symtab()
        self.counters: Counter = Counter()
        self.warned: set = set()
        self.update(state, cookies or {})

    def update(self, state, cookies: dict) -> None:
        self.state = state
        self.cookies = dict(cookies)
        if state is None:
            self.flows, self.ports, self.dp_by_key = {}, {}, {}
            return
        self.flows = {f.uuid: f for f in state.flows}
        self.dp_by_key = {d.tunnel_key: d for d in state.datapaths}
        self.ports = {}        # dp uuid -> {name: key}, {key: name}
        for p in state.ports:
            names, keys = self.ports.setdefault(p.datapath, ({}, {}))
            names[p.logical_port], keys[p.tunnel_key] = p.tunnel_key, p.logical_port
        for g in state.mcast_groups:
            names, keys = self.ports.setdefault(g.datapath, ({}, {}))
            names[g.name], keys[g.tunnel_key] = g.tunnel_key, g.name

    # ---- entry points ------------------------------------------------------------------

    def handle_bytes(self, data: bytes) -> Result:
        try:
            ev = decode_event(data)
        except BadEvent as e:
            return self._fail(e.reason, str(e))
        return self.handle(ev)

    def handle(self, ev: PuntEvent) -> Result:
        uuid = self.cookies.get(ev.cookie)
        flow = self.flows.get(uuid) if uuid else None
        if flow is None:
            return self._fail("unknown_cookie", f"cookie {ev.cookie} names no lflow of this compile")
        dp = self.dp_by_key.get(ev.flow["dp"])
        if dp is None:
            return self._fail("unknown_datapath", f"datapath key {ev.flow['dp']}")
        try:
            acts = lower_clone(parse_actions(flow.actions, flow.uuid[:8]))
        except ParseError as e:
            return self._fail("parse_error", f"lflow {flow.uuid}: {e}")
        try:
            if ev.kind == COPY:
                return self._copy(ev, flow, dp, acts)
            return self._consume(ev, flow, dp, acts)
        except P.PacketError as e:
            return self._fail(f"bad_packet_{e.reason}", f"lflow {flow.uuid}: {e}")
        except (KeyError, ValueError, NotImplementedError) as e:
            return self._fail("evaluation_failed", f"lflow {flow.uuid}: {e}")

    # ---- helpers -----------------------------------------------------------------------

    def _fail(self, reason: str, detail: str) -> Result:
        self.counters[reason] += 1
        key = (reason, detail.split(":")[0])
        if key not in self.warned:
            self.warned.add(key)
            log.warning("punt dropped (%s): %s", reason, detail)
        return Result([], [], reason)

    def _port_key(self, dp):
        names = self.ports.get(dp.uuid, ({}, {}))[0]

        def port_key(name: str) -> int:
            if name == "none" or name == "":
                return 0
            if name not in names:
                raise KeyError(f"port or group {name!r} is not in datapath {dp.name}")
            return names[name]
        return port_key

    def _port_name(self, dp, key: int) -> str | None:
        return self.ports.get(dp.uuid, ({}, {}))[1].get(key)

    def _value(self, pkt, ref, port_key) -> int:
        base, _, _ = self.symtab.resolve(ref.name)
        if base.is_string:                    # inport/outport: the whole port key
            return read_field(pkt, base)
        return operand_value(pkt, self.symtab, ref, port_key)[0]

    def _run(self, acts, pkt, port_key):
        return run_actions(acts, pkt, port_key, self.symtab)

    # ---- consuming punts: generate a packet, resume ----------------------------------------

    def _consume(self, ev, flow, dp, acts) -> Result:
        port_key = self._port_key(dp)
        pkt = dict(ev.flow)
        frame = P.apply(ev.frame, pkt)             # the packet as it is at the punt
        for i, act in enumerate(acts):
            if act.category == A.PUNT and act.pauses:
                return self._pause(ev, flow, act, acts[i + 1:], frame, pkt, port_key)
            if act.category == A.PUNT and act.consumes_packet:
                return self._generate(ev, flow, dp, act, frame, pkt, port_key)
            if act.terminal or act.category != A.COMPILED:
                break
            verdict = self._run([act, A.Next()], pkt, port_key)
            if verdict[0] != "next":
                self.counters["dropped_before_action"] += 1
                return Result([], [], "dropped_before_action")
            frame = P.apply(frame, pkt)
        return self._fail("no_consuming_action", f"lflow {flow.uuid}: {flow.actions}")

    def _generate(self, ev, flow, dp, act, frame, pkt, port_key) -> Result:
        kw = act.keyword
        if pkt.get("punt_depth", 0) >= MAX_DEPTH:
            return self._fail("punt_loop", f"lflow {flow.uuid}: {kw} on a packet generated "
                              f"{pkt['punt_depth']} times already")
        handling = act.punt
        if handling is not None and handling.kind == "ignore":
            self.counters[f"ignored_{kw}"] += 1
            if ("ignored", kw) not in self.warned:
                self.warned.add(("ignored", kw))
                log.info("%s (lflow %s): %s", kw, flow.uuid, handling.reason)
            return Result([], [], f"ignored_{kw}")
        if handling is None or handling.kind != "generate" or kw not in P.BUILDERS:
            return self._fail(f"not_implemented_{kw}", f"lflow {flow.uuid}: {kw} is not implemented "
                              "by the punt handler")
        new_frame = P.build(kw, frame, pkt)
        new = P.parse(new_frame, into=pkt)
        verdict = self._run(act.nested(), new, port_key)
        return self._resume(ev, flow, kw, verdict, P.apply(new_frame, new), new, pkt, kw)

    def _resume(self, ev, flow, kw, verdict, out, new, pkt, outcome) -> Result:
        """The injection that carries on after `kw` by the actions' verdict."""
        meta = {k: new[k] for k in new if k in ("dp", "inport", "outport", "flags", "hops", "origin")
                or k.startswith("reg[")}
        meta["punt_depth"] = pkt.get("punt_depth", 0) + 1
        stage = ev.stage
        if verdict[0] == "output":
            inj = Injection(stage, RESUME_OUTPUT, 0, meta, out, kw, flow.uuid)
        elif verdict[0] == "next":
            _, pipeline, table = verdict
            if pipeline is not None:
                stage = STAGE_INGRESS if pipeline == "ingress" else STAGE_EGRESS
            table = flow.table_id + 1 if table is None else table
            inj = Injection(stage, RESUME_TABLE, table, meta, out, kw, flow.uuid)
        else:
            self.counters[f"{kw}_dropped_by_actions"] += 1
            return Result([], [], f"{kw}_dropped_by_actions")
        self.counters[outcome] += 1
        return Result([inj], [], outcome)

    # ---- pause and resume: the packet changed in place, a result bit, the rest of the flow --

    def _pause(self, ev, flow, act, rest, frame, pkt, port_key) -> Result:
        kw = act.keyword
        if pkt.get("punt_depth", 0) >= MAX_DEPTH:
            return self._fail("punt_loop", f"lflow {flow.uuid}: {kw} on a packet generated "
                              f"{pkt['punt_depth']} times already")
        method = f"_{kw}"
        if act.punt is None or act.punt.kind != "pause" or not hasattr(self, method):
            return self._fail(f"not_implemented_{kw}", f"lflow {flow.uuid}: {kw} is not implemented "
                              "by the punt handler")
        try:
            new_frame, outcome = getattr(self, method)(act, frame, pkt)
        except dhcp.DhcpError as e:
            return self._fail(f"{kw}_{e.reason}", f"lflow {flow.uuid}: {e}")
        new = P.parse(new_frame, into=pkt) if new_frame is not None else dict(pkt)
        ev_run = [A.Assign(act.dst, ast.Const(int(new_frame is not None))), *rest]
        verdict = self._run(ev_run, new, port_key)
        out = P.apply(new_frame if new_frame is not None else frame, new)
        return self._resume(ev, flow, kw, verdict, out, new, pkt, outcome)

    def _put_dhcp_opts(self, act, frame, pkt):
        text = format_args(act.args)
        answer = dhcp.put_dhcp_opts(frame, pkt["l3_off"], pkt["l4_off"], text)
        return answer.frame, answer.outcome

    def _put_dhcpv6_opts(self, act, frame, pkt):
        answer = dhcp6.put_dhcpv6_opts(frame, pkt["l3_off"], pkt["l4_off"], format_args(act.args))
        return answer.frame, answer.outcome

    def _dns_lookup(self, act, frame, pkt):
        """From the DNS rows that serve the packet's datapath (and carry a dns_id, as
        pinctrl requires)."""
        dp = self.dp_by_key.get(pkt["dp"])
        records = [dict(r.records) for r in getattr(self.state, "dns", ())
                   if r.dns_id and dp is not None and dp.uuid in r.datapaths]
        answer = dns.dns_lookup(frame, pkt["l3_off"], pkt["l4_off"], pkt["eth_type"] == P.ETH_IP6,
                                records)
        return answer.frame, answer.outcome

    # ---- copies: learning ------------------------------------------------------------------

    def _copy(self, ev, flow, dp, acts) -> Result:
        kw = COPY_KINDS.get(ev.what)
        call = next((a for a in A.walk_actions(acts) if a.keyword == kw), None)
        if call is None:
            return self._fail("copy_without_action", f"lflow {flow.uuid}: no {kw} in {flow.actions}")
        if call.punt is None or call.punt.kind != "learn":
            return self._fail(f"not_implemented_{kw}", f"lflow {flow.uuid}: {kw} is not implemented")
        port_key = self._port_key(dp)
        if len(call.args) != 3 or not all(isinstance(a, ast.FieldRef) for a in call.args):
            return self._fail("bad_arguments", f"lflow {flow.uuid}: {call.format()}")
        port, ip, mac = (self._value(ev.flow, a, port_key) for a in call.args)
        name = self._port_name(dp, port)
        if name is None:
            return self._fail("unknown_port", f"lflow {flow.uuid}: port key {port}")
        if mac == 0 or mac >> 40 & 1:
            self.counters[f"{kw}_ignored_mac"] += 1       # zero or multicast: not learned
            return Result([], [], f"{kw}_ignored_mac")
        text = str(ipaddress.IPv4Address(ip & 0xFFFFFFFF)) if kw == "put_arp" else str(ipaddress.IPv6Address(ip))
        self.counters[kw] += 1
        return Result([], [MacBinding(name, text, _mac_text(mac), dp.uuid)], kw)
