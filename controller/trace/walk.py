"""The walk: the packet through the real compiled programs of every chassis it reaches.

For each chassis, a private ChassisDatapath (pins under /sys/fs/bpf/ovnbpf-trace-<random>/,
nothing attached) holds that chassis' view of the Southbound (the controller's own
`desired.compute` and `PipelineBuilder`), with the chassis' VIFs as veth devices in a
private namespace (BPF_PROG_TEST_RUN needs a real ingress ifindex; a veth costs nothing
and nothing is sent on it). The frame runs through the ingress chassis' VIF program;
`last_output()` says where it went: a local VIF (mapped back to its port), a Geneve copy
(run through the destination chassis' tunnel program), a multicast group, or a drop.
Everything made is removed afterwards, also on failure.

This is written against the interface documented for datapath/chassis.py; `require()`
names what has not landed yet, and the CLI reports it as not implemented (exit 2).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import uuid
from collections import deque
from dataclasses import dataclass, field

from .frame import frame_fields
from .model import Drop, Output, Pass, TraceResult, Tunnel

__all__ = ["NotLanded", "require", "walk", "MAX_COPIES"]

MAX_COPIES = 256              # a runaway (tunnel ping-pong) stops here with a drop
_NEEDED = ("prog_fd", "last_output", "install_pipeline", "set_config", "set_vifs",
           "set_lports", "set_tunnels", "set_mcast", "close")


class NotLanded(RuntimeError):
    """A piece the walk needs is not in the tree yet (the CLI exits 2 with this text)."""


def require():
    """(ChassisDatapath, desired module, PipelineBuilder), or NotLanded saying what is missing."""
    missing = []
    try:
        from datapath.chassis import ChassisDatapath
        absent = [m for m in _NEEDED if not hasattr(ChassisDatapath, m)]
        if absent:
            missing.append("datapath.chassis.ChassisDatapath." + "/".join(absent))
    except ImportError:
        ChassisDatapath = None
        missing.append("datapath.chassis.ChassisDatapath")
    try:
        from ..chassisd import desired
        from ..chassisd.pipeline import PipelineBuilder
    except ImportError:
        desired = PipelineBuilder = None
        missing.append("controller.chassisd (desired, pipeline)")
    if missing:
        raise NotLanded("running the packet through the real eBPF programs is not implemented "
                        "yet: it needs " + ", ".join(missing) + " (use --oracle for "
                        "ovn-trace's answer in ovnbpf's formats)")
    return ChassisDatapath, desired, PipelineBuilder


_CLONE_NEWNET = 0x40000000


class Sandbox:
    """A private namespace with one veth per VIF (and uplink) and a private pin root."""

    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.netns = f"obtr-{tag}"
        self.pin_root = f"/sys/fs/bpf/ovnbpf-trace-{tag}"
        self.workdir = tempfile.mkdtemp(prefix="ovnbpf-trace-")
        self.devices = 0
        subprocess.run(["ip", "netns", "add", self.netns], check=True)

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

    def run(self, prog_fd: int, frame: bytes, ifindex: int):
        """BPF_PROG_TEST_RUN inside the namespace (the ingress ifindex is resolved there)."""
        from datapath import testrun
        libc = ctypes.CDLL(None, use_errno=True)
        home = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the trace namespace")
            try:
                return testrun.run(prog_fd, frame, ingress_ifindex=ifindex)
            finally:
                if libc.setns(home, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(home)
            os.close(target)

    def close(self):
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.pin_root, ignore_errors=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class ChassisView:
    name: str
    datapath: object
    ifindex_of: dict = field(default_factory=dict)    # logical port -> ifindex
    uplink: int = 0

    def port_at(self, ifindex: int) -> str | None:
        return next((p for p, i in self.ifindex_of.items() if i == ifindex), None)


def _load_chassis(name, state, box, ids, parts) -> ChassisView:
    ChassisDatapath, desired, PipelineBuilder = parts
    devices, ifindex_of = {}, {}
    for p in state.ports:
        if p.chassis == name and p.type == "":
            devices[p.logical_port], ifindex_of[p.logical_port] = box.add_device()
    _, uplink = box.add_device()
    dp = ChassisDatapath(f"{box.pin_root}/{name}", netns=box.netns)
    view = ChassisView(name, dp, ifindex_of, uplink)
    want = desired.compute(state, name, devices, ids)
    chassis = next(c for c in state.chassis if c.name == name)
    encap = next((e.ip for e in chassis.encaps if e.type == "geneve"), "0.0.0.0")
    dp.set_config(ids.ids[name], encap)
    dp.set_tunnels(want.tunnels)
    dp.set_lports(want.lports)
    dp.set_vifs(want.vifs)
    dp.set_mcast(want.mcast)
    builder = PipelineBuilder(dp, os.path.join(box.workdir, name))
    builder.install(builder.compile(state, name, want))
    return view


def walk(state, binding, frame: bytes, packet: dict, flow_line: str) -> TraceResult:
    parts = require()
    _, desired, _ = parts
    ids = desired.ChassisIds()
    ids.assign(c.name for c in state.chassis)
    name_of = {}
    result = TraceResult("ovnbpf", flow_line, tuple(packet.items()), input_frame=frame)
    box = Sandbox()
    views: dict[str, ChassisView] = {}
    try:
        name_of = {i: n for n, i in ids.ids.items()}

        def view(name):
            if name not in views:
                views[name] = _load_chassis(name, state, box, ids, parts)
            return views[name]

        start = view(binding.chassis)
        queue = deque([(binding.chassis, "vif", frame, start.ifindex_of[binding.inport.logical_port])])
        runs = 0
        while queue:
            chassis, program, data, ifindex = queue.popleft()
            runs += 1
            if runs > MAX_COPIES:
                result.drops.append(Drop(chassis, f"trace stopped after {MAX_COPIES} copies"))
                break
            v = view(chassis)
            run = box.run(v.datapath.prog_fd(program), data, ifindex)
            out = v.datapath.last_output()
            if not result.passes or result.passes[-1].chassis != chassis:
                result.passes.append(Pass(chassis))
            note = f"{program} program: {run.verdict_name}, last_output {out}"
            result.passes[-1].steps.append(note)
            kind = out.get("type")
            if kind == "local":
                port = v.port_at(out.get("ifindex")) or f"ifindex {out.get('ifindex')}"
                result.outputs.append(Output(port, chassis, tuple(frame_fields(run.packet).items()),
                                             run.packet))
            elif kind == "remote":
                dst = name_of.get(out.get("chassis"), f"chassis id {out.get('chassis')}")
                result.tunnels.append(Tunnel(chassis, dst, out.get("vni", out.get("dp", 0)),
                                             out.get("inport", 0), out.get("outport", 0)))
                if dst in {c.name for c in state.chassis}:
                    queue.append((dst, "tunnel", run.packet, view(dst).uplink))
            elif kind == "drop":
                result.drops.append(Drop(chassis, str(out.get("reason", "drop")),
                                         out.get("lflow"), out.get("stage")))
            else:   # multicast: replication runs in TC, which a test run of XDP cannot follow
                result.drops.append(Drop(chassis, f"multicast ({out}): following the copies of "
                                         "a group is not implemented yet"))
    finally:
        for v in views.values():
            try:
                v.datapath.close(detach=False, unpin=True)
            except Exception:   # noqa: BLE001 - cleanup must go on for the others
                pass
        box.close()
    return result
