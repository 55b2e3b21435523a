"""Guests' GSO across chassis: with VIFs in skb mode (`vif_xdp: skb` in the topology, not the default
`--vif-xdp skb`) a veth guest keeps TSO, hands its chassis 64 KiB super-frames, and they
cross the datapath whole: one XDP run and one TC encapsulation per super-frame, segmented by
the kernel's UDP-tunnel GSO after the uplink, the inner checksums completed by the receiving
chassis. A transfer large enough for many super-frames arrives intact (SHA-256 checked by
the receiving guest), over IPv4 and IPv6, and the sending chassis saw a few large frames
rather than one per MTU. Before skb mode the kernel turned TSO off in every guest (XDP on
the veth peer) and every frame was MTU-sized: this failed on the TSO check."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from topologies.lab.proc import run
from tests.conftest import running_lab
from tests.lab.skbtopo import skb_topology

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

AGENT = str(Path(__file__).with_name("guest_agent.py"))
PORT = 5302
NBYTES = 32 << 20
MTU = 1442   # the lab's VM MTU (underlay 1500 - 58)


def _live(lab, chassis):
    ovnbpf = Path(sys.executable).with_name("ovnbpf")
    out = subprocess.run([str(ovnbpf), "ctl", "--lab", lab.name, "--chassis", chassis, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["live"]


def test_gso_super_frames_cross_chassis_intact_v4_v6(capsys, tmp_path):
    with running_lab("g4", skb_topology("ebpf6", tmp_path)) as lab:
        ns1, ns3 = lab.plan().vm_netns("vm1"), lab.plan().vm_netns("vm3")
        vm3 = next(v for v in lab.plan().topo.vms if v.name == "vm3")
        feats = run(["ethtool", "-k", "eth0"], netns=ns1)
        assert "tx-tcp-segmentation: on" in feats, "the guest keeps TSO (VIF in skb mode)"
        server = subprocess.Popen(["ip", "netns", "exec", ns3, sys.executable, AGENT, "serve",
                                   str(PORT)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout.readline().strip() == "ready"
            figures = {}
            for family, dst in (("v4", str(vm3.ip.ip)), ("v6", str(vm3.ip6.ip))):
                before = _live(lab, "hv1")
                r = subprocess.run(["ip", "netns", "exec", ns1, sys.executable, AGENT, "tcp", dst,
                                    str(PORT), str(NBYTES)], capture_output=True, text=True,
                                   timeout=300)
                assert r.returncode == 0, f"{family}: {r.stderr.strip()[-500:]}"
                after = _live(lab, "hv1")
                frames = after["stats"]["rx_vif"] - before["stats"]["rx_vif"]
                figures[family] = frames
                # MTU-sized segments would be NBYTES / 1390 ~ 24,000 frames (plus ACK-less
                # small ones); super-frames are tens of KiB each
                assert frames * 4 * MTU < NBYTES, (family, frames)
            for chassis in ("hv1", "hv2"):
                drops = _live(lab, chassis)["drops"]
                for reason in ("SKB_L4_REWRITE", "SKB_OUT_FAILED", "ENCAP_TOO_BIG",
                               "GSO_UNSUPPORTED", "ENCAP_FAILED", "META_FAILED"):
                    assert drops.get(reason, 0) == 0, (chassis, drops)
            with capsys.disabled():
                print(f"\n[figure] {NBYTES >> 20} MiB vm1 (hv1) -> vm3 (hv2) intact; frames "
                      f"hv1 took from vm1: {figures} (MTU-sized: ~{NBYTES // (MTU - 52)})")
        finally:
            server.kill()
            server.wait()
