"""The walk: the packet through the real compiled programs of every chassis it reaches.

For each chassis, a private ChassisDatapath (pins under /sys/fs/bpf/ovnbpf-trace-<random>/)
holds that chassis' view of the Southbound (the controller's own `desired.compute` and
`PipelineBuilder`), with the chassis' VIFs and uplink as veth devices in a private
namespace (BPF_PROG_TEST_RUN needs a real ingress ifindex, the datapath wants an uplink
for its outer header; only that namespace's devices get programs, no real one). The frame runs through the ingress chassis' VIF program;
`last_output()` says where it went: a local VIF (mapped back to its port), a Geneve copy
(run through the destination chassis' tunnel program), a multicast group, or a drop.
Everything made is removed afterwards, also on failure.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import select
import socket
import time
import shutil
import subprocess
import tempfile
import uuid
from collections import deque
from dataclasses import dataclass, field

from ..ctl import drops_flow
from .frame import frame_fields
from .model import Delivered, Dropped, Pass, Stage, TraceResult, Tunnelled

__all__ = ["Walker", "walk", "geneve_fields", "MAX_COPIES"]

MAX_COPIES = 256              # a runaway (tunnel ping-pong) stops here with a drop


def _parts():
    """(ChassisDatapath, desired module, PipelineBuilder), imported when a walk starts:
    the oracle-only paths of `ovnbpf trace` never load bcc."""
    from datapath.chassis import ChassisDatapath
    from ..chassisd import desired
    from ..chassisd.pipeline import PipelineBuilder
    return ChassisDatapath, desired, PipelineBuilder


_CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
QUIET_S, LIVE_LIMIT_S = 0.15, 2.0   # the live path waits for copies this long


class Sandbox:
    """A private namespace with one veth per VIF (and uplink) and a private pin root."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.netns = f"obtr-{tag}"
        self.pin_root = f"/sys/fs/bpf/ovnbpf-trace-{tag}"
        self.workdir = tempfile.mkdtemp(prefix="ovnbpf-trace-")
        self.devices = 0
        self.sockets: list[socket.socket] = []
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        # no IPv6 autoconfiguration: the live path listens on these devices
        for key in ("all", "default"):
            subprocess.run(["ip", "netns", "exec", self.netns, "sysctl", "-qw",
                            f"net.ipv6.conf.{key}.disable_ipv6=1"], capture_output=True)

    def _ip(self, *args):
        subprocess.run(["ip", "-n", self.netns, *args], check=True, capture_output=True)

    def add_device(self) -> tuple[str, int]:
        self.devices += 1
        name = f"t{self.devices}"
        self._ip("link", "add", name, "type", "veth", "peer", "name", f"{name}p")
        self._ip("link", "set", name, "up")
        self._ip("link", "set", f"{name}p", "up")
        out = subprocess.run(["ip", "-n", self.netns, "-o", "link", "show", name],
                             capture_output=True, text=True, check=True).stdout
        return name, int(out.split(":", 1)[0])

    @contextlib.contextmanager
    def inside(self):
        """This thread in the sandbox namespace (ifindexes, sockets), then back."""
        libc = ctypes.CDLL(None, use_errno=True)
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the trace namespace")
            try:
                yield
            finally:
                if libc.setns(home, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(home)
            os.close(target)

    def run(self, prog_fd: int, frame: bytes, ifindex: int):
        """BPF_PROG_TEST_RUN inside the namespace (the ingress ifindex is resolved there)."""
        from datapath import testrun
        with self.inside():
            return testrun.run(prog_fd, frame, ingress_ifindex=ifindex)

    def listen(self, ifname: str) -> socket.socket:
        """A raw socket on a device of the sandbox (the VM side of a VIF, or the wire)."""
        self._ip("link", "set", ifname, "promisc", "on")
        subprocess.run(["ip", "netns", "exec", self.netns, "ethtool", "-K", ifname, "gro", "on"],
                       capture_output=True)   # NAPI, so XDP-redirected frames arrive
        with self.inside():
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind((ifname, 0))
        sock.setblocking(False)
        self.sockets.append(sock)
        return sock

    def close(self):
        for sock in self.sockets:
            sock.close()
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.pin_root, ignore_errors=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class ChassisView:
    name: str
    datapath: object
    ifindex_of: dict = field(default_factory=dict)    # logical port -> chassis-side ifindex
    device_of: dict = field(default_factory=dict)     # logical port -> chassis-side device
    uplink: int = 0
    uplink_device: str = ""
    listening: dict = field(default_factory=dict)     # port (or "uplink") -> socket on its peer
    cookies: dict = field(default_factory=dict)       # lflow cookie -> lflow uuid
    handler: object = None                            # the controller's punt handler
    punts: list = field(default_factory=list)         # punt events not handled yet

    def port_at(self, ifindex: int) -> str | None:
        return next((p for p, i in self.ifindex_of.items() if i == ifindex), None)


def geneve_fields(outer: bytes) -> tuple[int, int, int, bytes]:
    """(vni, ingress port, egress port, inner frame) of an IPv4 Geneve frame with OVN's
    option (ARCHITECTURE.md: class 0x0102 type 0x80, 15-bit ingress | 16-bit egress)."""
    ihl = (outer[14] & 0x0F) * 4
    g = 14 + ihl + 8
    opt_len = (outer[g] & 0x3F) * 4
    vni = int.from_bytes(outer[g + 4:g + 7], "big")
    inport = outport = 0
    o = g + 8
    while o < g + 8 + opt_len:
        cls, kind, length = int.from_bytes(outer[o:o + 2], "big"), outer[o + 2], (outer[o + 3] & 0x1F) * 4
        if cls == 0x0102 and kind & 0x7F == 0 and length == 4:
            data = int.from_bytes(outer[o + 4:o + 8], "big")
            inport, outport = data >> 16 & 0x7FFF, data & 0xFFFF
        o += 4 + length
    return vni, inport, outport, outer[g + 8 + opt_len:]


def _fake_mac(chassis_id: int) -> str:
    return f"02:0b:00:00:{chassis_id >> 8 & 0xFF:02x}:{chassis_id & 0xFF:02x}"


class Walker:
    """Loads each chassis once (a pipeline build takes seconds) and traces any number of
    packets of one Southbound snapshot. Use as a context manager: close() removes all."""

    def __init__(self, state, stages: bool = True, hosts: dict | None = None):
        self.stages = stages     # read the lflow hit counters around each run (~0.2 s a read)
        # extra VIFs a chassis hosts in this trace ({chassis: {port}}, from --chassis):
        # the chassis then claims the port, as it would if the VM lived there
        self.hosts = hosts or {}
        self.parts = _parts()
        self.desired = self.parts[1]
        self.state = state
        self.ids = self.desired.ChassisIds()
        self.ids.assign(c.name for c in state.chassis)
        self.name_of = {i: n for n, i in self.ids.ids.items()}
        self.box = Sandbox()
        self.views: dict[str, ChassisView] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for v in self.views.values():
            try:
                v.datapath.close(detach=True, unpin=True)
            except Exception:   # noqa: BLE001 - cleanup must go on for the others
                pass
        self.views.clear()
        self.box.close()

    # -- one chassis ---------------------------------------------------------------------

    def view(self, name: str) -> ChassisView:
        if name not in self.views:
            self.views[name] = self._load(name)
        return self.views[name]

    def _load(self, name: str) -> ChassisView:
        ChassisDatapath, desired, PipelineBuilder = self.parts
        from datapath import chassis as dpc
        state, box = self.state, self.box
        view = ChassisView(name, None)
        for p in state.ports:
            if p.type == "" and (p.chassis == name or p.logical_port in self.hosts.get(name, ())):
                view.device_of[p.logical_port], view.ifindex_of[p.logical_port] = box.add_device()
        ifindex_by_device = {view.device_of[p]: i for p, i in view.ifindex_of.items()}
        view.uplink_device, view.uplink = box.add_device()
        dp = view.datapath = ChassisDatapath(f"{box.pin_root}/{name}", netns=box.netns)
        self.views[name] = view          # closed by close() even if the rest fails
        # every packet through the pipeline programs, so every lflow it meets is counted
        # (a flow cache hit would skip them: bpf/lib/fcache.h)
        if getattr(dp, "fcache", None) is not None:
            dp.fcache.bypass = True
        want = desired.compute(state, name, dict(view.device_of), self.ids)
        chassis = next(c for c in state.chassis if c.name == name)
        encap = next((e.ip for e in chassis.encaps if e.type == "geneve"), "0.0.0.0")
        dp.set_config(self.ids.ids[name], encap)
        # the uplink is a veth of the sandbox; the datapath takes the outer source MAC from it
        dp.attach_uplink(view.uplink_device)
        dp.set_tunnels({cid: dpc.Tunnel(ip, dmac=_fake_mac(cid)) for cid, ip in want.tunnels.items()})
        lports = {}
        for key, where in want.lports.items():
            if isinstance(where, desired.LocalVif):      # by device: the datapath takes ifindex
                lports[key] = dpc.Local(ifindex_by_device[where.device])
            else:                                   # Remote, Patch: the datapath's own
                lports[key] = where
        dp.set_lports(lports)
        dp.set_vifs({ifindex_by_device[dev]: key for dev, key in want.vifs.items()})
        dp.open_punts(view.punts.append)        # the build installed below gets a reader
        builder = PipelineBuilder(dp, os.path.join(box.workdir, name))
        compiled = builder.compile(state, name, want)     # adds its synthetic groups to want
        dp.set_mcast(want.mcast)
        builder.install(compiled)
        view.cookies = dict(getattr(compiled, "cookies", {}) or {})
        from ..punt.handler import PuntHandler
        view.handler = PuntHandler(state, view.cookies)
        return view

    def _run(self, view, program, data, ifindex):
        """Test-run on one CPU and read that CPU's last_output (a per-CPU record)."""
        before = os.sched_getaffinity(0)
        cpu = min(before)
        os.sched_setaffinity(0, {cpu})
        try:
            run = self.box.run(view.datapath.prog_fd(program), data, ifindex)
            return run, view.datapath.last_output(cpu)
        finally:
            os.sched_setaffinity(0, before)

    def _arm(self, view):
        """For the live path: programs on the VIFs (as the controller attaches them) and a
        socket on the far side of every VIF and of the uplink."""
        if view.listening:
            return
        for port, dev in view.device_of.items():
            view.datapath.attach_vif(dev)
            view.listening[port] = self.box.listen(dev + "p")
        view.listening["uplink"] = self.box.listen(view.uplink_device + "p")

    def _live(self, view, port: str, frame: bytes) -> list[tuple[str, bytes]]:
        """Send `frame` for real into the chassis from `port` (a VIF, "uplink" for a
        Geneve frame, or "uplink:<action>" for a packet the controller injects, which
        runs xdp_inject.c with live frames) and collect what comes out of its VIFs and
        uplink. Multicast needs this: replication clones copies in TC, which a test run
        of XDP does not reach."""
        self._arm(view)
        socks = {s: name for name, s in view.listening.items()}
        for s in socks:                                    # stale frames of an earlier run
            while select.select([s], [], [], 0)[0]:
                s.recv(65535)
        if port.startswith("uplink:"):
            from datapath import testrun
            with self.box.inside():
                testrun.run_live(view.datapath.prog_fd("inject"), frame, ingress_ifindex=view.uplink)
        else:
            view.listening[port].send(frame)
        got, start, last = [], time.monotonic(), time.monotonic()
        while time.monotonic() - last < QUIET_S and time.monotonic() - start < LIVE_LIMIT_S:
            ready, _, _ = select.select(list(socks), [], [], QUIET_S / 3)
            for s in ready:
                data, addr = s.recvfrom(65535)
                if addr[2] != PACKET_OUTGOING:
                    got.append((socks[s], data))
                    last = time.monotonic()
        return got

    # -- one packet ----------------------------------------------------------------------

    def trace(self, binding, frame: bytes, packet: dict, flow_line: str) -> TraceResult:
        state = self.state
        result = TraceResult("ovnbpf", flow_line, tuple(packet.items()), input_frame=frame)
        # every trace starts from empty conntrack tables: a new connection, as the oracle
        # asks ovn-trace for (--ct=new); an earlier case must not make this one established
        for v in self.views.values():
            v.datapath.flush_conntrack()
        start = self.view(binding.chassis)
        queue = deque([(binding.chassis, "vif", frame, binding.inport.logical_port)])
        runs = 0
        while queue:
            chassis, program, data, port = queue.popleft()
            runs += 1
            if runs > MAX_COPIES:
                result.drops.append(Dropped(chassis, f"trace stopped after {MAX_COPIES} copies"))
                break
            v = self.view(chassis)
            generated = port.split(":", 1)[1] if program == "inject" else None
            ifindex = v.ifindex_of[port] if program == "vif" else v.uplink
            before = self._hits(v)
            run, out = self._run(v, program, data, ifindex)
            if not result.passes or result.passes[-1].chassis != chassis:
                result.passes.append(Pass(chassis))
            hits = self._hits(v)
            first_step = len(result.passes[-1].steps)
            if out.get("type") != "mcast":     # the live path below counts its own
                self._stages(result.passes[-1], v, before, hits)
            result.passes[-1].steps.append(f"{program} program: {run.verdict_name}, "
                                           + self._out_text(v, out))
            kind = out.get("type")
            if kind == "local":
                where = v.port_at(out.get("ifindex")) or f"ifindex {out.get('ifindex')}"
                result.outputs.append(Delivered(where, chassis, tuple(frame_fields(run.packet).items()),
                                             run.packet, generated_by=generated))
            elif kind == "remote":
                self._tunnelled(result, chassis, run.packet, queue)
            elif kind == "drop":
                # a POLICY drop names the `drop;` lflow of this run (the last one hit, in
                # pipeline order), as ovnbpf ctl counts it
                droppers = [s for s in result.passes[-1].steps[first_step:]
                            if isinstance(s, Stage) and s.actions and drops_flow(s.actions[0])]
                lflow = droppers[-1] if droppers and out.get("reason") == "POLICY" else None
                result.drops.append(Dropped(chassis, str(out.get("reason", "drop")),
                                         lflow.lflow if lflow else None,
                                         lflow.name if lflow else None))
            elif kind == "punt":
                self._punted(result, v, chassis, queue)
            elif kind == "mcast":
                copies = self._live(v, port if program in ("vif", "inject") else "uplink", data)
                self._stages(result.passes[-1], v, before, self._hits(v))
                result.passes[-1].steps.append(f"multicast, sent live: {len(copies)} copies came out")
                for where, copy in copies:
                    if where == "uplink":
                        self._tunnelled(result, chassis, copy, queue, live=True)
                    else:
                        result.outputs.append(Delivered(where, chassis, tuple(frame_fields(copy).items()),
                                                     copy, generated_by=generated))
                if not copies:
                    result.drops.append(Dropped(chassis, "multicast: no copy came out"))
            else:
                result.drops.append(Dropped(chassis, f"program ended with {run.verdict_name}, "
                                         f"last output: {self._out_text(v, out)}"))
        return result

    def _out_text(self, view, out: dict) -> str:
        """The datapath's last-output record in OVN's words: ports and chassis by name
        (never the raw record)."""
        kind = out.get("type", "none")
        where = f"datapath {out.get('dp')}, inport {out.get('inport')}, outport {out.get('outport')}"
        if kind == "local":
            port = view.port_at(out.get("ifindex")) or f"ifindex {out.get('ifindex')}"
            return f"to local port {port} ({where})"
        if kind == "remote":
            return (f"to chassis {self.name_of.get(out.get('chassis'), out.get('chassis'))} "
                    f"through the tunnel ({where})")
        if kind == "drop":
            return f"dropped: {out.get('reason', '?')} ({where})"
        if kind == "punt":
            return f"to the controller (lflow cookie {out.get('cookie')}, {where})"
        return f"{kind} ({where})"

    def _punted(self, result, view, chassis, queue) -> None:
        """The program handed the packet to the controller: run the controller's own punt
        handler on the event, here, and go on with what it injects (xdp_inject.c)."""
        from ..punt.event import inject_header
        view.datapath.poll_punts()
        events, view.punts[:] = list(view.punts), []
        injected, outcomes = 0, []
        for data in events:
            r = view.handler.handle_bytes(data)
            outcomes.append(r.outcome)
            result.passes[-1].steps.append(f"controller: punt -> {r.outcome}"
                                           + (f", {len(r.injections)} packet(s) injected"
                                              if r.injections else ""))
            for inj in r.injections:
                injected += 1
                queue.append((chassis, "inject",
                              inject_header(inj.stage, inj.resume, inj.table, inj.meta) + inj.frame,
                              "uplink:" + inj.keyword))
        if not injected:
            result.drops.append(Dropped(chassis, "punted to the controller: "
                                     + (", ".join(outcomes) or "no event came up")))

    def _hits(self, view) -> dict:
        if not self.stages:
            return {}
        try:
            return view.datapath.counters().get("lflow_hits", {})
        except Exception:   # noqa: BLE001 - stages are a help, never a reason to fail
            return {}

    def _stages(self, p: Pass, view, before: dict, after: dict) -> None:
        """The lflows whose hit counters (bumped by the generated code) moved during this run."""
        flows = {f.uuid: f for f in self.state.flows}
        dp_names = {d.uuid: d.name for d in self.state.datapaths}
        hit = []
        for cookie, n in after.items():
            if n > before.get(cookie, 0) and (f := flows.get(view.cookies.get(cookie))):
                if f.match.strip() == "1" and f.actions.strip() == "next;":
                    continue     # as ovn-trace: `1` -> `next;` flows only clutter the output
                dps = ",".join(sorted(dp_names.get(d, d) for d in f.datapaths))
                # counters say which lflows ran, not in which order: pipeline, datapath, table
                hit.append(((f.pipeline != "ingress", dps, f.table_id),
                            Stage(f'{f.pipeline}(dp="{dps}")', f.table_id, f.stage, f.match,
                                  f.priority, f.uuid, (f.actions,))))
        p.steps.extend(stage for _, stage in sorted(hit, key=lambda h: h[0]))

    def _tunnelled(self, result, chassis, outer, queue, live=False):
        vni, inport, outport, _ = geneve_fields(outer)
        dst_ip = ".".join(str(b) for b in outer[30:34])
        dst = next((c.name for c in self.state.chassis
                    if any(e.ip == dst_ip for e in c.encaps)), None)
        result.tunnels.append(Tunnelled(chassis, dst or dst_ip, vni, inport, outport))
        if dst is None:
            result.drops.append(Dropped(chassis, f"Geneve copy to {dst_ip}: no chassis has that encap IP"))
        else:
            queue.append((dst, "tunnel", outer, "uplink"))


def walk(state, binding, frame: bytes, packet: dict, flow_line: str) -> TraceResult:
    """One packet, one snapshot (loads what it needs, removes it all afterwards)."""
    hosts = {} if binding.chassis == binding.inport.chassis else {
        binding.chassis: {binding.inport.logical_port}}
    with Walker(state, hosts=hosts) as walker:
        return walker.trace(binding, frame, packet, flow_line)
