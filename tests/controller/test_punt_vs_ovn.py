"""Differential: the packet our punt handler generates for `icmp4 {}` is byte for byte
the one real OVN (ovn-controller's pinctrl + OVS, in a reference lab) delivers.

vm1 sends one echo request with TTL 1 across the router; OVN answers with an ICMP time
exceeded. Both frames are captured at vm1. The captured request, punted as our datapath
would punt it (lr1's ingress, inport lrp-ls1, at the lr_in_ip_input TTL flow), goes
through PuntHandler; its output must equal OVN's answer."""
import random
import string
import subprocess
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.e2e]


def capture_ttl1(lab, v6=False):
    ns = lab.plan().vm_netns("vm1")
    with tempfile.TemporaryDirectory(prefix="ovnbpf-punt-") as tmp:
        pcap = Path(tmp) / "ttl1.pcap"
        cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-U", "-n", "-i", "eth0",
                                "-w", str(pcap), "-c", "2",
                                "icmp6 and (ip6[40] == 128 or ip6[40] == 3)" if v6 else "icmp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            cap.stderr.readline()                       # "listening on eth0": capturing
            ping = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-t", "1", "-W", "3",
                                   *(["-s", "1300", "fd00:0:0:2::15"] if v6 else ["10.0.2.15"])],
                                  capture_output=True, text=True, timeout=30)
            cap.wait(timeout=10)
        finally:
            if cap.poll() is None:
                cap.kill()
                cap.wait()
        from scapy.utils import rdpcap
        frames = [bytes(p) for p in rdpcap(str(pcap))] if pcap.exists() else []
    return ping.stdout, frames


def test_icmp4_time_exceeded_matches_ovn_byte_for_byte(make_lab):
    from controller.punt import packets as P
    from controller.punt.event import CONSUME, STAGE_INGRESS, encode_event
    from controller.punt.handler import PuntHandler
    from controller.trace.sb import snapshot
    lab = make_lab("two-chassis", "pv" + "".join(random.choices(string.ascii_lowercase, k=3)))
    assert lab.ping("vm1", "10.0.2.15", count=1)        # routes and neighbours are up
    out, frames = capture_ttl1(lab)
    assert "Time to live exceeded" in out, out
    request = next(f for f in frames if f[34] == 8)
    answer = next(f for f in frames if f[34] == 11)

    state = snapshot(lab.central().sb_remote)
    lr1 = next(d for d in state.datapaths if d.name == "lr1")
    lrp = next(p for p in state.ports if p.logical_port == "lrp-ls1")
    flow = next(f for f in state.flows if f.stage == "lr_in_ip_input" and "icmp4.type = 11" in f.actions
                and 'inport == "lrp-ls1"' in f.match)
    fields = P.parse(request)
    fields.update({"dp": lr1.tunnel_key, "inport": lrp.tunnel_key})
    r = PuntHandler(state, {1: flow.uuid}).handle_bytes(
        encode_event(CONSUME, 1, STAGE_INGRESS, fields, request))
    assert r.outcome == "icmp4", r
    ours = r.injections[0].frame
    assert ours.hex() == answer.hex()


def test_icmp6_time_exceeded_matches_ovn_byte_for_byte(make_lab, tmp_path):
    """The same for `icmp6 {}` in a dual-stack reference lab, with a request too big to
    quote whole (pinctrl cuts the error to 1280 bytes, Ethernet included)."""
    from topologies.lab import topology
    from controller.punt import packets as P
    from controller.punt.event import CONSUME, STAGE_INGRESS, encode_event
    from controller.punt.handler import PuntHandler
    from controller.trace.sb import snapshot
    lab = make_lab(topology.variant("ebpf6", tmp_path, "ovs6", {"*": "ovs"}),
                   "s" + "".join(random.choices(string.ascii_lowercase, k=3)))
    assert lab.ping("vm1", "fd00:0:0:2::15", count=1)
    out, frames = capture_ttl1(lab, v6=True)
    assert "Time exceeded: Hop limit" in out, out
    request = next(f for f in frames if f[54] == 128)
    answer = next(f for f in frames if f[54] == 3)

    state = snapshot(lab.central().sb_remote)
    lr1 = next(d for d in state.datapaths if d.name == "lr1")
    lrp = next(p for p in state.ports if p.logical_port == "lrp-ls1")
    flow = next(f for f in state.flows if f.stage == "lr_in_ip_input" and "icmp6.type = 3" in f.actions
                and 'inport == "lrp-ls1"' in f.match)
    fields = P.parse(request)
    fields.update({"dp": lr1.tunnel_key, "inport": lrp.tunnel_key})
    r = PuntHandler(state, {1: flow.uuid}).handle_bytes(
        encode_event(CONSUME, 1, STAGE_INGRESS, fields, request))
    assert r.outcome == "icmp6", r
    ours = r.injections[0].frame
    assert len(answer) == 1280 and ours.hex() == answer.hex()
