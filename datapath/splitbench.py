"""`ovnbpf bench split`: where the logical egress pipeline runs (bpf/lib/split.h), measured.

Three chassis namespaces on a bridged underlay (static forwarding entries, no flooding,
so every underlay frame reaches exactly the chassis it is addressed to), one logical
switch (datapath 1) with vm1, vm2 on hv1, vm3 on hv2, vm4 on hv3, each chassis a real
ChassisDatapath running the hand-written pipeline tests/datapath/pipelines/router_pipeline.h (its egress
stage is an ACL: drop when (dp, outport) is in its deny map). For each mode
(`egress`: OVN's split; `ingress`: the sender runs egress and marks the Geneve option)
and each traffic mix, sent live from vm1:

  unicast     vm1 -> vm3 (hv1 -> hv2)
  broadcast   vm1 -> ff:ff:ff:ff:ff:ff into the 3-chassis switch
  egress_drop vm1 -> vm3 with vm3's egress ACL denying it

it reports the underlay (packets and bytes received on the chassis' uplinks; bytes as
the kernel counts them, without the outer Ethernet header), what
arrived at the VMs, the drops, the map state of each chassis (entries per map) and the
per-packet cost of the XDP entry programs by BPF_PROG_TEST_RUN on the sender (xdp_vif,
from the VM) and on the receiver (xdp_tunnel, the Geneve frame the sender produced):
the median and 10th percentile of `--runs` single runs (repeat=1: encap and decap resize
the frame, and test-run would feed a program its own output), so each figure includes the
kernel's timer overhead; the two modes are interleaved in 20 slices; compare only within
one run. Multicast replication (TC) is not in the
per-packet figures: the broadcast rows time the XDP hand-off only. Nothing is asserted.

`SplitLab` is also the fixture of tests/datapath/test_split.py.
"""
from __future__ import annotations

import os
import secrets
import statistics
import struct
import subprocess
import time
from pathlib import Path

from . import testrun
from .chassis import ChassisDatapath, Group, Local, Remote, Tunnel, current_cpu
from .standin import standin

DP, FLOOD = 1, 32768
LO = 1
CHASSIS = (1, 2, 3)
VMS = {1: 1, 2: 1, 3: 2, 4: 3}                     # vm (= port key) -> chassis
MODES = ("egress", "ingress")
MIXES = ("unicast", "broadcast", "egress_drop")


def chassis_ip(c: int) -> str:
    return f"172.31.250.1{c}"


def uplink_mac(c: int) -> str:
    return f"02:00:ac:1f:fa:1{c}"


def vm_mac(v: int) -> str:
    return f"0a:00:00:00:01:0{v}"


def _mac_int(m: str) -> int:
    return int(m.replace(":", ""), 16)


def _sh(*args: str, ns: str | None = None) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def udp_frame(src: int, dst_mac: str, dst_ip: str, payload: bytes = b"") -> bytes:
    """Ethernet/IPv4/UDP from vm`src` (no scapy: the bench runs without it)."""
    data = payload or secrets.token_bytes(18)
    udp = struct.pack("!HHHH", 1234, 9999, 8 + len(data), 0) + data
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes([10, 0, 1, 10 + src]), bytes(int(x) for x in dst_ip.split(".")))
    s = sum(struct.unpack("!10H", ip))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    return (bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(vm_mac(src).replace(":", ""))
            + b"\x08\x00" + ip + udp)


def geneve_frame(inner: bytes, src_c: int, dst_c: int, vni: int, inport: int, outport: int,
                 egress_done: bool = False) -> bytes:
    """OVN's Geneve around `inner` (UDP checksum 0, allowed for IPv4)."""
    md = (1 << 31 if egress_done else 0) | (inport & 0x7FFF) << 16 | (outport & 0xFFFF)
    gnv = struct.pack("!BBH", 2, 0x40, 0x6558) + vni.to_bytes(3, "big") + b"\0" + \
        struct.pack("!HBBI", 0x0102, 0x80, 1, md)
    udp = struct.pack("!HHHH", 49152, 6081, 8 + len(gnv) + len(inner), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(gnv) + len(inner), 0,
                     0x4000, 64, 17, 0, bytes(int(x) for x in chassis_ip(src_c).split(".")),
                     bytes(int(x) for x in chassis_ip(dst_c).split(".")))
    s = sum(struct.unpack("!10H", ip))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    eth = bytes.fromhex((uplink_mac(dst_c) + uplink_mac(src_c)).replace(":", "")) + b"\x08\x00"
    return eth + ip + udp + gnv + inner


def option_data(frame: bytes) -> int:
    """The OVN option's data word of a Geneve frame as our encap writes it (58 B header)."""
    return struct.unpack("!I", frame[54:58])[0]


class SplitLab:
    """The three-chassis lab above; everything it creates goes in close() (use `with`).
    egress_on: "egress" | "ingress" for every chassis; marks: whether chassis advertise
    the egress-done bit to each other, as accepting and as sending it (False: behave as
    toward OVS chassis)."""

    def __init__(self, egress_on: str = "egress", marks: bool = True):
        self.tag = "osp" + secrets.token_hex(3)
        self.namespaces: list[str] = []
        self.dps: dict[int, ChassisDatapath] = {}
        self.vifs: dict[int, dict[int, tuple[int, int]]] = {}
        try:
            self._build(egress_on, marks)
        except BaseException:
            self.close()
            raise

    # -- building ---------------------------------------------------------------------

    def ns(self, role: str) -> str:
        name = f"{self.tag}-{role}"
        _sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        for k in ("all", "default"):
            _sh("sysctl", "-qw", f"net.ipv6.conf.{k}.disable_ipv6=1", ns=name)
        _sh("ip", "link", "set", "lo", "up", ns=name)
        return name

    def _build(self, egress_on: str, marks: bool) -> None:
        self.und = self.ns("und")
        self.hv = {c: self.ns(f"hv{c}") for c in CHASSIS}
        self.vm = {v: self.ns(f"vm{v}") for v in VMS}
        _sh("ip", "link", "add", "ubr", "type", "bridge", ns=self.und)
        _sh("ip", "link", "set", "ubr", "up", ns=self.und)
        for c in CHASSIS:
            _sh("ip", "link", "add", f"ub{c}", "type", "veth", "peer", "name", "uplink",
                "netns", self.hv[c], ns=self.und)
            _sh("ip", "link", "set", "uplink", "address", uplink_mac(c), ns=self.hv[c])
            _sh("ip", "link", "set", "uplink", "up", ns=self.hv[c])
            _sh("ip", "link", "set", f"ub{c}", "master", "ubr", "up", ns=self.und)
            _sh("ethtool", "-K", f"ub{c}", "gro", "on", ns=self.und)   # NAPI for XDP redirect
            _sh("bridge", "link", "set", "dev", f"ub{c}", "flood", "off", "learning", "off",
                ns=self.und)
            _sh("bridge", "fdb", "add", uplink_mac(c), "dev", f"ub{c}", "master", "static",
                ns=self.und)
        for v, c in VMS.items():
            _sh("ip", "link", "add", f"vif{v}", "type", "veth", "peer", "name", "eth0",
                "netns", self.vm[v], ns=self.hv[c])
            _sh("ip", "link", "set", "eth0", "address", vm_mac(v), ns=self.vm[v])
            for dev, ns in ((f"vif{v}", self.hv[c]), ("eth0", self.vm[v])):
                _sh("ip", "link", "set", dev, "up", ns=ns)
            _sh("ethtool", "-K", "eth0", "gro", "on", ns=self.vm[v])
        for c in CHASSIS:
            dp = self.dps[c] = ChassisDatapath(f"/sys/fs/bpf/{self.tag}-hv{c}", netns=self.hv[c])
            dp.set_config(c, chassis_ip(c))
            dp.set_egress_on(egress_on)
            dp.attach_uplink("uplink")
            dp.set_tunnels({o: Tunnel(chassis_ip(o), dmac=uplink_mac(o), egress_mark=marks,
                                      trust_egress_done=marks)
                            for o in CHASSIS if o != c})
            vifs, lports = {}, {}
            for v, vc in VMS.items():
                if vc == c:
                    ifx = dp.attach_vif(f"vif{v}")
                    vifs[ifx] = (DP, v)
                    lports[(DP, v)] = Local(ifx)
                else:
                    lports[(DP, v)] = Remote(vc)
            self.vifs[c] = vifs
            dp.set_vifs(vifs)
            dp.set_lports(lports)
            dp.set_mcast({(DP, FLOOD): Group(tuple(v for v, vc in VMS.items() if vc == c),
                                             tuple(o for o in CHASSIS if o != c))})
            dp.install_pipeline(standin("router_pipeline.h"), self.entries())

    # -- driving ----------------------------------------------------------------------

    @staticmethod
    def entries(deny: tuple[int, ...] = ()) -> dict:
        """router_pipeline.h's maps: every VM MAC -> its port; egress ACL denying `deny`."""
        return {"ovnbpf_pl_rt_l2": [(struct.pack("<IIQ", DP, 0, _mac_int(vm_mac(v))),
                                     struct.pack("<I", v)) for v in VMS],
                "ovnbpf_pl_rt_deny": [(struct.pack("<II", DP, p), struct.pack("<I", 1))
                                      for p in deny]}

    def set_egress_on(self, mode: str) -> None:
        for dp in self.dps.values():
            dp.set_egress_on(mode)

    def set_deny(self, deny: tuple[int, ...]) -> None:
        for dp in self.dps.values():
            dp.update_pipeline_entries(self.entries(deny))

    def send(self, vm: int, frame: bytes, count: int = 1) -> None:
        code = ("import socket;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);"
                f"s.bind(('eth0',0));f=bytes.fromhex({frame.hex()!r});"
                f"[s.send(f) for _ in range({count})]")
        _sh("/usr/bin/python3", "-c", code, ns=self.vm[vm])

    def _stat(self, ns: str, dev: str, what: str) -> int:
        return int(_sh("cat", f"/sys/class/net/{dev}/statistics/{what}", ns=ns))

    def snapshot(self) -> dict:
        """Counters now: underlay rx per chassis, VM rx, datapath stats and drops."""
        return {"underlay": {c: (self._stat(self.hv[c], "uplink", "rx_packets"),
                                 self._stat(self.hv[c], "uplink", "rx_bytes")) for c in CHASSIS},
                "vms": {v: self._stat(self.vm[v], "eth0", "rx_packets") for v in VMS},
                "dp": {c: dp.counters() for c, dp in self.dps.items()}}

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        drops = {}
        for c in CHASSIS:
            for k, n in b["dp"][c]["drops"].items():
                d = n - a["dp"][c]["drops"].get(k, 0)
                if d:
                    drops[f"hv{c}:{k}"] = d
        return {
            "underlay_packets": sum(b["underlay"][c][0] - a["underlay"][c][0] for c in CHASSIS),
            "underlay_bytes": sum(b["underlay"][c][1] - a["underlay"][c][1] for c in CHASSIS),
            "underlay_per_chassis": {f"hv{c}": b["underlay"][c][0] - a["underlay"][c][0]
                                     for c in CHASSIS},
            "delivered": {f"vm{v}": b["vms"][v] - a["vms"][v] for v in VMS},
            "drops": drops,
            "stats": {f"hv{c}": {k: n - a["dp"][c]["stats"][k]
                                 for k, n in b["dp"][c]["stats"].items() if n - a["dp"][c]["stats"][k]}
                      for c in CHASSIS},
        }

    def map_state(self) -> dict:
        """Entries per map of each chassis: the datapath's maps and the pipeline's."""
        out = {}
        for c, dp in self.dps.items():
            m = {n: len(h.installed) for n, h in sorted(dp.maps.items())
                 if getattr(h, "installed", None)}
            if dp.pipeline is not None:
                m.update({n: len(h.installed) for n, h in sorted(dp.pipeline.maps.items())
                          if getattr(h, "installed", None)})
            out[f"hv{c}"] = {"maps": m, "total": sum(m.values())}
        return out

    def test_run(self, c: int, which: str, frame: bytes, runs: int) -> tuple[dict, bytes]:
        """Run chassis c's entry program `which` ("vif": as from vm1, via lo; "tunnel") on
        `frame` once, then `runs` more times: -> ({"verdict", "last" (the output type),
        "times" (ns of each further run)}, the first run's output frame)."""
        dp = self.dps[c]
        if which == "vif":       # test-run needs an ingress device here: lo stands in for vif1
            dp.set_vifs({**self.vifs[c], LO: (DP, 1)})
        cpu = current_cpu()
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        try:
            fd = dp.prog_fd(which)
            first = testrun.run(fd, frame, ingress_ifindex=LO)
            last = dp.last_output(cpu)
            times = [testrun.run(fd, frame, ingress_ifindex=LO).duration_ns for _ in range(runs)]
        finally:
            os.sched_setaffinity(0, allowed)
            if which == "vif":
                dp.set_vifs(self.vifs[c])
        return {"verdict": first.verdict_name, "last": last.get("type"),
                "times": times}, first.packet

    def close(self) -> None:
        for dp in self.dps.values():
            try:
                dp.close()
            except Exception:      # keep removing the rest
                pass
        self.dps.clear()
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- the benchmark ----------------------------------------------------------------------

def _mix_frame(mix: str) -> bytes:
    if mix == "broadcast":
        return udp_frame(1, "ff:ff:ff:ff:ff:ff", "255.255.255.255", b"b" * 18)
    return udp_frame(1, vm_mac(3), "10.0.1.13", b"u" * 18)


def _setup(lab: SplitLab, mode: str, mix: str) -> None:
    lab.set_egress_on(mode)
    lab.set_deny((3,) if mix == "egress_drop" else ())


def live(lab: SplitLab, mode: str, mix: str, packets: int) -> dict:
    """Send `packets` frames from vm1 for real; what the underlay, the VMs and the
    datapaths saw."""
    _setup(lab, mode, mix)
    frame = _mix_frame(mix)
    before = lab.snapshot()
    lab.send(1, frame, count=packets)
    time.sleep(0.3)
    return {"frame_bytes": len(frame), "packets_sent": packets,
            **SplitLab.delta(before, lab.snapshot())}


def cost(lab: SplitLab, mix: str, runs: int, rounds: int = 20) -> dict:
    """Per-packet cost of sender and receiver in both modes, the modes interleaved in
    `rounds` slices so drift on a shared machine hits both alike. -> {mode: {...}}."""
    frame = _mix_frame(mix)
    out, times = {}, {m: {"sender": [], "receiver": []} for m in MODES}
    wires = {}
    for mode in MODES:                  # verdicts, and the frame each sender puts on the wire
        _setup(lab, mode, mix)
        sender, packet = lab.test_run(1, "vif", frame, 0)
        sender.pop("times")
        if mix == "broadcast":          # a copy as hv1's TC sends it (unmarked in both modes)
            wires[mode] = geneve_frame(frame, 1, 2, DP, 1, FLOOD)
        else:
            wires[mode] = packet if sender["last"] == "remote" else None
        receiver = {"verdict": None, "last": None, "egress_done_bit": None}
        if wires[mode] is not None:
            receiver, _ = lab.test_run(2, "tunnel", wires[mode], 0)
            receiver.pop("times")
            receiver["egress_done_bit"] = bool(option_data(wires[mode]) >> 31)
        out[mode] = {"sender_xdp_vif": sender, "receiver_xdp_tunnel": receiver}
    per = max(runs // rounds, 1)
    for _ in range(rounds):
        for mode in MODES:
            _setup(lab, mode, mix)
            times[mode]["sender"] += lab.test_run(1, "vif", frame, per)[0]["times"]
            if wires[mode] is not None:
                times[mode]["receiver"] += lab.test_run(2, "tunnel", wires[mode], per)[0]["times"]
    lab.set_deny(())
    for mode in MODES:
        for side, key in (("sender", "sender_xdp_vif"), ("receiver", "receiver_xdp_tunnel")):
            t = sorted(times[mode][side])
            out[mode][key]["ns"] = statistics.median(t) if t else None
            out[mode][key]["ns_p10"] = t[len(t) // 10] if t else None   # less noise-prone
    return out


def run(packets: int = 100, runs: int = 2000) -> dict:
    out: dict = {"packets": packets, "runs": runs,
                 "modes": {m: {"map_state": None} for m in MODES}}
    with SplitLab("egress") as lab:
        try:
            for mode in MODES:
                for mix in MIXES:
                    out["modes"][mode][mix] = live(lab, mode, mix, packets)
                lab.set_deny(())
                out["modes"][mode]["map_state"] = lab.map_state()
            for mix in MIXES:
                for mode, c in cost(lab, mix, runs).items():
                    out["modes"][mode][mix]["cost_ns"] = c
        finally:
            lab.set_deny(())
    out["table"] = table(out)
    return out


def table(figures: dict) -> list[str]:
    """One line per (mix, mode): the comparison the README shows."""
    rows = [f"{'mix':<12} {'mode':<8} {'underlay pkts':>13} {'bytes':>8} {'delivered':>9} "
            f"{'sender ns':>11} {'recv ns':>11} {'map entries (hv1/hv2/hv3)':>26}",
            "  (ns: median / 10th percentile of single BPF_PROG_TEST_RUN runs)"]
    for mix in MIXES:
        for mode in MODES:
            r = figures["modes"][mode][mix]
            ms = figures["modes"][mode]["map_state"]
            snd, rcv = r["cost_ns"]["sender_xdp_vif"], r["cost_ns"]["receiver_xdp_tunnel"]
            ns = lambda c: "-" if c.get("ns") is None else f"{c['ns']:.0f}/{c['ns_p10']:.0f}"  # noqa: E731
            rows.append(
                f"{mix:<12} {mode:<8} {r['underlay_packets']:>13} {r['underlay_bytes']:>8} "
                f"{sum(r['delivered'].values()):>9} {ns(snd):>11} {ns(rcv):>11} "
                f"{'/'.join(str(ms[f'hv{c}']['total']) for c in CHASSIS):>26}")
    return rows


def add_arguments(parser) -> None:
    parser.add_argument("--packets", type=int, default=100,
                        help="live packets sent per (mode, mix) (default 100)")
    parser.add_argument("--runs", type=int, default=2000,
                        help="single BPF_PROG_TEST_RUN runs per cost figure (default 2000)")


def bench(args) -> dict:
    """`ovnbpf bench split`: both modes, every mix, in one run."""
    figures = run(packets=getattr(args, "packets", 100) or 100,
                  runs=getattr(args, "runs", 2000) or 2000)
    return figures
