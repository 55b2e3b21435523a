"""The pipeline split (bpf/lib/split.h) on three real chassis namespaces (datapath.splitbench
.SplitLab: ChassisDatapath each, bridged underlay, tests/datapath/pipelines/router_pipeline.h whose egress
stage is an ACL). In ingress mode the sender runs egress and marks the Geneve option; a
packet egress drops never reaches the underlay; receivers take marked and unmarked
packets; no mark toward a chassis that does not advertise it; `ovnbpf bench split` keys."""
from __future__ import annotations

import time

import pytest

from .conftest import needs_bpf

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

N = 5


@pytest.fixture(scope="module")
def lab():
    from datapath.splitbench import SplitLab
    with SplitLab("egress") as lab:
        yield lab


@pytest.fixture
def split(lab):
    """The lab back in its default state after each test."""
    from datapath.chassis import Tunnel
    from datapath.splitbench import CHASSIS, chassis_ip, uplink_mac
    yield lab
    lab.set_egress_on("egress")
    lab.set_deny(())
    for c, dp in lab.dps.items():
        dp.set_tunnels({o: Tunnel(chassis_ip(o), dmac=uplink_mac(o), egress_mark=True,
                                  trust_egress_done=True)
                        for o in CHASSIS if o != c})


def unicast():
    from datapath.splitbench import udp_frame, vm_mac
    return udp_frame(1, vm_mac(3), "10.0.1.13")


def sent(lab, frame, count=N):
    before = lab.snapshot()
    lab.send(1, frame, count=count)
    time.sleep(0.3)
    return lab.delta(before, lab.snapshot())


def test_ingress_mode_unicast_delivered_and_marked(split):
    """vm1 (hv1) -> vm3 (hv2) in ingress mode: delivered once each, egress ran on hv1
    (tx_egress_done), hv2 only delivered (rx_egress_done), and the option on the wire is
    1 | inport 1 | outport 3."""
    from datapath.splitbench import option_data
    lab = split
    lab.set_egress_on("ingress")
    d = sent(lab, unicast())
    assert d["delivered"] == {"vm1": 0, "vm2": 0, "vm3": N, "vm4": 0}, d
    assert d["underlay_per_chassis"] == {"hv1": 0, "hv2": N, "hv3": 0}, d
    assert d["stats"]["hv1"].get("tx_egress_done") == N, d
    assert d["stats"]["hv2"].get("rx_egress_done") == N, d
    # all but the first ran from the flow cache, which replays the mark as the run sent it
    assert d["stats"]["hv1"].get("fcache_hit", 0) >= 1, d
    r, wire = lab.test_run(1, "vif", unicast(), 0)
    assert (r["verdict"], r["last"]) == ("XDP_REDIRECT", "remote"), r
    assert option_data(wire) == (1 << 31) | (1 << 16) | 3, hex(option_data(wire))


def test_egress_mode_is_unmarked(split):
    """OVN's split (the default): the option is 0 | 1 | 3 and hv2 runs egress."""
    from datapath.splitbench import option_data
    lab = split
    d = sent(lab, unicast())
    assert d["delivered"]["vm3"] == N and "rx_egress_done" not in d["stats"]["hv2"], d
    _, wire = lab.test_run(1, "vif", unicast(), 0)
    assert option_data(wire) == (1 << 16) | 3, hex(option_data(wire))


@pytest.mark.parametrize("mode", ["egress", "ingress"])
def test_egress_drop_and_the_underlay(split, mode):
    """vm3's egress ACL denies it: in ingress mode hv1's egress drops the packet and
    nothing crosses the underlay; in egress mode it crosses and hv2 drops it."""
    lab = split
    lab.set_egress_on(mode)
    lab.set_deny((3,))
    d = sent(lab, unicast())
    assert d["delivered"]["vm3"] == 0, d
    if mode == "ingress":
        assert d["underlay_packets"] == 0, d
        assert d["drops"] == {"hv1:POLICY": N}, d
    else:
        assert d["underlay_per_chassis"]["hv2"] == N, d
        assert d["drops"] == {"hv2:POLICY": N}, d


def test_receiver_accepts_both(split):
    """hv2 takes an unmarked frame (runs egress) and a marked one (delivers only): with an
    ACL denying vm3 on hv2, the unmarked one drops there and the marked one is delivered,
    since its egress already ran on the sender."""
    from datapath.splitbench import DP, geneve_frame
    lab = split
    inner = unicast()
    plain = geneve_frame(inner, 1, 2, DP, 1, 3)
    marked = geneve_frame(inner, 1, 2, DP, 1, 3, egress_done=True)
    for frame in (plain, marked):
        r, _ = lab.test_run(2, "tunnel", frame, 0)
        assert (r["verdict"], r["last"]) == ("XDP_REDIRECT", "local"), r
    lab.dps[2].update_pipeline_entries(lab.entries(deny=(3,)))
    r, _ = lab.test_run(2, "tunnel", plain, 0)
    assert (r["verdict"], r["last"]) == ("XDP_DROP", "drop"), r
    r, _ = lab.test_run(2, "tunnel", marked, 0)
    assert (r["verdict"], r["last"]) == ("XDP_REDIRECT", "local"), r
    # a marked frame for a port that is not local here is still refused
    r, _ = lab.test_run(2, "tunnel", geneve_frame(inner, 1, 2, DP, 1, 4, egress_done=True), 0)
    assert (r["verdict"], r["last"]) == ("XDP_DROP", "drop"), r


def test_mark_from_a_peer_not_trusted_runs_egress(split):
    """hv2 does not trust hv1 to send the egress-done bit (hv1 does not advertise that it
    sends it): a marked frame from hv1 runs hv2's egress as if unmarked, so vm3's egress
    ACL drops it there (POLICY), counted as rx_egress_done_untrusted; the same marked
    frame from hv3, which hv2 trusts, is still only delivered."""
    from datapath.chassis import Tunnel
    from datapath.splitbench import DP, chassis_ip, geneve_frame, uplink_mac
    lab = split
    lab.dps[2].set_tunnels({1: Tunnel(chassis_ip(1), dmac=uplink_mac(1), egress_mark=True,
                                      trust_egress_done=False),
                            3: Tunnel(chassis_ip(3), dmac=uplink_mac(3), egress_mark=True,
                                      trust_egress_done=True)})
    inner = unicast()
    from_hv1 = geneve_frame(inner, 1, 2, DP, 1, 3, egress_done=True)
    from_hv3 = geneve_frame(inner, 3, 2, DP, 1, 3, egress_done=True)
    lab.dps[2].update_pipeline_entries(lab.entries(deny=(3,)))
    before = lab.snapshot()
    r, _ = lab.test_run(2, "tunnel", from_hv1, 0)
    assert (r["verdict"], r["last"]) == ("XDP_DROP", "drop"), r
    d = lab.delta(before, lab.snapshot())
    assert d["drops"] == {"hv2:POLICY": 1}, d
    assert d["stats"]["hv2"].get("rx_egress_done_untrusted") == 1, d
    assert "rx_egress_done" not in d["stats"]["hv2"], d
    r, _ = lab.test_run(2, "tunnel", from_hv3, 0)
    assert (r["verdict"], r["last"]) == ("XDP_REDIRECT", "local"), r
    # allowed by egress, the untrusted marked frame is delivered after egress ran here
    lab.dps[2].update_pipeline_entries(lab.entries(deny=()))
    before = lab.snapshot()
    r, _ = lab.test_run(2, "tunnel", from_hv1, 0)
    assert (r["verdict"], r["last"]) == ("XDP_REDIRECT", "local"), r
    d = lab.delta(before, lab.snapshot())
    assert d["stats"]["hv2"].get("rx_egress_done_untrusted") == 1, d


def test_no_mark_toward_a_chassis_that_does_not_advertise_it(split):
    """Ingress mode, but hv1's tunnel to hv2 lacks egress_mark (as toward an OVS chassis):
    the packet leaves right after ingress, unmarked, and hv2 runs egress."""
    from datapath.chassis import Tunnel
    from datapath.splitbench import chassis_ip, option_data, uplink_mac
    lab = split
    lab.set_egress_on("ingress")
    lab.dps[1].set_tunnels({o: Tunnel(chassis_ip(o), dmac=uplink_mac(o), egress_mark=False)
                            for o in (2, 3)})
    lab.set_deny((3,))
    d = sent(lab, unicast())
    assert d["underlay_per_chassis"]["hv2"] == N and d["drops"] == {"hv2:POLICY": N}, d
    lab.set_deny(())
    d = sent(lab, unicast())
    assert d["delivered"]["vm3"] == N and "tx_egress_done" not in d["stats"]["hv1"], d
    _, wire = lab.test_run(1, "vif", unicast(), 0)
    assert option_data(wire) >> 31 == 0


@pytest.mark.parametrize("mode", ["egress", "ingress"])
def test_broadcast_same_in_both_modes(split, mode):
    """BUM: one unmarked copy per remote chassis, egress per member where it lives, in
    both modes; every other VM gets each packet once."""
    from datapath.splitbench import udp_frame
    lab = split
    lab.set_egress_on(mode)
    d = sent(lab, udp_frame(1, "ff:ff:ff:ff:ff:ff", "255.255.255.255"))
    assert d["underlay_per_chassis"] == {"hv1": 0, "hv2": N, "hv3": N}, d
    assert d["delivered"] == {"vm1": 0, "vm2": N, "vm3": N, "vm4": N}, d
    assert not any("egress_done" in k for s in d["stats"].values() for k in s), d


def test_bench_split_keys():
    """`ovnbpf bench split`, small: every mode x mix has the figures (none asserted)."""
    from datapath.splitbench import MIXES, MODES, run
    out = run(packets=3, runs=20)
    assert set(out["modes"]) == set(MODES)
    for mode in MODES:
        r = out["modes"][mode]
        assert set(r["map_state"]) == {"hv1", "hv2", "hv3"}
        for mix in MIXES:
            m = r[mix]
            for key in ("underlay_packets", "underlay_bytes", "delivered", "drops"):
                assert key in m, (mode, mix, key)
            assert set(m["cost_ns"]) == {"sender_xdp_vif", "receiver_xdp_tunnel"}
            assert "ns" in m["cost_ns"]["sender_xdp_vif"]
    assert out["modes"]["ingress"]["egress_drop"]["underlay_packets"] == 0
    assert len(out["table"]) == 2 + len(MODES) * len(MIXES)
