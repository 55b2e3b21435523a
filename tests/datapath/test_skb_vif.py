"""A VIF in skb mode (`--vif-xdp skb`, bpf/README.md "Guests' offloads"), through
BPF_PROG_TEST_RUN of xdp_vif: XDP decides and hands the output to TC (XDP_PASS, the frame
untouched: no encap, no checksum completion, so a partial checksum stays a partial seed);
the decision fills the flow cache and a hit hands off the same way; a frame longer than
the underlay's MTU (a GSO super-frame) is handed off too, where native mode counts it
GSO_UNSUPPORTED. Failed before skb mode: the frame came back encapsulated / redirected
with its checksum completed."""
from __future__ import annotations

import struct

import pytest

from .conftest import DP_LS1, LO, VM1, VM1_MAC, VM3, VM3_MAC, canonical_topology, needs_bpf
from .test_fcache import XDP_DROP, XDP_PASS, XDP_REDIRECT, Runner, cpu, mac  # noqa: F401

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

VM2_MAC = 0x0A0000000102
OUT_LOCAL, OUT_REMOTE = 1, 2
SEED = 0x1234   # a partial (pseudo-header) checksum as a guest leaves it


def tcp(dst_mac: int, dst_ip: str, payload: int = 100) -> bytes:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    return bytes(Ether(src=mac(VM1_MAC), dst=mac(dst_mac)) / IP(src="10.0.1.11", dst=dst_ip)
                 / TCP(sport=40000, dport=5201, chksum=SEED) / (b"y" * payload))


META = struct.Struct("<IIIIIHH")   # bpf/lib/meta.h struct ovnbpf_meta_out
META_OUT_MAGIC = 0x0B9FCA58


def handoff(packet: bytes, frame: bytes) -> tuple:
    """Test-run returns the XDP metadata in front of the frame: (type, target, vni, md,
    l4_end), the frame checked to be the one sent."""
    assert len(packet) == META.size + len(frame), (len(packet), len(frame))
    assert packet[META.size:] == frame, "the skb leaves XDP as it came (seed kept)"
    magic, typ, target, vni, md, _sport, l4_end = META.unpack(packet[:META.size])
    assert magic == META_OUT_MAGIC
    return typ, target, vni, md, l4_end


def _skb_mode(env, on: bool):
    from datapath import maps as M
    env.maps["ovnbpf_vifs"].apply({LO: M.Vif(DP_LS1, VM1, M.VIF_SKB if on else 0)})


@pytest.mark.parametrize("dst,ip,out", [(VM3_MAC, "10.0.1.13", OUT_REMOTE),
                                        (VM2_MAC, "10.0.1.12", OUT_LOCAL)])
def test_skb_vif_hands_off_untouched_and_caches(env, cpu, dst, ip, out):
    env.reset()
    canonical_topology(env)
    _skb_mode(env, True)
    rn = Runner(env.dp, cpu)
    frame = tcp(dst, ip)
    rn.fc.bump()
    r1, l1, d1 = rn.run(frame)
    r2, l2, d2 = rn.run(frame)
    assert r1.verdict == r2.verdict == XDP_PASS, (r1.verdict_name, r2.verdict_name)
    h1, h2 = handoff(r1.packet, frame), handoff(r2.packet, frame)
    assert h1 == h2, (h1, h2)
    assert l1[0] == l2[0] == out and l1 == l2, (l1, l2)
    typ, target, vni, md, l4_end = h1
    assert typ == out and l4_end == 14 + 20 + 20, h1
    if out == OUT_REMOTE:   # chassis hv2, the switch's VNI, OVN's option word
        assert (target, vni, md) == (2, DP_LS1, (VM1 << 16) | VM3), h1
    else:
        assert target == LO, h1
    assert d1 == {"hit": 0, "miss": 1, "fill": 1} and d2 == {"hit": 1, "miss": 0, "fill": 0}
    # native mode, same frame: encapsulated or redirected, the checksum completed
    _skb_mode(env, False)
    r3, l3, _ = rn.run(frame)
    assert r3.verdict == XDP_REDIRECT and r3.packet != frame and l3[0] == out


def test_skb_vif_takes_a_super_frame_native_counts_it(env, cpu):
    from datapath.drops import DropReason
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    big = tcp(VM3_MAC, "10.0.1.13", payload=3000)
    _skb_mode(env, False)
    r, last, _ = rn.run(big)
    assert r.verdict == XDP_DROP and last[6] == DropReason.GSO_UNSUPPORTED, last
    _skb_mode(env, True)
    r, last, _ = rn.run(big)
    assert r.verdict == XDP_PASS and last[0] == OUT_REMOTE and last[2] == 2, last
    assert handoff(r.packet, big)[0] == OUT_REMOTE
