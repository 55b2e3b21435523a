"""The flow cache (bpf/lib/fcache.h), through BPF_PROG_TEST_RUN on real programs:
a hit replays exactly the bytes and the output of the pipeline run that filled it (local
L2, Geneve encap, a routed path with TTL decrement and MAC rewrite, routed into encap, and
on the receiving side a Geneve packet's egress run, QoS rewrite included); every map write
invalidates; broadcast, drops (egress port security too), punts, learning runs, ND,
egress-done and multicast packets from the tunnel are never cached; the counters move;
the bypass flag (ovnbpf trace) turns it off, and then egress runs for every packet.

The cache is per CPU, so every test pins itself to one CPU for its runs."""
from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import pytest

from datapath.standin import L2Key

from .conftest import (CH_HV1, CH_HV2, DP_LS1, HV1_IP, HV1_MAC, HV2_IP, HV2_MAC, LO, VM1,
                       VM1_MAC, VM3, VM3_MAC, assert_same, canonical_topology, needs_bpf)

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

PIPELINES = Path(__file__).resolve().parent / "pipelines"
VM2_MAC = 0x0A0000000102
XDP_DROP, XDP_PASS, XDP_REDIRECT = 1, 2, 4
ENCAP = 58


def mac(m: int) -> str:
    return ":".join(f"{b:02x}" for b in m.to_bytes(6, "big"))


def udp(src: int, dst: int, ip_dst: str = "10.0.1.12", dport: int = 9999, ttl: int = 64,
        ip_src: str = "10.0.1.11") -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    return bytes(Ether(src=mac(src), dst=mac(dst)) / IP(src=ip_src, dst=ip_dst, ttl=ttl)
                 / UDP(sport=1234, dport=dport) / (b"x" * 18))


@pytest.fixture
def cpu():
    """Run on one CPU (the cache and the last-output record are per CPU)."""
    from datapath.chassis import current_cpu
    allowed = os.sched_getaffinity(0)
    c = current_cpu()
    os.sched_setaffinity(0, {c})
    try:
        yield c
    finally:
        os.sched_setaffinity(0, allowed)


class Runner:
    """Test-runs of one build's entry program (xdp_vif, or xdp_tunnel for packets from the
    underlay), with the flow cache's counters and the last output."""

    def __init__(self, dp, cpu: int, prog: str = "ovnbpf_xdp_vif"):
        from datapath import maps as M
        self.dp, self.cpu, self.prog = dp, cpu, prog
        self.fc = M.FcacheControl(dp.map_fd("ovnbpf_fc_ctl"))

    def counts(self) -> dict:
        from datapath.maps import percpu_u64_all
        return dict(zip(("hit", "miss", "fill"),
                        percpu_u64_all(self.dp.map_fd("ovnbpf_fc_stats"), 3)))

    def last(self) -> tuple:
        o = self.dp.table("ovnbpf_last_output")[ctypes.c_int(0)][self.cpu]
        return (o.type, o.ifindex, o.chassis, o.dp, o.inport, o.outport, o.reason, o.hops)

    def run(self, frame: bytes):
        """-> (result, last output, counter deltas)."""
        from datapath import testrun
        before = self.counts()
        r = testrun.run(self.dp.fd(self.prog), frame, ingress_ifindex=LO)
        after = self.counts()
        return r, self.last(), {k: after[k] - before[k] for k in after}


def miss_then_hit(rn: Runner, frame: bytes):
    """Run a frame twice: the first must fill, the second must hit and replay it exactly."""
    rn.fc.bump()                                  # start from an empty cache
    r1, l1, d1 = rn.run(frame)
    r2, l2, d2 = rn.run(frame)
    assert d1 == {"hit": 0, "miss": 1, "fill": 1}, d1
    assert d2 == {"hit": 1, "miss": 0, "fill": 0}, d2
    assert r2.verdict == r1.verdict == XDP_REDIRECT, (r1.verdict_name, r2.verdict_name)
    assert_same(r2.packet, r1.packet, "frame replayed from the cache")
    assert l2 == l1, f"last output: hit {l2} vs miss {l1}"
    return r1, l1


# ---- the stand-in L2 pipeline (the session build) ------------------------------------------

def test_local_hit_replays_the_miss(env, cpu):
    env.reset()
    canonical_topology(env)
    frame = udp(VM1_MAC, VM2_MAC)
    r, last = miss_then_hit(Runner(env.dp, cpu), frame)
    assert_same(r.packet, frame, "L2 delivery leaves the frame alone")
    assert last[:6] == (1, LO, 0, DP_LS1, 1, 2), last           # LOCAL, lo, dp 1, 1 -> 2


def test_encap_hit_replays_the_miss(env, cpu):
    env.reset()
    canonical_topology(env)
    frame = udp(VM1_MAC, VM3_MAC, "10.0.1.13")
    r, last = miss_then_hit(Runner(env.dp, cpu), frame)
    assert len(r.packet) == len(frame) + ENCAP and r.packet[ENCAP:] == frame
    assert last[:6] == (2, LO, CH_HV2, DP_LS1, 1, VM3), last    # REMOTE to hv2


def test_lport_moved_invalidates(env, cpu):
    """vm2 moves to hv2: the next packet follows the lport map, not the cached VIF."""
    from datapath import maps as M
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    frame = udp(VM1_MAC, VM2_MAC)
    miss_then_hit(rn, frame)
    env.maps["ovnbpf_lports"].update({M.LPortKey(DP_LS1, 2): M.LPort(M.LPORT_REMOTE, 0, CH_HV2)})
    r, last, d = rn.run(frame)
    assert d == {"hit": 0, "miss": 1, "fill": 1}, d
    assert r.verdict == XDP_REDIRECT and r.packet[ENCAP:] == frame
    assert last[0] == 2 and last[2] == CH_HV2, last
    r, last, d = rn.run(frame)                                   # and that is cached now
    assert d["hit"] == 1 and r.packet[ENCAP:] == frame and last[0] == 2


def test_mac_removed_invalidates(env, cpu):
    """vm2's MAC leaves the pipeline's L2 table: the next packet is dropped by the pipeline."""
    from datapath import maps as M
    from datapath.drops import Drop
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    frame = udp(VM1_MAC, VM2_MAC)
    miss_then_hit(rn, frame)
    env.maps["ovnbpf_pl_l2"].apply({L2Key(DP_LS1, VM3_MAC): VM3,
                                    L2Key(DP_LS1, VM1_MAC): 1})
    r, last, d = rn.run(frame)
    assert r.verdict == XDP_DROP and last[0] == 4 and last[6] == Drop.POLICY, last
    assert d == {"hit": 0, "miss": 1, "fill": 0}, d


def test_epoch_bump_alone_invalidates(env, cpu):
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    frame = udp(VM1_MAC, VM2_MAC)
    miss_then_hit(rn, frame)
    rn.fc.bump()
    assert rn.run(frame)[2] == {"hit": 0, "miss": 1, "fill": 1}


def test_a_different_field_is_a_different_entry(env, cpu):
    """Fields the pipeline may read are in the key: another UDP port misses."""
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    miss_then_hit(rn, udp(VM1_MAC, VM2_MAC, dport=9999))
    assert rn.run(udp(VM1_MAC, VM2_MAC, dport=9998))[2] == {"hit": 0, "miss": 1, "fill": 1}
    assert rn.run(udp(VM1_MAC, VM2_MAC, dport=9999, ttl=9))[2]["miss"] == 1


def test_keys_differing_in_high_bits_do_not_share_a_slot(env, cpu):
    """A TCP flow's ACK and PSH|ACK packets (tcp.flags sits in the top bits of a key
    word), or its packets with another TTL or ECN: once each is filled, all hit, rather
    than evicting one another from one slot (bpf/lib/fcache.h, ovnbpf_fc_slot)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    def tcp(flags: str, ttl: int = 64, tos: int = 0) -> bytes:
        return bytes(Ether(src=mac(VM1_MAC), dst=mac(VM2_MAC))
                     / IP(src="10.0.1.11", dst="10.0.1.12", ttl=ttl, tos=tos)
                     / TCP(sport=40000, dport=5201, flags=flags) / (b"x" * 10))
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    rn.fc.bump()
    frames = [tcp("A"), tcp("PA"), tcp("FA"), tcp("A", ttl=63), tcp("A", tos=1)]
    for f in frames:
        assert rn.run(f)[2] == {"hit": 0, "miss": 1, "fill": 1}
    for f in frames:
        assert rn.run(f)[2] == {"hit": 1, "miss": 0, "fill": 0}


def test_broadcast_drops_and_nd_are_not_cached(env, cpu):
    from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
    from scapy.layers.l2 import Ether
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    rn.fc.bump()
    cases = [("broadcast", udp(VM1_MAC, 0xFFFFFFFFFFFF), XDP_PASS, 1),
             ("unknown eth.dst", udp(VM1_MAC, 0x0A0000000999), XDP_DROP, 1),
             ("ND NS", bytes(Ether(src=mac(VM1_MAC), dst=mac(VM2_MAC)) / IPv6()
                             / ICMPv6ND_NS(tgt="fe80::2")), XDP_REDIRECT, 0)]
    for what, frame, verdict, misses in cases:
        for _ in range(2):
            r, _, d = rn.run(frame)
            assert r.verdict == verdict, f"{what}: {r.verdict_name}"
            assert d == {"hit": 0, "miss": misses, "fill": 0}, f"{what}: {d}"


def test_bypass_turns_the_cache_off(env, cpu):
    env.reset()
    canonical_topology(env)
    rn = Runner(env.dp, cpu)
    frame = udp(VM1_MAC, VM2_MAC)
    miss_then_hit(rn, frame)
    rn.fc.bypass = True
    try:
        for _ in range(2):
            r, _, d = rn.run(frame)
            assert r.verdict == XDP_REDIRECT and d == {"hit": 0, "miss": 0, "fill": 0}, d
    finally:
        rn.fc.bypass = False
    assert not rn.fc.bypass
    assert rn.run(frame)[2] == {"hit": 0, "miss": 1, "fill": 1}   # bypass bumped the epoch


# ---- pipelines of their own ----------------------------------------------------------------

def build(header: str):
    from datapath.loader import BuildSpec, Datapath
    return Datapath.build(BuildSpec(functions=("ovnbpf_xdp_vif", "ovnbpf_xdp_tunnel",
                                               "ovnbpf_pl_ingress", "ovnbpf_pl_egress"),
                                    pipeline=PIPELINES / header), reuse=False)


def handles(dp, names):
    from datapath import maps as M
    fc = M.FcacheControl(dp.map_fd("ovnbpf_fc_ctl"))
    return {n: M.handle(n, dp.map_fd(n), on_write=fc.bump) for n in names}


def test_punts_and_learning_runs_are_not_cached(cpu):
    """A CONTROLLER verdict, and a forwarded run that made a learning copy, never fill."""
    from scapy.layers.l2 import ARP, Ether
    from datapath import maps as M
    from datapath.drops import Drop
    dp = build("fcache_pipeline.h")
    try:
        h = handles(dp, ("ovnbpf_vifs", "ovnbpf_lports"))
        h["ovnbpf_vifs"].apply({LO: M.Vif(DP_LS1, 1, 0)})
        h["ovnbpf_lports"].apply({M.LPortKey(DP_LS1, 1): M.LPort(M.LPORT_LOCAL, LO, 0),
                                  M.LPortKey(DP_LS1, 2): M.LPort(M.LPORT_LOCAL, LO, 0)})
        l2 = M.MapHandle(dp.map_fd("ovnbpf_pl_fct_l2"), "hash", M.Codec("<I4xQ", L2Key),
                         M.U32, on_write=M.FcacheControl(dp.map_fd("ovnbpf_fc_ctl")).bump)
        l2.apply({L2Key(DP_LS1, VM2_MAC): 2})
        rn = Runner(dp, cpu)
        arp_reply = bytes(Ether(src=mac(VM1_MAC), dst=mac(VM2_MAC))
                          / ARP(op=2, hwsrc=mac(VM1_MAC), psrc="10.0.1.11",
                                hwdst=mac(VM2_MAC), pdst="10.0.1.12"))
        for _ in range(2):
            r, last, d = rn.run(udp(VM1_MAC, VM2_MAC, dport=67))
            assert r.verdict == XDP_DROP and last[6] == Drop.NEED_CONTROLLER, last
            assert d == {"hit": 0, "miss": 1, "fill": 0}, d
            r, last, d = rn.run(arp_reply)
            assert r.verdict == XDP_REDIRECT and last[0] == 1, (r.verdict_name, last)
            assert d == {"hit": 0, "miss": 1, "fill": 0}, d
        miss_then_hit(rn, udp(VM1_MAC, VM2_MAC, dport=68))         # its other flows do
    finally:
        dp.close()


# the router pipeline: ls1 (vm1) -- lr -- ls2 (vm4), as in test_chassis.py
LS1, LS2, LR, PATCH = 1, 2, 3, 100
R1_MAC, R2_MAC, VM4_MAC = 0x020000000101, 0x020000000201, 0x0A0000000204


def router_entries(vm4_mac: int = VM4_MAC) -> dict:
    return {"ovnbpf_pl_rt_l2": [(struct.pack("<IIQ", LS1, 0, VM1_MAC), struct.pack("<I", 1)),
                                (struct.pack("<IIQ", LS2, 0, vm4_mac), struct.pack("<I", 4)),
                                (struct.pack("<IIQ", LS1, 0, R1_MAC), struct.pack("<I", PATCH)),
                                (struct.pack("<IIQ", LS2, 0, R2_MAC), struct.pack("<I", PATCH))],
            "ovnbpf_pl_rt_route": [(struct.pack("<II", LR, 0x0A000200),
                                    struct.pack("<IIQQ", 2, 0, R2_MAC, vm4_mac))],
            "ovnbpf_pl_rt_routers": [(struct.pack("<I", LR), struct.pack("<I", 1))]}


@pytest.fixture(scope="module")
def router():
    from datapath import maps as M
    dp = build("router_pipeline.h")
    try:
        h = handles(dp, ("ovnbpf_config", "ovnbpf_vifs", "ovnbpf_lports", "ovnbpf_tunnels"))
        fc = M.FcacheControl(dp.map_fd("ovnbpf_fc_ctl"))
        pl = {n: M.RawMapHandle(dp.map_fd(n), on_write=fc.bump) for n in router_entries()}
        h["ovnbpf_config"].apply({0: M.Config(1, HV1_IP, 0)})
        h["ovnbpf_vifs"].apply({LO: M.Vif(LS1, 1, 0)})
        h["ovnbpf_tunnels"].apply({CH_HV2: M.Tunnel(HV2_IP, HV1_IP, LO, HV1_MAC, HV2_MAC)})
        yield dp, h, pl
    finally:
        dp.close()


def router_setup(router, vm4_where, vm4_mac: int = VM4_MAC) -> None:
    from datapath import maps as M
    dp, h, pl = router
    h["ovnbpf_lports"].apply({
        M.LPortKey(LS1, 1): M.LPort(M.LPORT_LOCAL, LO, 0),
        M.LPortKey(LS2, 4): vm4_where,
        M.LPortKey(LS1, PATCH): M.LPort(M.LPORT_PATCH, 0, 0, LR, 1),
        M.LPortKey(LR, 1): M.LPort(M.LPORT_PATCH, 0, 0, LS1, PATCH),
        M.LPortKey(LS2, PATCH): M.LPort(M.LPORT_PATCH, 0, 0, LR, 2),
        M.LPortKey(LR, 2): M.LPort(M.LPORT_PATCH, 0, 0, LS2, PATCH)})
    for name, items in router_entries(vm4_mac).items():
        pl[name].apply(dict(items))


def check_routed(frame: bytes, vm4_mac: int = VM4_MAC) -> None:
    assert frame[0:6] == vm4_mac.to_bytes(6, "big") and frame[6:12] == R2_MAC.to_bytes(6, "big")
    assert frame[22] == 63, f"ttl {frame[22]}"
    s = sum(struct.unpack("!10H", frame[14:34]))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    assert s == 0xFFFF, "IPv4 checksum wrong after the ttl rewrite"


def test_routed_hit_replays_ttl_and_macs(router, cpu):
    """vm1 -> router -> vm4 through two patch hops: the hit writes the same TTL, MACs and
    checksum as the run that filled it, and records the same hops."""
    from datapath import maps as M
    router_setup(router, M.LPort(M.LPORT_LOCAL, LO, 0))
    frame = udp(VM1_MAC, R1_MAC, "10.0.2.14")
    r, last = miss_then_hit(Runner(router[0], cpu), frame)
    check_routed(r.packet)
    assert last[0] == 1 and last[3] == LS2 and last[5] == 4 and last[7] == 2, last


def test_routed_into_encap_hit_replays(router, cpu):
    """The same route with vm4 on hv2: TTL and MACs rewritten inside the Geneve packet."""
    from datapath import maps as M
    router_setup(router, M.LPort(M.LPORT_REMOTE, 0, CH_HV2))
    frame = udp(VM1_MAC, R1_MAC, "10.0.2.14")
    r, last = miss_then_hit(Runner(router[0], cpu), frame)
    assert len(r.packet) == len(frame) + ENCAP
    check_routed(r.packet[ENCAP:])
    assert last[0] == 2 and last[2] == CH_HV2 and last[3] == LS2 and last[5] == 4, last


def test_route_change_invalidates(router, cpu):
    """A pipeline map update (vm4's MAC binding changes) reaches the next packet."""
    from datapath import maps as M
    router_setup(router, M.LPort(M.LPORT_LOCAL, LO, 0))
    rn = Runner(router[0], cpu)
    frame = udp(VM1_MAC, R1_MAC, "10.0.2.14")
    miss_then_hit(rn, frame)
    new_mac = 0x0A00000002AA
    router_setup(router, M.LPort(M.LPORT_LOCAL, LO, 0), vm4_mac=new_mac)
    r, last, d = rn.run(frame)
    assert d == {"hit": 0, "miss": 1, "fill": 1}, d
    check_routed(r.packet, new_mac)


# ---- packets from the tunnel (the receiving chassis' egress run) ---------------------------

def geneve(inner: bytes, outport: int = VM3, *, inport: int = VM1, vni: int = DP_LS1,
           src: int = HV1_IP, done: bool = False) -> bytes:
    """inner, as hv1 sends it to hv2: outer Ethernet/IPv4/UDP (checksum 0), Geneve with
    OVN's one option (egress-done bit when `done`)."""
    opt = struct.pack("!HBBI", 0x0102, 0x80, 1,
                      (1 << 31 if done else 0) | (inport & 0x7FFF) << 16 | outport)
    gnv = struct.pack("!BBH", 2, 0x40, 0x6558) + vni.to_bytes(3, "big") + b"\0" + opt
    udp_ = struct.pack("!HHHH", 50000, 6081, 8 + len(gnv) + len(inner), 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp_) + len(gnv) + len(inner), 0,
                     0x4000, 64, 17, 0, src.to_bytes(4, "big"), HV2_IP.to_bytes(4, "big"))
    s = sum(struct.unpack("!10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    ip = ip[:10] + struct.pack("!H", ~s & 0xFFFF) + ip[12:]
    eth = HV2_MAC.to_bytes(6, "big") + HV1_MAC.to_bytes(6, "big") + b"\x08\x00"
    return eth + ip + udp_ + gnv + inner


def hv2_view(maps) -> None:
    """hv2: vm3 local (on lo), vm1 on hv1, which is a known tunnel source."""
    from datapath import maps as M
    maps["ovnbpf_config"].apply({0: M.Config(CH_HV2, HV2_IP, M.CFG_CHECK_OUTER_DST)})
    maps["ovnbpf_tunnel_srcs"].apply({HV1_IP: CH_HV1})
    maps["ovnbpf_lports"].apply({
        M.LPortKey(DP_LS1, VM3): M.LPort(M.LPORT_LOCAL, LO, 0, mac=VM3_MAC),
        M.LPortKey(DP_LS1, VM1): M.LPort(M.LPORT_REMOTE, 0, CH_HV1, mac=VM1_MAC)})


def test_tunnel_hit_replays_the_miss(env, cpu):
    """The stand-in pipeline's egress run for vm1 -> vm3 fills on the first Geneve packet;
    the second one is a hit that writes the same inner frame and records the same output."""
    env.reset()
    hv2_view(env.maps)
    inner = udp(VM1_MAC, VM3_MAC, "10.0.1.13")
    r, last = miss_then_hit(Runner(env.dp, cpu, "ovnbpf_xdp_tunnel"), geneve(inner))
    assert_same(r.packet, inner, "decapsulated frame")
    assert last[:6] == (1, LO, 0, DP_LS1, VM1, VM3), last         # LOCAL, lo, dp 1, 1 -> 3


def test_tunnel_and_vif_keys_differ(env, cpu):
    """The same inner frame from another chassis, or for another logical port, is
    another entry; and a VIF packet with the same fields never hits a tunnel entry."""
    from datapath import maps as M
    env.reset()
    hv2_view(env.maps)
    other = 0xAC1FFA0D
    env.maps["ovnbpf_tunnel_srcs"].apply({HV1_IP: CH_HV1, other: 3})
    env.maps["ovnbpf_vifs"].apply({LO: M.Vif(DP_LS1, VM1, 0)})
    env.maps["ovnbpf_pl_l2"].apply({L2Key(DP_LS1, VM3_MAC): VM3})
    rn = Runner(env.dp, cpu, "ovnbpf_xdp_tunnel")
    inner = udp(VM1_MAC, VM3_MAC, "10.0.1.13")
    miss_then_hit(rn, geneve(inner))
    assert rn.run(geneve(inner, src=other))[2] == {"hit": 0, "miss": 1, "fill": 1}
    assert rn.run(geneve(inner, inport=5))[2] == {"hit": 0, "miss": 1, "fill": 1}
    r, _, d = Runner(env.dp, cpu).run(inner)                      # vm1's own VIF
    assert r.verdict == XDP_REDIRECT and d == {"hit": 0, "miss": 1, "fill": 1}, d


def test_tunnel_lport_change_invalidates(env, cpu):
    """vm3 leaves hv2: the next Geneve packet follows the lport map and is dropped."""
    from datapath import maps as M
    from datapath.drops import Drop
    env.reset()
    hv2_view(env.maps)
    rn = Runner(env.dp, cpu, "ovnbpf_xdp_tunnel")
    frame = geneve(udp(VM1_MAC, VM3_MAC, "10.0.1.13"))
    miss_then_hit(rn, frame)
    env.maps["ovnbpf_lports"].update({M.LPortKey(DP_LS1, VM3): M.LPort(M.LPORT_REMOTE, 0, 3)})
    for _ in range(2):
        r, last, d = rn.run(frame)
        assert r.verdict == XDP_DROP and last[6] == Drop.OUTPORT_NOT_LOCAL, last
        assert d == {"hit": 0, "miss": 1, "fill": 0}, d


def test_tunnel_source_removed_invalidates(env, cpu):
    """hv1 is no longer a known chassis: its cached flow is not replayed."""
    from datapath.drops import Drop
    env.reset()
    hv2_view(env.maps)
    rn = Runner(env.dp, cpu, "ovnbpf_xdp_tunnel")
    frame = geneve(udp(VM1_MAC, VM3_MAC, "10.0.1.13"))
    miss_then_hit(rn, frame)
    env.maps["ovnbpf_tunnel_srcs"].apply({})
    r, last, d = rn.run(frame)
    assert r.verdict == XDP_DROP and last[6] == Drop.TUNNEL_UNKNOWN_SRC, last
    assert d["hit"] == 0 and d["fill"] == 0, d


def test_tunnel_egress_done_and_multicast_are_not_cached(env, cpu):
    """Neither runs the egress stage here: a marked packet from a source trusted to mark
    is only delivered, a multicast one goes to TC (egress per copy). Neither looks the
    cache up. A marked packet from a source not trusted to mark runs egress, uncached."""
    from datapath import maps as M
    env.reset()
    hv2_view(env.maps)
    rn = Runner(env.dp, cpu, "ovnbpf_xdp_tunnel")
    inner = udp(VM1_MAC, VM3_MAC, "10.0.1.13")
    for trusted in (True, False):
        env.maps["ovnbpf_tunnel_srcs"].apply(
            {HV1_IP: CH_HV1 | (M.TSRC_TRUST_DONE if trusted else 0)})
        rn.fc.bump()
        for frame, verdict in ((geneve(inner, done=True), XDP_REDIRECT),
                               (geneve(udp(VM1_MAC, 0xFFFFFFFFFFFF), 32768), XDP_PASS)):
            for _ in range(2):
                r, _, d = rn.run(frame)
                assert r.verdict == verdict, (trusted, r.verdict_name)
                assert d == {"hit": 0, "miss": 0, "fill": 0}, (trusted, d)


class Egress:
    """fcache_pipeline.h's per-outport egress (port security, QoS marking) on hv2."""

    def __init__(self, cpu):
        from datapath import maps as M
        self.dp = build("fcache_pipeline.h")
        self.cpu = cpu
        h = handles(self.dp, ("ovnbpf_config", "ovnbpf_tunnel_srcs", "ovnbpf_lports"))
        hv2_view(h)
        fc = M.FcacheControl(self.dp.map_fd("ovnbpf_fc_ctl"))
        self.out = M.RawMapHandle(self.dp.map_fd("ovnbpf_pl_fct_out"), on_write=fc.bump)
        self.rn = Runner(self.dp, cpu, "ovnbpf_xdp_tunnel")

    def set(self, port: int, mac: int = 0, dscp: int = 0) -> None:
        self.out.apply({struct.pack("<Q", DP_LS1 << 32 | port): struct.pack("<QII", mac, dscp, 0)})

    def egress_runs(self) -> int:
        from datapath.maps import percpu_u64_all
        return percpu_u64_all(self.dp.map_fd("ovnbpf_stage_hits"), 33)[32]

    def close(self):
        self.dp.close()


@pytest.fixture
def egress(cpu):
    e = Egress(cpu)
    try:
        yield e
    finally:
        e.close()


def ip4_sum_ok(frame: bytes) -> bool:
    s = sum(struct.unpack("!10H", frame[14:34]))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def test_tunnel_hit_replays_an_egress_rewrite(egress):
    """Egress marks DSCP 46 for vm3: the hit writes the same TOS byte and IP checksum."""
    egress.set(VM3, dscp=46)
    inner = udp(VM1_MAC, VM3_MAC, "10.0.1.13")
    r, last = miss_then_hit(egress.rn, geneve(inner))
    assert r.packet[15] == 46 << 2 and ip4_sum_ok(r.packet), r.packet[14:34].hex()
    assert r.packet[:15] == inner[:15] and r.packet[16:24] == inner[16:24]
    assert last[:6] == (1, LO, 0, DP_LS1, VM1, VM3), last


def test_tunnel_port_security_drop_is_not_cached(egress):
    """Egress port security drops a frame for vm3 with another eth.dst: every packet runs
    egress and is dropped, nothing is filled; the allowed MAC still flows and is cached."""
    from datapath.drops import Drop
    egress.set(VM3, mac=VM3_MAC)
    egress.rn.fc.bump()
    bad = geneve(udp(VM1_MAC, 0x0A00000001EE, "10.0.1.13"))
    for i in range(3):
        before = egress.egress_runs()
        r, last, d = egress.rn.run(bad)
        assert r.verdict == XDP_DROP and last[6] == Drop.POLICY, (r.verdict_name, last)
        assert d == {"hit": 0, "miss": 1, "fill": 0}, d
        assert egress.egress_runs() - before == 1
    miss_then_hit(egress.rn, geneve(udp(VM1_MAC, VM3_MAC, "10.0.1.13")))


def test_tunnel_port_security_added_invalidates(egress):
    """A cached delivery stops at the next packet once egress port security forbids it."""
    from datapath.drops import Drop
    frame = geneve(udp(VM1_MAC, 0x0A00000001EE, "10.0.1.13"))
    miss_then_hit(egress.rn, frame)
    egress.set(VM3, mac=VM3_MAC)                                  # a map write: new epoch
    r, last, d = egress.rn.run(frame)
    assert r.verdict == XDP_DROP and last[6] == Drop.POLICY, last
    assert d == {"hit": 0, "miss": 1, "fill": 0}, d


def test_tunnel_bypass_runs_egress_for_every_packet(egress):
    """ovnbpf trace's bypass: no lookups, no fills, and egress (its lflow counters) sees
    every packet; off again, the cache starts from a new epoch."""
    frame = geneve(udp(VM1_MAC, VM3_MAC, "10.0.1.13"))
    miss_then_hit(egress.rn, frame)
    before = egress.egress_runs()
    egress.rn.fc.bypass = True
    try:
        for _ in range(3):
            r, _, d = egress.rn.run(frame)
            assert r.verdict == XDP_REDIRECT and d == {"hit": 0, "miss": 0, "fill": 0}, d
    finally:
        egress.rn.fc.bypass = False
    assert egress.egress_runs() - before == 3
    assert egress.rn.run(frame)[2] == {"hit": 0, "miss": 1, "fill": 1}
    assert egress.egress_runs() - before == 4
