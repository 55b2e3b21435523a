"""`ovnbpf bench lab`: VM -> VM data-plane figures, side by side in one lab run.

One mixed lab (hv1, hv2 ovnbpf; hv3, hv4 ovs; one logical switch) plus a plain-kernel pair:

  ovnbpf_local  vm1 -> vm2   both on hv1 (ovnbpf)
  ovnbpf_cross  vm1 -> vm3   hv1 -> hv2, Geneve over the underlay
  ovs_local     vm4 -> vm5   both on hv3 (ovs-vswitchd userspace datapath + ovn-controller)
  ovs_cross     vm4 -> vm6   hv3 -> hv4
  kernel_cross  k1 -> k2     two namespaces joined by a Linux bridge in a third namespace
                             (nf_call_iptables/ip6tables/arptables off on that bridge)

pps: 64-byte UDP frames. The sender is an XDP program run by BPF_PROG_TEST_RUN with live
frames inside the sending VM (topologies/bench/xdpgen.py), redirecting each frame out of
the VM's eth0 (~4 Mpps from an idle core; `generator_pps` says what it reached in this run,
always several times what any path here forwards). The receiver is
an XDP program on the receiving VM's eth0 that counts the benchmark's frames and drops
them: the VM never builds an skb, so the figure is the forwarder's, not the VM's stack's.
`pps` = frames counted at the receiver / the sender's run time; `sent_pps` = frames the
sender offered. The redirect needs NAPI on the sender's peer: every VIF's chassis end (an
ovnbpf VIF in skb mode has generic XDP, which gives none; an ovs VIF; the kernel pair's
bridge port) gets GRO switched on for the pps measurement only (an OVS netdev port cannot
send GRO-merged TCP on).
Every measurement runs `--rounds` times, interleaved; the figures are the medians.
tcp_gbps: iperf3, one stream, the VMs' own stacks at the kernel's default offloads (tx
checksum, TSO/GSO on; the kernel itself turns GSO off on a veth whose peer has a native
XDP program, i.e. on every ovs VIF here (the lab's checksum filler) and on ovnbpf VIFs
with `--vif-xdp native`: those guests send MTU-sized segments, while the kernel pair and
ovnbpf guests keep GSO only with VIFs in skb mode, `vif_xdp: skb`), MTU 1442 (underlay 1500 - 58, as the lab sets every VM).
`tcp_cpu_s_per_gbit`: the whole machine's busy CPU time (/proc/stat, both CPUs, every
process and softirq: sender, forwarders, receiver) during the iperf3 run per gigabit
delivered; the machine is shared, so `load` records the load average around the run.
tcp6_gbps: the same over IPv6 (the lab is dual stack: fd00:0:0:1::/64 beside
10.0.1.0/24; the kernel pair gets fd00:0:0:9::1 and ::2).

The lab's underlay is a Linux bridge in the root namespace. ovnbpf_cross is measured twice:
through that bridge (`pps_bridge_underlay`) and with an XDP fast path on the root-side
ends of the ovnbpf chassis' uplinks that redirects frames for a known uplink MAC straight
to the other uplink (`pps`, the figure a switched underlay gives; the ovs chassis' traffic
keeps using the bridge, which forwards several times faster than their datapath).

Diagnostics beside the figures: `generator_pps` (the sender alone over one veth into the
counter: its ceiling here), `frames` (counts, and the share of a CPU the sender got: with
XDP end to end the whole path runs in the sender's softirqs, so a low share means the
machine is busy), `ovnbpf_pipeline_ns` (BPF_PROG_TEST_RUN of hv1's attached xdp_vif on the
vm1 -> vm2 frame: the generated pipeline's cost per packet), `cpu_us_per_packet` (CPU
time per delivered frame, which does not depend on how much of a busy machine a path got:
for ovnbpf and the kernel pair the sender process's CPU time, generator included, since
their forwarding runs inline in its softirqs; for ovs the CPU time of the ovs-vswitchd
processes only, leaving out the kernel's skb work that feeds their AF_PACKET sockets in the
sender's softirqs: in OVS's favour) and `ratio_cpu_cost_cross_ovs_vs_ovnbpf`, and
`fcache` (each ovnbpf chassis' flow cache hits/misses/fills over the whole run, from its
pinned counters: hv2's hits are the Geneve packets whose egress run it replayed).

Noisy machine: compare figures only within one run.
"""
import contextlib
import ipaddress
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from topologies.lab.cli import ERRORS  # noqa: F401  reported as "error: message"
from datapath.libbpf import obj_get
from datapath.maps import percpu_u64_all
from topologies.lab import netns
from topologies.lab.chassis import ping, uplink_mac
from topologies.lab.lab import Lab
from topologies.lab.netns import run
from topologies.lab.proc import stop_pids, wait_for

HELP = "pps and TCP throughput, ovnbpf vs ovs vs kernel"   # `ovnbpf bench lab` (entry point ovnbpf.benches)

from datapath.bpfsrc import bpf_dir

BPF_SOURCE = bpf_dir() / "bench" / "lab_traffic.c"
UDP_PORT = 9            # obl_count counts (and drops) UDP to this port only
FRAME_LEN = 64
IPERF_PORT = 5201

PATHS = {               # figure -> (sender, receiver), in the order measured
    "ovnbpf_cross": ("vm1", "vm3"),
    "ovs_cross": ("vm4", "vm6"),
    "ovnbpf_local": ("vm1", "vm2"),
    "ovs_local": ("vm4", "vm5"),
    "kernel_cross": ("k1", "k2"),
}


def topology_doc():
    vms = {}
    for i, hv in enumerate(("hv1", "hv1", "hv2", "hv3", "hv3", "hv4"), start=1):
        vms[f"vm{i}"] = {"chassis": hv, "switch": "ls1", "mac": f"0a:00:00:00:01:{i:02x}",
                         "ip": f"10.0.1.{10 + i}", "ip6": f"fd00:0:0:1::{10 + i}", "key": i}
    return {"name": "benchlab", "sb_cluster": 1, "underlay": {"kind": "bridge"},
            "chassis": {"hv1": {"kind": "ovnbpf"}, "hv2": {"kind": "ovnbpf"},
                        "hv3": {"kind": "ovs"}, "hv4": {"kind": "ovs"}},
            "switches": {"ls1": {"subnet": "10.0.1.0/24", "subnet6": "fd00:0:0:1::/64", "key": 1}},
            "vms": vms}


def add_arguments(p):
    p.add_argument("--seconds", type=float, default=2.0,
                   help="length of each measurement (default 2)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds of every measurement; figures are medians "
                        "(default 3)")
    p.add_argument("--lab", "--name", dest="name", default="blab", help="lab name (default blab)")


# ---- frames ------------------------------------------------------------------------------

def _csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src_mac, dst_mac, src_ip, dst_ip):
    """A 64-byte Ethernet frame (no FCS): IPv4/UDP to UDP_PORT, UDP checksum 0."""
    payload = bytes(FRAME_LEN - 14 - 20 - 8)
    udp = struct.pack("!HHHH", 40000, UDP_PORT, 8 + len(payload), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(payload), 0, 0x4000, 64,
                     17, 0, ipaddress.IPv4Address(src_ip).packed,
                     ipaddress.IPv4Address(dst_ip).packed)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", "")) \
        + b"\x08\x00"
    frame = eth + ip + udp + payload
    assert len(frame) == FRAME_LEN
    return frame


# ---- the plain-kernel pair ---------------------------------------------------------------

class Endpoint:
    def __init__(self, netns, mac, ip, ip6=None):
        self.netns, self.mac, self.ip, self.ip6 = netns, mac, ip, ip6

    def v6(self):
        """The same endpoint addressed by its IPv6 address (tcp_gbps reads .ip)."""
        return Endpoint(self.netns, self.mac, self.ip6)


def add_kernel_ip6(ends):
    """IPv6 on the kernel pair (tcp6_gbps): fd00:0:0:9::N, no DAD."""
    for i, (end, _, _) in enumerate(ends.values(), start=1):
        end.ip6 = f"fd00:0:0:9::{i}"
        run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
             "net.ipv6.conf.eth0.disable_ipv6=0"], netns=end.netns)
        run(["ip", "-6", "addr", "add", f"{end.ip6}/64", "dev", "eth0", "nodad"], netns=end.netns)


def make_kernel_pair(lab):
    """k1 and k2: two namespaces on a Linux bridge in a third, br_netfilter calls off.
    Recorded in the lab's state before creation, so lab down removes them."""
    run = netns.run
    state = lab.state()
    ns = {k: f"{lab.name}-{k}" for k in ("k1", "k2", "kbr")}
    for name in ns.values():
        state.record("netns", name)
        netns.netns_add(name, guest=name != ns["kbr"])
    run(["ip", "link", "add", "br0", "type", "bridge", "nf_call_iptables", "0",
         "nf_call_ip6tables", "0", "nf_call_arptables", "0"], netns=ns["kbr"])
    run(["ip", "link", "set", "br0", "up"], netns=ns["kbr"])
    ends = {}
    for i, k in enumerate(("k1", "k2"), start=1):
        mac, ip = f"0a:00:00:00:09:{i:02x}", f"10.9.0.{i}"
        port = f"{k}-p"
        netns.veth_pair(port, "eth0", netns=ns["kbr"], peer_netns=ns[k])
        run(["ip", "link", "set", port, "master", "br0", "up"], netns=ns["kbr"])
        run(["ip", "link", "set", "eth0", "address", mac, "mtu", "1442", "up"], netns=ns[k])
        run(["ip", "addr", "add", f"{ip}/24", "dev", "eth0"], netns=ns[k])
        # as the lab does for VMs: the kernel's offloads, GRO on the VM's end
        run(["ethtool", "-K", "eth0", "gro", "on"], netns=ns[k])
        ends[k] = (Endpoint(ns[k], mac, ip), ns["kbr"], port)
    return ends


def make_wire_pair(lab):
    """g1 <-> g2: one veth pair, nothing between. The sender's ceiling (it outruns the
    paths measured only if this is well above them)."""
    state = lab.state()
    ns = {k: f"{lab.name}-{k}" for k in ("g1", "g2")}
    for name in ns.values():
        state.record("netns", name)
        netns.netns_add(name)
    netns.veth_pair("eth0", "eth0", netns=ns["g1"], peer_netns=ns["g2"])
    ends = {}
    for i, k in enumerate(("g1", "g2"), start=1):
        mac, ip = f"0a:00:00:00:0a:{i:02x}", f"10.10.0.{i}"
        netns.run(["ip", "link", "set", "eth0", "address", mac, "up"], netns=ns[k])
        ends[k] = Endpoint(ns[k], mac, ip)
    return ends


# ---- the measurements --------------------------------------------------------------------

def ifindex(dev, ns=None):
    if ns is None:
        return socket.if_nametoindex(dev)
    return int(run(["ip", "-o", "link", "show", "dev", dev], netns=ns).split(":", 1)[0])


class Traffic:
    """The three programs of bpf/bench/lab_traffic.c, loaded once; everything it attaches
    is detached by close() (and goes with the namespaces anyway)."""

    def __init__(self):
        from bcc import BPF   # lazy: bcc is heavy, and only the XDP sender needs it here
        from datapath.loader import Attachments   # (loads bcc too)
        self.bpf = BPF(src_file=str(BPF_SOURCE))
        self.fds = {fn: self.bpf.load_func(fn, BPF.XDP).fd
                    for fn in ("obl_gen", "obl_count", "obl_fwd")}
        self.attached = Attachments()

    def close(self):
        try:
            self.attached.detach_all()
        finally:
            self.bpf.cleanup()

    def received(self):
        return sum(self.bpf["obl_rx"][0])     # per-CPU values

    def fast_underlay(self, links):
        """links: {uplink MAC: root-side device}; attach obl_fwd to each device."""
        table = self.bpf["obl_fwd_macs"]
        for mac, dev in links.items():
            idx = ifindex(dev)
            table[table.Key(int(mac.replace(":", ""), 16))] = table.Leaf(idx)
            self.attached.xdp(idx, self.fds["obl_fwd"])

    def slow_underlay(self, links):
        for dev in links.values():
            self.attached.detach(ifindex(dev))

    def pps(self, src, dst, seconds, rate=0, forwarders=()):
        """Run the sender in src's namespace for `seconds` (at `rate` frames/s, or as fast
        as it can); count at dst. `forwarders`: pids whose CPU time to report meanwhile."""
        tmpl = self.bpf["obl_tmpl"]
        leaf = tmpl.Leaf()
        frame = udp_frame(src.mac, dst.mac, src.ip, dst.ip)
        for i, b in enumerate(frame):
            leaf.b[i] = b
        tmpl[tmpl.Key(0)] = leaf
        out = self.bpf["obl_out"]
        out[out.Key(0)] = out.Leaf(ifindex("eth0", src.netns))
        rx_idx = ifindex("eth0", dst.netns)
        self.attached.xdp(rx_idx, self.fds["obl_count"], netns=dst.netns)
        try:
            before = self.received()
            cpu_before = _cpu_seconds(forwarders)
            fd = self.fds["obl_gen"]
            argv = ["ip", "netns", "exec", src.netns, sys.executable, "-m",
                    "topologies.bench.xdpgen", "--prog-fd", str(fd), "--seconds", str(seconds),
                    "--rate", str(rate)]
            proc = subprocess.Popen(argv, pass_fds=(fd,), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                out_text, err = proc.communicate(timeout=seconds + 30)
            finally:
                if proc.poll() is None:     # only on a timeout or an interrupt
                    proc.kill()
                    proc.wait()
            if proc.returncode != 0:
                raise RuntimeError(f"sender in {src.netns} failed: {err.strip()[-400:]}")
            result = json.loads(out_text)
            time.sleep(0.05)                 # frames still in rings
            got = self.received() - before
            forwarder_cpu = _cpu_seconds(forwarders) - cpu_before
        finally:
            self.attached.detach(rx_idx, netns=dst.netns)
        secs = result["seconds"]
        return {"sent_pps": round(result["sent"] / secs), "pps": round(got / secs),
                "sent": result["sent"], "received": got,
                "sender_cpu": round(result["cpu_seconds"] / secs, 2),
                "sender_cpu_s": result["cpu_seconds"], "forwarder_cpu_s": forwarder_cpu}


def _cpu_seconds(pids):
    """utime + stime of processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])     # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def _listening(ns, port):
    return f":{port} " in run(["ss", "-ltnH"], netns=ns)


def _busy_cpu_seconds():
    """Busy CPU time of the whole machine so far (every CPU, softirqs included)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")   # minus idle, iowait


def tcp_gbps(src, dst, seconds, cpu=None):
    """iperf3, one TCP stream src -> dst for `seconds` (whole seconds, at least 1). `cpu`, a
    list, gets the machine's busy CPU seconds per gigabit delivered."""
    t = max(1, round(seconds))
    server = subprocess.Popen(["ip", "netns", "exec", dst.netns, "iperf3", "-s", "-1",
                               "-p", str(IPERF_PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(dst.netns, IPERF_PORT), timeout=10,
                 what=f"iperf3 to listen in {dst.netns}")
        busy0 = _busy_cpu_seconds()
        proc = subprocess.run(["ip", "netns", "exec", src.netns, "iperf3", "-c", dst.ip,
                               "-p", str(IPERF_PORT), "-t", str(t), "-J"],
                              capture_output=True, text=True, timeout=t + 30)
        busy = _busy_cpu_seconds() - busy0
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            out = {"error": (proc.stdout + proc.stderr).strip()[-400:]}
        if "sum_received" not in out.get("end", {}):
            raise RuntimeError(f"iperf3 {src.netns} -> {dst.ip}: {out.get('error', 'no result')}")
        got = out["end"]["sum_received"]
        if cpu is not None and got["bytes"]:
            cpu.append(round(busy / (got["bytes"] * 8 / 1e9), 3))
        return round(got["bits_per_second"] / 1e9, 3)
    finally:
        stop_pids([server.pid], grace=2)
        server.wait()


def pipeline_ns(lab, src, dst, repeat=100_000):
    """ns per packet of the chassis' own attached xdp_vif program (entry + the generated
    ingress and egress pipelines + redirect) on the src -> dst frame, by BPF_PROG_TEST_RUN
    (bpftool) inside the chassis namespace: where an ovnbpf chassis spends its time."""
    plan = lab.plan()
    vm = next(v for v in plan.topo.vms if v.name == src)
    ns = plan.chassis_netns(vm.chassis)
    dev = f"{vm.name}-p"
    m = re.search(r"prog/xdp id (\d+)", run(["ip", "-d", "link", "show", "dev", dev], netns=ns))
    if not m:
        return None
    a, b = _endpoints(lab)[0][src], _endpoints(lab)[0][dst]
    with tempfile.TemporaryDirectory() as tmp:
        frame, ctx = Path(tmp) / "frame", Path(tmp) / "ctx"
        frame.write_bytes(udp_frame(a.mac, b.mac, a.ip, b.ip))
        # struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue, egress
        ctx.write_bytes(struct.pack("<6I", 0, FRAME_LEN, 0, ifindex(dev, ns), 0, 0))
        out = run(["bpftool", "prog", "run", "id", m.group(1), "data_in", str(frame),
                   "ctx_in", str(ctx), "repeat", str(repeat)], netns=ns)
    m = re.search(r"Return value: (\d+), duration \(average\): (\d+)ns", out)
    return int(m.group(2)) if m and int(m.group(1)) == 4 else None    # 4: XDP_REDIRECT


# ---- the run -----------------------------------------------------------------------------

def _endpoints(lab):
    plan = lab.plan()
    ends = {v.name: Endpoint(plan.vm_netns(v.name), v.mac, str(v.ip.ip), v.ip6 and str(v.ip6.ip))
            for v in plan.topo.vms}
    return ends, plan


@contextlib.contextmanager
def napi(ns, dev):
    """The sender's frames are XDP-redirected out of its eth0, which works only when the
    peer (`dev` in `ns`) has NAPI: ovnbpf's VIF ends have their XDP program; other peers
    get GRO for the pps measurement only. (GRO stays off otherwise: an OVS netdev port
    reading GRO-merged TCP over AF_PACKET cannot send it on.)"""
    was_on = "generic-receive-offload: on" in run(["ethtool", "-k", dev], netns=ns)
    if not was_on:
        run(["ethtool", "-K", dev, "gro", "on"], netns=ns)
    try:
        yield
    finally:
        if not was_on:
            run(["ethtool", "-K", dev, "gro", "off"], netns=ns, check=False)


def fcache_counts(lab):
    """{ovnbpf chassis: {hit, miss, fill}} from its pinned flow cache counters."""
    out = {}
    for node in lab.nodes():
        if node.kind != "ovnbpf":
            continue
        fd = obj_get(os.path.join(node.pin_dir, "ovnbpf_fc_stats"))
        try:
            out[node.name] = dict(zip(("hit", "miss", "fill"), percpu_u64_all(fd, 3)))
        finally:
            os.close(fd)
    return out


def _median(values):
    return statistics.median(values) if values else None


def measure(lab, seconds, rounds=3, log=lambda *_: None):
    """Every figure `rounds` times, rounds interleaved (each round measures every path once,
    ovnbpf and ovs back to back), so a burst of load elsewhere on the machine hits all
    paths alike; the figures are the medians, the rounds are reported too."""
    ends, plan = _endpoints(lab)
    peer = {}                                # sender -> (netns, its chassis-side peer)
    nodes = {n.name: n for n in lab.nodes()}
    for vm in plan.topo.vms:   # an ovnbpf VIF in skb mode has no NAPI of its own either
        peer[vm.name] = (nodes[vm.chassis].netns, f"{vm.name}-p")
    kernel = make_kernel_pair(lab)
    add_kernel_ip6(kernel)
    for name, (end, bridge_ns, port) in kernel.items():
        ends[name] = end
        peer[name] = (bridge_ns, port)
    wire = make_wire_pair(lab)
    for key, (a, b) in PATHS.items():
        if not ping(ends[a].netns, ends[b].ip, count=2):
            raise RuntimeError(f"{key}: {a} cannot ping {b}: the path does not work")
        if not ping(ends[a].netns, ends[b].ip6, count=2):
            raise RuntimeError(f"{key}: {a} cannot ping6 {b}: the path does not work")
    fast_links = {uplink_mac(n.encap_ip): plan.root_uplink(i)
                  for i, n in enumerate(lab.nodes()) if n.kind == "ovnbpf"}

    vm_chassis = {vm.name: nodes[vm.chassis] for vm in plan.topo.vms}

    def one(a, b):
        ctx = napi(*peer[a]) if a in peer else contextlib.nullcontext()
        # ovs forwards in ovs-vswitchd (both chassis); ovnbpf and the kernel pair forward
        # in the sender's own softirqs (XDP/NAPI inline), charged to the sender process
        vswitchd = [vm_chassis[v].pids().get("ovs-vswitchd") for v in (a, b)
                    if v in vm_chassis and vm_chassis[v].kind == "ovs"]
        with ctx:
            return traffic.pps(ends[a], ends[b], seconds,
                               forwarders=sorted({p for p in vswitchd if p}))

    runs = {key: [] for key in PATHS}
    bridge, generator, tcp = [], [], {key: [] for key in PATHS}
    tcp6 = {key: [] for key in PATHS}
    tcp_cpu = {key: [] for key in PATHS}
    load = {"before": os.getloadavg()[0]}
    traffic = Traffic()
    try:
        for i in range(rounds):
            log(f"round {i + 1}/{rounds}: pps ovnbpf_cross through the Linux bridge underlay")
            bridge.append(one(*PATHS["ovnbpf_cross"]))
            traffic.fast_underlay(fast_links)
            for key, (a, b) in PATHS.items():
                log(f"round {i + 1}/{rounds}: pps {key}")
                runs[key].append(one(a, b))
            traffic.slow_underlay(fast_links)
            log(f"round {i + 1}/{rounds}: pps of the sender alone (one veth, no forwarder)")
            generator.append(traffic.pps(wire["g1"], wire["g2"], seconds)["pps"])
    finally:
        traffic.close()
    for i in range(rounds):
        for key, (a, b) in PATHS.items():
            log(f"round {i + 1}/{rounds}: tcp {key}")
            tcp[key].append(tcp_gbps(ends[a], ends[b], seconds, tcp_cpu[key]))
            log(f"round {i + 1}/{rounds}: tcp6 {key}")
            tcp6[key].append(tcp_gbps(ends[a].v6(), ends[b].v6(), seconds))
    load["after"] = os.getloadavg()[0]

    pps = {k: round(_median([r["pps"] for r in v])) for k, v in runs.items()}

    def cost(key, v):
        cpu = sum(r["forwarder_cpu_s"] if key.startswith("ovs") else r["sender_cpu_s"]
                  for r in v)
        got = sum(r["received"] for r in v)
        return round(cpu / got * 1e6, 2) if got else None
    cpu_us = {k: cost(k, v) for k, v in runs.items()}
    ratios = [c["pps"] / o["pps"] for c, o in zip(runs["ovnbpf_cross"], runs["ovs_cross"])
              if o["pps"]]
    return {
        "pps": pps,
        "tcp_gbps": {k: _median(v) for k, v in tcp.items()},
        "tcp6_gbps": {k: _median(v) for k, v in tcp6.items()},
        "tcp_gbps_rounds": tcp,
        "ratio_tcp_cross_vs_kernel": round(_median(tcp["ovnbpf_cross"]) /
                                           _median(tcp["kernel_cross"]), 2)
        if _median(tcp["kernel_cross"]) else None,
        "tcp_cpu_s_per_gbit": {k: _median(v) if v else None for k, v in tcp_cpu.items()},
        "load": load,
        "ratio_cross_vs_ovs": round(pps["ovnbpf_cross"] / pps["ovs_cross"], 1)
        if pps["ovs_cross"] else None,
        "ratio_cross_vs_ovs_rounds": [round(r, 1) for r in ratios],
        "cpu_us_per_packet": cpu_us,
        "ratio_cpu_cost_cross_ovs_vs_ovnbpf":
            round(cpu_us["ovs_cross"] / cpu_us["ovnbpf_cross"], 1)
            if cpu_us["ovs_cross"] and cpu_us["ovnbpf_cross"] else None,
        "sent_pps": {k: round(_median([r["sent_pps"] for r in v])) for k, v in runs.items()},
        "pps_rounds": {k: [r["pps"] for r in v] for k, v in runs.items()},
        "pps_bridge_underlay": {"ovnbpf_cross": round(_median([r["pps"] for r in bridge])),
                                "ovnbpf_cross_sent": round(_median([r["sent_pps"]
                                                                    for r in bridge]))},
        "generator_pps": round(_median(generator)),
        "frames": {k: {"sent": sum(r["sent"] for r in v),
                       "received": sum(r["received"] for r in v),
                       "sender_cpu": round(_median([r["sender_cpu"] for r in v]), 2)}
                   for k, v in runs.items()},
        "ovnbpf_pipeline_ns": pipeline_ns(lab, *PATHS["ovnbpf_local"]),
        "fcache": fcache_counts(lab),
    }


def bench(args):
    seconds = getattr(args, "seconds", 2.0) or 2.0
    name = getattr(args, "name", "blab") or "blab"
    rounds = max(1, getattr(args, "rounds", 3) or 3)
    log = (lambda *a: print(*a, file=sys.stderr)) if not getattr(args, "json", False) \
        else (lambda *_: None)
    lab = Lab(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "benchlab.yaml"
        path.write_text(yaml.safe_dump(topology_doc()))
        t0 = time.monotonic()
        lab.up(str(path), log=log)
        try:
            up_s = time.monotonic() - t0
            figures = measure(lab, seconds, rounds, log)
        finally:
            lab.down(log=log)
    figures["seconds"] = seconds
    figures["rounds"] = rounds
    figures["lab_up_s"] = round(up_s, 1)
    figures["setup"] = {
        "sender": "XDP program, BPF_PROG_TEST_RUN live frames, redirect out of the VM's eth0",
        "receiver": "XDP counter on the receiving VM's eth0 (counts, then XDP_DROP)",
        "frame": "64-byte Ethernet frame (no FCS), IPv4/UDP, one flow",
        "kernel_cross": "two namespaces on a Linux bridge in a third, nf_call_*tables off",
        "underlay": "pps: XDP fast path between the ovnbpf uplinks; pps_bridge_underlay: "
                    "the lab's Linux bridge",
        "tcp": "iperf3, 1 stream, MTU 1442, guests at the kernel's default offloads",
        "ovs_sender_peer": "GRO on every VIF's chassis end during pps only (NAPI for the "
                           "redirected frames); off for TCP",
        "machine": "2 vCPUs shared with other jobs: compare within one run only",
    }
    return figures


if __name__ == "__main__":
    class _A:
        seconds, rounds, name, json = 2.0, 3, "blab", True
    print(json.dumps(bench(_A), indent=1))
