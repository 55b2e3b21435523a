"""The punt path in the kernel, with a hand-written pipeline (tests/datapath/pipelines/punt_pipeline.h):
a punt reaches userspace as one perf event (flow + frame) and the packet is consumed; a
copy lets the packet go on; with nobody listening, or a controller that does not keep up,
punts are dropped and counted (never queued without bound); xdp_inject.c resumes a
controller packet at the stage's output, and refuses a frame without its header."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import needs_bpf
from .netns import Lab, gro_on

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

HEADER = Path(__file__).resolve().parent / "pipelines" / "punt_pipeline.h"
DP = 1
VM1, VM2 = "0a:00:00:00:01:01", "0a:00:00:00:01:02"


@pytest.fixture(scope="module")
def chassis():
    from datapath.chassis import ChassisDatapath, Local
    lab = Lab()
    dp = None
    try:
        hv = lab.ns("hv")
        vms = {v: lab.ns(f"vm{v}") for v in (1, 2)}
        for v, mac in ((1, VM1), (2, VM2)):
            lab.veth(f"vif{v}", hv, "eth0", vms[v], mac_b=mac)
            gro_on(vms[v], "eth0")
        dp = ChassisDatapath(f"/sys/fs/bpf/{lab.tag}-hv", netns=hv)
        dp.set_config(1, "172.31.250.11")
        ifx = {v: dp.attach_vif(f"vif{v}") for v in (1, 2)}
        # test-run wants an ingress device in our own namespace: lo stands in for vif1
        dp.set_vifs({ifx[1]: (DP, 1), ifx[2]: (DP, 2), 1: (DP, 1)})
        dp.set_lports({(DP, 1): Local(ifx[1]), (DP, 2): Local(ifx[2])})
        dp.install_pipeline(HEADER, {})
        yield lab, hv, dp, ifx
    finally:
        if dp is not None:
            dp.close()
        lab.close()


def frame(ttl=1, arp=False):
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP, Ether
    if arp:
        return bytes(Ether(src=VM1, dst=VM2) / ARP(op=2, hwsrc=VM1, psrc="10.0.1.11", pdst="10.0.1.12"))
    return bytes(Ether(src=VM1, dst=VM2) / IP(src="10.0.1.11", dst="10.0.1.12", ttl=ttl) / ICMP())


def run(dp, prog, data, n=1):
    """n test runs on one CPU; (last result, last_output of that CPU)."""
    from datapath import testrun
    from datapath.chassis import current_cpu
    allowed = os.sched_getaffinity(0)
    cpu = current_cpu()
    os.sched_setaffinity(0, {cpu})
    try:
        for _ in range(n):
            r = testrun.run(dp.prog_fd(prog), data, ingress_ifindex=1)
        return r, dp.last_output(cpu)
    finally:
        os.sched_setaffinity(0, allowed)


def test_punts_without_a_controller_are_counted_drops(chassis):
    _, _, dp, _ = chassis
    before = dp.counters()["drops"].get("NEED_CONTROLLER", 0)
    r, out = run(dp, "vif", frame())
    assert out["type"] == "drop" and out["reason"] == "NEED_CONTROLLER"
    assert dp.counters()["drops"]["NEED_CONTROLLER"] == before + 1


def test_a_punt_is_one_event_and_the_packet_is_consumed(chassis):
    from datapath import testrun
    from controller.punt.event import CONSUME, COPY, decode_event
    _, _, dp, ifx = chassis
    got = []
    dp.open_punts(got.append)
    punts = dp.counters()["stats"]["punt"]
    r, out = run(dp, "vif", frame())
    assert r.verdict == testrun.XDP_DROP and out["type"] == "punt" and out["cookie"] == 7
    dp.poll_punts()
    [ev] = [decode_event(b) for b in got]
    assert (ev.kind, ev.cookie, ev.flow["dp"], ev.flow["inport"], ev.flow["ip_ttl"]) == (CONSUME, 7, DP, 1, 1)
    assert ev.frame == frame()
    assert dp.counters()["stats"]["punt"] == punts + 1
    # a copy (put_arp): the controller gets it and the packet is delivered all the same
    got.clear()
    r, out = run(dp, "vif", frame(arp=True))
    assert r.verdict == testrun.XDP_REDIRECT and out["type"] == "local" and out["ifindex"] == ifx[2]
    dp.poll_punts()
    [ev] = [decode_event(b) for b in got]
    assert (ev.kind, ev.cookie, ev.what, ev.flow["arp_op"]) == (COPY, 8, 1, 2)


def test_a_slow_controller_loses_punts_counted_never_queued(chassis):
    """The ring per CPU is fixed: 3,000 punts that nobody reads fill it; the rest are
    PUNT_LOST. Each punt is either delivered later or counted lost."""
    _, _, dp, _ = chassis
    got = []
    dp.open_punts(got.append)
    dp.poll_punts()
    got.clear()
    c0 = dp.counters()
    run(dp, "vif", frame(), n=3000)
    c1 = dp.counters()
    lost = c1["drops"].get("PUNT_LOST", 0) - c0["drops"].get("PUNT_LOST", 0)
    sent = c1["stats"]["punt"] - c0["stats"]["punt"]
    assert lost > 0 and sent > 0 and lost + sent == 3000
    dp.poll_punts()
    assert len(got) == sent


def test_inject_resumes_at_output_and_refuses_a_bad_header(chassis):
    from datapath import testrun
    from controller.punt.event import RESUME_OUTPUT, STAGE_INGRESS, inject_header
    _, _, dp, ifx = chassis
    data = frame(ttl=64)
    hdr = inject_header(STAGE_INGRESS, RESUME_OUTPUT, 0, {"dp": DP, "inport": 1, "outport": 2, "flags": 0})
    injects = dp.counters()["stats"]["inject"]
    r, out = run(dp, "inject", hdr + data)
    assert r.verdict == testrun.XDP_REDIRECT and out == {"type": "local", "ifindex": ifx[2], "dp": DP,
                                                         "inport": 1, "outport": 2, "hops": 0}
    assert r.packet == data
    assert dp.counters()["stats"]["inject"] == injects + 1
    r, out = run(dp, "inject", data)                        # no header
    assert out["type"] == "drop" and out["reason"] == "INJECT_BAD_HEADER"


def test_an_injected_packet_that_punts_again_says_how_deep_it_is(chassis):
    from controller.punt.event import RESUME_TABLE, STAGE_INGRESS, decode_event, inject_header
    _, _, dp, _ = chassis
    got = []
    dp.open_punts(got.append)
    dp.poll_punts()
    got.clear()
    hdr = inject_header(STAGE_INGRESS, RESUME_TABLE, 0, {"dp": DP, "inport": 1, "outport": 0,
                                                         "flags": 0, "punt_depth": 2})
    r, out = run(dp, "inject", hdr + frame(ttl=1))
    assert out["type"] == "punt"
    dp.poll_punts()
    [ev] = [decode_event(b) for b in got]
    assert ev.flow["punt_depth"] == 2 and ev.flow["dp"] == DP


def test_punts_waiting_at_a_pipeline_swap_still_reach_the_controller(chassis):
    """Events the old build submitted but the controller had not read yet are delivered
    when a new build replaces it, not lost with the old perf buffer."""
    from controller.punt.event import CONSUME, decode_event
    _, _, dp, _ = chassis
    got = []
    dp.open_punts(got.append)
    run(dp, "vif", frame())                     # punted, not polled
    dp.install_pipeline(HEADER, {})             # a new generation: the old buffer goes
    assert [(e.kind, e.cookie) for e in map(decode_event, got)] == [(CONSUME, 7)]


def test_a_punt_flood_is_metered_and_the_rest_counted(chassis):
    """Past the meter's burst, punts are dropped as PUNT_RATE: the controller gets `burst`
    events out of a flood, not the flood. Rate 0 turns the meter off again."""
    _, _, dp, _ = chassis
    got = []
    dp.open_punts(got.append)
    dp.poll_punts()
    got.clear()
    before = dp.counters()["drops"].get("PUNT_RATE", 0)
    from datapath.chassis import current_cpu
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {current_cpu()})   # one CPU, one bucket
    dp.set_punt_rate(0.01, burst=3)            # one per 100 s: the test runs well inside it
    try:
        outs = [run(dp, "vif", frame())[1] for _ in range(10)]
    finally:
        dp.set_punt_rate(0)
        os.sched_setaffinity(0, allowed)
    dp.poll_punts()
    assert len(got) == 3
    assert [o["reason"] for o in outs if o["type"] == "drop"] == ["PUNT_RATE"] * 7
    assert dp.counters()["drops"]["PUNT_RATE"] == before + 7
    run(dp, "vif", frame())                    # no limit again
    dp.poll_punts()
    assert len(got) == 4
