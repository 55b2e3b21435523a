"""Encap/decap against the reference capture of real OVS (tests/trace/data/canonical-geneve.pcap;
the format: bpf/README.md "Geneve on the wire")."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

from .conftest import (CH_HV2, DP_LS1, HV1_IP, HV2_IP, LO, VM1, VM3, assert_same,
                       canonical_topology, needs_bpf, show)

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

CAPTURE = Path("/work/shared/reference-lab/captures/canonical-geneve.pcap")
ENCAP = 58


def capture_frame() -> bytes:
    if not CAPTURE.exists():
        pytest.skip(f"{CAPTURE} not present")
    from scapy.utils import rdpcap
    return bytes(rdpcap(str(CAPTURE))[0])


def blank_variable(frame: bytes) -> bytes:
    """Zero what may legitimately differ from OVS: IP checksum (it covers nothing else
    that differs, but keep the rule simple), UDP source port and UDP checksum. MACs and
    IPs are the capture's own in this topology, so they are compared."""
    b = bytearray(frame)
    b[24:26] = b"\0\0"      # outer IPv4 checksum
    b[34:36] = b"\0\0"      # outer UDP source port
    b[40:42] = b"\0\0"      # outer UDP checksum
    return bytes(b)


def ones_sum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def check_outer_checksums(frame: bytes) -> None:
    assert ones_sum(frame[14:34]) == 0xFFFF, "outer IPv4 checksum wrong"
    pseudo = frame[26:34] + struct.pack("!BBH", 0, 17, len(frame) - 34)
    assert ones_sum(pseudo + frame[34:]) == 0xFFFF, "outer UDP checksum wrong\n" + show(frame)


@pytest.fixture
def topo(env):
    env.reset()
    canonical_topology(env)
    return env


def test_encap_matches_ovs_capture(topo):
    from datapath import testrun
    want = capture_frame()
    inner = want[ENCAP:]
    r = testrun.run(topo.dp.fd("ovnbpf_xdp_vif"), inner, ingress_ifindex=LO)
    assert r.verdict == testrun.XDP_REDIRECT, show(r.packet)
    assert len(r.packet) == len(want)
    assert_same(blank_variable(r.packet), blank_variable(want), "encapsulated frame")
    check_outer_checksums(r.packet)
    # OVS sent a UDP checksum (csum=true); so do we, and the IPv4 one is the capture's
    assert r.packet[24:26] == want[24:26]
    sport = struct.unpack("!H", r.packet[34:36])[0]
    assert 32768 <= sport <= 60999


def test_encap_sport_is_stable_per_flow(topo):
    from datapath import testrun
    inner = capture_frame()[ENCAP:]
    a = testrun.run(topo.dp.fd("ovnbpf_xdp_vif"), inner, ingress_ifindex=LO).packet
    b = testrun.run(topo.dp.fd("ovnbpf_xdp_vif"), inner, ingress_ifindex=LO).packet
    assert a[34:36] == b[34:36]


def test_decap_of_ovs_capture(env):
    """hv2's view of the same packet: dp=1, inport=1, outport=3 delivered to vm3."""
    from datapath import maps as M, testrun
    env.reset()
    m = env.maps
    m["ovnbpf_config"].apply({0: M.Config(CH_HV2, HV2_IP, M.CFG_CHECK_OUTER_DST)})
    m["ovnbpf_tunnel_srcs"].apply({HV1_IP: 1})
    m["ovnbpf_lports"].apply({M.LPortKey(DP_LS1, VM3): M.LPort(M.LPORT_LOCAL, LO, 0, mac=0)})
    frame = capture_frame()
    before = env.counters("ovnbpf_stats", 8)
    r = testrun.run(env.dp.fd("ovnbpf_xdp_tunnel"), frame, ingress_ifindex=LO)
    assert r.verdict == testrun.XDP_REDIRECT, f"{r.verdict_name} drops={env.drops()}"
    assert_same(r.packet, frame[ENCAP:], "decapsulated frame")
    after = env.counters("ovnbpf_stats", 8)
    assert after[1] - before[1] == 1 and after[2] - before[2] == 1   # RX_TUNNEL, TX_LOCAL


def test_decap_reads_dp_inport_outport(env):
    """Which (dp, outport) decap looked up is visible through the lport map: only
    (1, 3) is bound, so any other reading of the option would drop UNKNOWN_OUTPORT."""
    from datapath import maps as M, testrun
    from datapath.drops import Drop
    env.reset()
    env.maps["ovnbpf_tunnel_srcs"].apply({HV1_IP: 1})
    env.maps["ovnbpf_lports"].apply({M.LPortKey(DP_LS1, 4): M.LPort(M.LPORT_LOCAL, LO, 0, mac=0)})
    before = env.drops()
    r = testrun.run(env.dp.fd("ovnbpf_xdp_tunnel"), capture_frame(), ingress_ifindex=LO)
    assert r.verdict == testrun.XDP_DROP
    assert env.drops()[-Drop.UNKNOWN_OUTPORT] - before[-Drop.UNKNOWN_OUTPORT] == 1
