"""ChassisDatapath in namespaces, with the hand-written two-switch + router pipeline
(tests/datapath/pipelines/router_pipeline.h): a patch-port path (switch -> router -> switch), multicast
with a patch member and egress per copy, the hitless-swap proof, and adoption of the
pinned state by a restarted controller."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from .conftest import needs_bpf
from .netns import Lab, PacedSender, Sniffer, gro_on

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

HEADER = Path(__file__).resolve().parent / "pipelines" / "router_pipeline.h"
LS1, LS2, LR = 1, 2, 3
FLOOD = 32768
PATCH = 100                                    # switch-side key of both patch ports
R1_MAC, R2_MAC = 0x020000000101, 0x020000000201  # router port MACs on ls1 / ls2
# vm -> (datapath, port key, MAC, IP)
VMS = {1: (LS1, 1, 0x0A0000000101, "10.0.1.11"), 2: (LS1, 2, 0x0A0000000102, "10.0.1.12"),
       3: (LS1, 3, 0x0A0000000103, "10.0.1.13"), 4: (LS2, 4, 0x0A0000000204, "10.0.2.14")}


def mac_str(m: int) -> str:
    return ":".join(f"{b:02x}" for b in m.to_bytes(6, "big"))


def entries(deny: tuple[tuple[int, int], ...] = ()) -> dict:
    """The router pipeline's map contents, packed as its C structs."""
    l2 = [(struct.pack("<IIQ", dp, 0, mac), struct.pack("<I", port))
          for dp, port, mac, _ in VMS.values()]
    l2.append((struct.pack("<IIQ", LS1, 0, R1_MAC), struct.pack("<I", PATCH)))
    l2.append((struct.pack("<IIQ", LS2, 0, R2_MAC), struct.pack("<I", PATCH)))
    route = [(struct.pack("<II", LR, 0x0A000200), struct.pack("<IIQQ", 2, 0, R2_MAC, VMS[4][2])),
             (struct.pack("<II", LR, 0x0A000100), struct.pack("<IIQQ", 1, 0, R1_MAC, VMS[1][2]))]
    return {"ovnbpf_pl_rt_l2": l2, "ovnbpf_pl_rt_route": route,
            "ovnbpf_pl_rt_routers": [(struct.pack("<I", LR), struct.pack("<I", 1))],
            "ovnbpf_pl_rt_deny": [(struct.pack("<II", dp, p), struct.pack("<I", 1))
                                  for dp, p in deny]}


def udp_frame(src_vm: int, eth_dst: int, ip_dst: str, dport: int = 9999, size: int = 0) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    _, _, mac, ip = VMS[src_vm]
    return bytes(Ether(src=mac_str(mac), dst=mac_str(eth_dst)) / IP(src=ip, dst=ip_dst, ttl=64)
                 / UDP(sport=1234, dport=dport) / (b"x" * max(size, 8)))


@pytest.fixture(scope="module")
def chassis():
    """One chassis namespace with vm1..vm4; ls1 and ls2 joined by a router via patch ports."""
    from datapath.chassis import ChassisDatapath, Group, Local, Patch
    lab = Lab()
    dp = None
    try:
        hv = lab.ns("hv")
        vmns = {v: lab.ns(f"vm{v}") for v in VMS}
        for v, (_, _, mac, ip) in VMS.items():
            lab.veth(f"vif{v}", hv, "eth0", vmns[v], mac_b=mac_str(mac))
            gro_on(vmns[v], "eth0")
        dp = ChassisDatapath(f"/sys/fs/bpf/{lab.tag}-hv", netns=hv)
        dp.set_config(1, "172.31.250.11")
        ifx = {v: dp.attach_vif(f"vif{v}") for v in VMS}
        dp.set_vifs({ifx[v]: (d, p) for v, (d, p, _, _) in VMS.items()})
        lports = {(d, p): Local(ifx[v]) for v, (d, p, _, _) in VMS.items()}
        lports.update({(LS1, PATCH): Patch(LR, 1), (LR, 1): Patch(LS1, PATCH),
                       (LS2, PATCH): Patch(LR, 2), (LR, 2): Patch(LS2, PATCH)})
        dp.set_lports(lports)
        dp.set_mcast({(LS1, FLOOD): Group((1, 2, 3, PATCH)), (LS2, FLOOD): Group((4, PATCH))})
        dp.install_pipeline(HEADER, entries())
        yield lab, hv, vmns, dp
    finally:
        if dp is not None:
            dp.close()
        lab.close()


def rx(lab, vmns) -> dict[int, int]:
    return {v: lab.counter("eth0", vmns[v]) for v in VMS}


def test_patch_hop_routes_between_switches(chassis):
    """vm1 -> router MAC -> ls1 patch -> lr -> ls2 patch -> vm4: ttl 63, MACs rewritten."""
    lab, hv, vmns, dp = chassis
    dp.update_pipeline_entries(entries())
    sniff = Sniffer(vmns[4], "eth0", 9999)
    lab.send_raw(vmns[1], "eth0", udp_frame(1, R1_MAC, "10.0.2.14"))
    got = sniff.frames()
    assert len(got) == 1, f"vm4 got {len(got)} frames; counters {dp.counters()}"
    f = got[0]
    assert f[0:6] == VMS[4][2].to_bytes(6, "big") and f[6:12] == R2_MAC.to_bytes(6, "big")
    assert f[22] == 63, f"ttl {f[22]}"
    s = sum(struct.unpack("!10H", f[14:34]))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    assert s == 0xFFFF, "IPv4 checksum wrong after the ttl rewrite"


def test_multicast_patch_member_and_egress_per_copy(chassis):
    """A broadcast on ls1 with an egress ACL denying vm3: vm2 gets one copy, vm3 none (its
    copy ran egress and was dropped), vm1 none (ingress port), and the patch member's
    copy is routed into ls2 and reaches vm4 (ttl 63)."""
    lab, hv, vmns, dp = chassis
    dp.update_pipeline_entries(entries(deny=((LS1, 3),)))
    try:
        n = 5
        before, c0 = rx(lab, vmns), dp.counters()
        sniff = Sniffer(vmns[4], "eth0", 9999, want=n)
        lab.send_raw(vmns[1], "eth0", udp_frame(1, 0xFFFFFFFFFFFF, "10.0.2.14"), count=n)
        got4 = sniff.frames()
        time.sleep(0.2)
        after, c1 = rx(lab, vmns), dp.counters()
        delta = {v: after[v] - before[v] for v in VMS}
        policy = c1["drops"].get("POLICY", 0) - c0["drops"].get("POLICY", 0)
        local = c1["stats"]["mcast_local"] - c0["stats"]["mcast_local"]
        print(f"BUM copies per VM {delta}, egress-policy drops {policy}, loop copies {local}")
        assert delta == {1: 0, 2: n, 3: 0, 4: n}, f"{delta}; counters {c1}"
        assert policy == n                 # vm3's copies, dropped by egress
        assert local == 3 * n              # vm2, vm3, patch: recirculated copies
        assert len(got4) == n and all(f[22] == 63 for f in got4)
    finally:
        dp.update_pipeline_entries(entries())


def test_last_output_names_the_target(chassis):
    """XDP test-run hides where a redirect goes; last_output() tells."""
    import os
    from datapath import testrun
    from datapath.chassis import current_cpu
    lab, hv, vmns, dp = chassis
    vifs = dict(dp.maps["ovnbpf_vifs"].installed)
    # test-run wants an ingress device in our own namespace: lo stands in for vif1
    dp.set_vifs({**{k: (v.dp, v.port) for k, v in vifs.items()}, 1: (LS1, 1)})
    cpu = current_cpu()
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        r = testrun.run(dp.prog_fd("vif"), udp_frame(1, VMS[2][2], "10.0.1.12"),
                        ingress_ifindex=1)
        out = dp.last_output()
        r2 = testrun.run(dp.prog_fd("vif"), udp_frame(1, 0x0A0000000999, "10.0.1.99"),
                         ingress_ifindex=1)
        out2 = dp.last_output()
    finally:
        os.sched_setaffinity(0, allowed)
        dp.set_vifs({k: (v.dp, v.port) for k, v in vifs.items()})
    assert r.verdict == testrun.XDP_REDIRECT
    assert out == {"type": "local", "ifindex": lab.ifindex("vif2", hv), "dp": LS1,
                   "inport": 1, "outport": 2, "hops": 0}, out
    assert r2.verdict == testrun.XDP_DROP
    assert out2["type"] == "drop" and out2["reason"] == "POLICY", out2


def test_hitless_swap_under_load(chassis):
    """vm1 -> vm2 at a steady rate while 100 pipelines are installed: nothing is lost."""
    lab, hv, vmns, dp = chassis
    frame = udp_frame(1, VMS[2][2], "10.0.1.12")
    before, c0 = rx(lab, vmns), dp.counters()
    sender = PacedSender(vmns[1], "eth0", frame, pps=5000)
    gens, t0 = [], time.monotonic()
    try:
        time.sleep(0.5)
        for _ in range(100):
            gens.append(dp.install_pipeline(HEADER, entries())["gen"])
        time.sleep(0.5)
    finally:
        sent = sender.stop()
    elapsed = time.monotonic() - t0
    time.sleep(0.3)
    got = lab.counter("eth0", vmns[2]) - before[2]
    c1 = dp.counters()
    drops = {k: v - c0["drops"].get(k, 0) for k, v in c1["drops"].items()
             if v != c0["drops"].get(k, 0)}
    print(f"hitless swap: {len(gens)} installs in {elapsed:.1f} s, sent {sent} "
          f"({sent / elapsed:.0f} pps), received {got}, lost {sent - got}, drops {drops}")
    assert set(gens) == {0, 1}
    assert sent > 100 * 1000
    assert sent - got == 0, f"lost {sent - got} of {sent}; drops {drops}"
    assert not drops


def test_restart_adopts_pinned_state(chassis):
    """close(detach=False, unpin=False) leaves forwarding to the kernel; a new
    ChassisDatapath on the same pins replaces the programs and keeps the state."""
    from datapath.chassis import ChassisDatapath
    lab, hv, vmns, dp = chassis
    frame = udp_frame(1, VMS[2][2], "10.0.1.12")
    pin, gen_before = dp.pin_dir, dp._active_gen()
    dp.close(detach=False, unpin=False)
    try:
        before = lab.counter("eth0", vmns[2])
        lab.send_raw(vmns[1], "eth0", frame, count=3)    # no ChassisDatapath alive now
        time.sleep(0.2)
        assert lab.counter("eth0", vmns[2]) - before == 3
    finally:
        new = ChassisDatapath(pin, netns=hv)
    assert new.maps["ovnbpf_lports"].installed, "lports not adopted"
    assert new._active_gen() == gen_before
    info = new.install_pipeline(HEADER, entries())
    assert info["gen"] == 1 - gen_before
    before = lab.counter("eth0", vmns[2])
    lab.send_raw(vmns[1], "eth0", frame, count=3)
    time.sleep(0.2)
    assert lab.counter("eth0", vmns[2]) - before == 3
    # the module fixture closes `dp`; hand it the adopted object's state to close
    dp.__dict__.update(new.__dict__)
