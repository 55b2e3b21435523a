"""IPv6 fields the pipeline rewrites are written back into the packet (bpf/lib/rewrite.h),
with correct checksums: ip6.src/dst (TCP/UDP/ICMPv6 pseudo-headers), hop limit, ICMPv6
type, nd.target and nd.sll/nd.tll. Through BPF_PROG_TEST_RUN on xdp_vif with
tests/datapath/pipelines/ip6_pipeline.h, which makes OVN's rewrites (the router's echo reply, a NAT-like
source change with ttl--, ND field changes) and sends the packet back out of its port.
Before, only the hop limit was written: the echo reply left with the request's addresses."""
from __future__ import annotations

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                                ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6)
from scapy.layers.l2 import Ether

from .conftest import LO, needs_bpf
from .test_fcache import XDP_REDIRECT, build, cpu, handles  # noqa: F401 (fixture)

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

VM1, RTR = "0a:00:00:00:01:01", "02:00:00:00:01:01"
DP = 1


@pytest.fixture(scope="module")
def ip6dp():
    from datapath import maps as M
    dp = build("ip6_pipeline.h")
    try:
        h = handles(dp, ("ovnbpf_vifs", "ovnbpf_lports"))
        h["ovnbpf_vifs"].apply({LO: M.Vif(DP, 1, 0)})
        h["ovnbpf_lports"].apply({M.LPortKey(DP, 1): M.LPort(M.LPORT_LOCAL, LO, 0)})
        yield dp
    finally:
        dp.close()


def run(dp, frame) -> bytes:
    from datapath import testrun
    r = testrun.run(dp.fd("ovnbpf_xdp_vif"), bytes(frame), ingress_ifindex=LO)
    assert r.verdict == XDP_REDIRECT, r.verdict_name
    return r.packet


def checksums_right(out: bytes) -> None:
    """The L4 checksum over the pseudo-header and the segment as written sums to zero."""
    from controller.punt import packets as P
    ip = out[14:54]
    seg = out[54:54 + int.from_bytes(ip[4:6], "big")]
    assert P.checksum(seg, P._pseudo6(ip[8:24], ip[24:40], ip[6], len(seg))) == 0, \
        "L4 checksum wrong after the rewrite"


def test_router_echo_reply_swaps_addresses(ip6dp, cpu):
    req = (Ether(src=VM1, dst=RTR) / IPv6(src="fd00:0:0:1::11", dst="fd00:0:0:1::1", hlim=64)
           / ICMPv6EchoRequest(id=7, seq=1, data=b"ping6" * 8))
    out = run(ip6dp, req)
    got = Ether(out)
    assert (got.src, got.dst) == (RTR, VM1)
    assert (got[IPv6].src, got[IPv6].dst, got[IPv6].hlim) == ("fd00:0:0:1::1", "fd00:0:0:1::11", 255)
    assert ICMPv6EchoReply in got and got[ICMPv6EchoReply].id == 7
    checksums_right(out)


def test_udp_source_rewrite_fixes_the_pseudo_header_sum(ip6dp, cpu):
    pkt = (Ether(src=VM1, dst=RTR) / IPv6(src="fd00:0:0:1::11", dst="fd00:0:0:2::15", hlim=64)
           / UDP(sport=1234, dport=5678) / (b"u" * 21))
    out = run(ip6dp, pkt)
    got = Ether(out)
    assert (got[IPv6].src, got[IPv6].dst, got[IPv6].hlim) == ("fd00:0:0:9::99", "fd00:0:0:2::15", 63)
    assert bytes(got[UDP].payload) == b"u" * 21
    checksums_right(out)


def test_nd_target_and_link_layer_options_written_back(ip6dp, cpu):
    ns = (Ether(src=VM1, dst="33:33:ff:00:00:11") / IPv6(src="fd00:0:0:1::11", dst="ff02::1:ff00:11")
          / ICMPv6ND_NS(tgt="fd00:0:0:1::12") / ICMPv6NDOptSrcLLAddr(lladdr=VM1))
    out = run(ip6dp, ns)
    got = Ether(out)
    assert got[ICMPv6ND_NS].tgt == "fd00:0:0:1::99" and got[IPv6].dst == "fd00:0:0:1::99"
    assert got[ICMPv6NDOptSrcLLAddr].lladdr == RTR
    checksums_right(out)

    na = (Ether(src=VM1, dst=RTR) / IPv6(src="fd00:0:0:1::11", dst="fd00:0:0:1::1")
          / ICMPv6ND_NA(tgt="fd00:0:0:1::11", S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=VM1))
    out = run(ip6dp, na)
    got = Ether(out)
    assert got[ICMPv6ND_NA].tgt == "fd00:0:0:2::11"
    assert got[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:00:02:01"
    checksums_right(out)


def test_flow_cache_keys_on_both_ip6_addresses(ip6dp, cpu):
    """A v6 flow's cached outcome (its rewrites included) is replayed only for the same
    addresses: flows differing in any one word of ip6.src or ip6.dst each miss once."""
    from .test_fcache import Runner, miss_then_hit

    def udp6(src, dst):
        return bytes(Ether(src=VM1, dst=RTR) / IPv6(src=src, dst=dst, hlim=64)
                     / UDP(sport=1234, dport=5678) / (b"u" * 21))
    rn = Runner(ip6dp, cpu)
    first, _ = miss_then_hit(rn, udp6("fd00:0:0:1::11", "fd00:0:0:2::15"))
    checksums_right(first.packet)
    for src, dst in (("fd00:0:0:1::11", "fd00:0:0:2::16"), ("fd00:0:0:1::11", "fd00:0:1:2::15"),
                     ("fd00:0:0:1::12", "fd00:0:0:2::15"), ("fd01:0:0:1::11", "fd00:0:0:2::15")):
        r, _, d = rn.run(udp6(src, dst))
        assert d == {"hit": 0, "miss": 1, "fill": 1}, (src, dst, d)
        assert Ether(r.packet)[IPv6].dst == dst
        checksums_right(r.packet)
