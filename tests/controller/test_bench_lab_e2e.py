"""`ovnbpf bench lab`: one short run through the real CLI reports every figure, the ovnbpf
paths deliver the sender's frames, and nothing of the bench's lab is left behind. No speed
thresholds: the machines are shared and noisy."""
import ipaddress
import json
import os
import struct
import subprocess
import sys

import pytest

from topologies.bench import lab as benchlab
from topologies.lab import topology
from topologies.lab.lab import lab_dir
from tests.conftest import system_snapshot

KEYS = {"ovnbpf_cross", "ovnbpf_local", "ovs_cross", "ovs_local", "kernel_cross"}
NAME = os.environ.get("OVNBPF_TEST_BENCH_LAB", "blt")   # another name beside a running one


def test_frame_is_64_bytes_with_a_valid_ip_checksum():
    f = benchlab.udp_frame("0a:00:00:00:01:01", "0a:00:00:00:01:02", "10.0.1.11", "10.0.1.12")
    assert len(f) == 64
    assert f[12:14] == b"\x08\x00" and f[23] == 17
    assert benchlab._csum(f[14:34]) == 0, "the IPv4 header sums to 0xffff"
    assert struct.unpack("!H", f[36:38])[0] == benchlab.UDP_PORT
    assert ipaddress.IPv4Address(f[30:34]) == ipaddress.IPv4Address("10.0.1.12")


def test_bench_topology_is_a_valid_mixed_lab():
    import yaml
    topo = topology.parse(yaml.safe_dump(benchlab.topology_doc()))
    kinds = {c.name: c.kind for c in topo.chassis}
    vm = {v.name: v.chassis for v in topo.vms}
    for key, (a, b) in benchlab.PATHS.items():
        if key == "kernel_cross":
            continue
        assert kinds[vm[a]] == kinds[vm[b]] == key.split("_")[0]
        assert (vm[a] == vm[b]) == key.endswith("_local")


def _ours(snap):
    return {k: {x for x in snap[k] if x.startswith(f"{NAME}-") or f"/{NAME}-" in x}
            for k in ("netns", "links", "pins")}


@pytest.mark.root
@pytest.mark.bpf
@pytest.mark.e2e
def test_bench_lab_reports_every_figure_and_cleans_up():
    before = _ours(system_snapshot())
    proc = subprocess.run([sys.executable, "-m", "controller.cli", "bench", "lab", "--json",
                           "--seconds", "0.5", "--rounds", "1", "--name", NAME],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    for fig in ("pps", "sent_pps", "tcp_gbps", "tcp6_gbps"):
        assert set(r[fig]) == KEYS, fig
        for key, value in r[fig].items():
            assert value > 0, f"{fig}.{key} = {value}"
    assert r["ratio_cross_vs_ovs"] > 0
    assert r["pps_bridge_underlay"]["ovnbpf_cross"] > 0
    assert r["generator_pps"] > 0
    assert set(r["cpu_us_per_packet"]) == KEYS
    assert all(len(v) == 1 for v in r["pps_rounds"].values())
    for key in ("ovnbpf_cross", "ovnbpf_local"):
        frames = r["frames"][key]
        assert 0 < frames["received"] <= frames["sent"], (key, frames)
    # both ovnbpf chassis served the one-flow traffic from their flow caches: hv1 its VIF
    # packets, hv2 the Geneve packets' egress runs (bpf/lib/fcache.h)
    assert set(r["fcache"]) == {"hv1", "hv2"}, r["fcache"]
    for hv in ("hv1", "hv2"):
        assert r["fcache"][hv]["hit"] > r["fcache"][hv]["fill"] > 0, (hv, r["fcache"])
    assert _ours(system_snapshot()) == before
    assert not lab_dir(NAME).exists()
