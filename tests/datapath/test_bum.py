"""Two chassis in namespaces, linked by a veth underlay, two VMs on each, driven through
ChassisDatapath. A broadcast from a VM must give exactly one Geneve copy on the underlay
(one remote chassis) and exactly one copy to every other VM, none back to the sender
(OVN's behaviour in the reference lab); every local copy runs egress (recirculated).
A 10,000-member group is replicated in full."""
from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from .conftest import needs_bpf
from .netns import Lab, gro_on

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

HEADER = Path(__file__).resolve().parent / "pipelines" / "router_pipeline.h"
DP, FLOOD = 1, 32768
IPS = {1: "172.31.250.11", 2: "172.31.250.12"}
UMAC = {1: "02:00:ac:1f:fa:11", 2: "02:00:ac:1f:fa:12"}
VMS = {1: (1, 1), 2: (1, 2), 3: (2, 3), 4: (2, 4)}    # vm -> (chassis, port key)


@pytest.fixture(scope="module")
def two_chassis():
    from datapath.chassis import ChassisDatapath, Group, Local, Remote, Tunnel
    lab, dps = Lab(), {}
    try:
        hv = {c: lab.ns(f"hv{c}") for c in (1, 2)}
        vmns = {v: lab.ns(f"vm{v}") for v in VMS}
        lab.veth("und1", hv[1], "und2", hv[2], UMAC[1], UMAC[2])
        for v, (c, _) in VMS.items():
            lab.veth(f"vif{v}", hv[c], "eth0", vmns[v], mac_b=f"0a:00:00:00:01:0{v}")
            gro_on(vmns[v], "eth0")
        for c in (1, 2):
            other = 3 - c
            dp = dps[c] = ChassisDatapath(f"/sys/fs/bpf/{lab.tag}-hv{c}", netns=hv[c])
            dp.set_config(c, IPS[c])
            dp.attach_uplink(f"und{c}")
            dp.set_tunnels({other: Tunnel(IPS[other], dmac=UMAC[other])})
            vifs, lports, local = {}, {}, []
            for v, (vc, port) in VMS.items():
                if vc == c:
                    ifx = dp.attach_vif(f"vif{v}")
                    vifs[ifx] = (DP, port)
                    lports[(DP, port)] = Local(ifx)
                    local.append(port)
                else:
                    lports[(DP, port)] = Remote(vc)
            dp.set_vifs(vifs)
            dp.set_lports(lports)
            dp.set_mcast({(DP, FLOOD): Group(tuple(local), (other,))})
            dp.install_pipeline(HEADER, {})
        yield lab, hv, vmns, dps
    finally:
        for dp in dps.values():
            dp.close()
        lab.close()


def broadcast_frame(src_vm: int) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    return bytes(Ether(src=f"0a:00:00:00:01:0{src_vm}", dst="ff:ff:ff:ff:ff:ff")
                 / IP(src=f"10.0.1.1{src_vm}", dst="255.255.255.255")
                 / UDP(sport=1234, dport=9) / secrets.token_bytes(8))


@pytest.mark.parametrize("src_vm", [1, 3])
def test_broadcast_copies(two_chassis, src_vm):
    lab, hv, vmns, dps = two_chassis
    src_c = VMS[src_vm][0]
    dst_c = 3 - src_c
    rx = lambda: {v: lab.counter("eth0", vmns[v]) for v in VMS}          # noqa: E731
    before, und_before = rx(), lab.counter(f"und{dst_c}", hv[dst_c])
    c0 = {c: dp.counters() for c, dp in dps.items()}
    n = 5
    lab.send_raw(vmns[src_vm], "eth0", broadcast_frame(src_vm), count=n)
    time.sleep(0.3)
    got = {v: rx()[v] - before[v] for v in VMS}
    underlay = lab.counter(f"und{dst_c}", hv[dst_c]) - und_before
    c1 = {c: dp.counters() for c, dp in dps.items()}
    st = {c: {k: c1[c]["stats"][k] - c0[c]["stats"][k] for k in c1[c]["stats"]} for c in dps}
    want = {v: (0 if v == src_vm else n) for v in VMS}
    info = f"stats {st}; drops {[c1[c]['drops'] for c in dps]}"
    print(f"BUM from vm{src_vm}: underlay copies {underlay}, per VM {got}")
    assert underlay == n, f"underlay copies {underlay}, want {n} (1 per remote chassis); {info}"
    assert got == want, f"per-VM copies {got}, want {want}; {info}"
    assert st[src_c]["mcast_remote"] == n      # one Geneve copy per packet
    assert st[dst_c]["mcast_remote"] == 0      # nothing sent back into the overlay
    assert st[src_c]["mcast_local"] == n       # the other local VM, via the loop
    assert st[dst_c]["mcast_local"] == 2 * n   # both VMs there


def test_group_wire_key(two_chassis):
    """Remote copies carry the group's wire key (for a synthetic group: the real group key
    it extends), not the local key: with hv1's flood group sending 32769, and hv2's group
    32769 = {vm4}, only vm4 gets the copy on hv2."""
    from datapath.chassis import Group
    lab, hv, vmns, dps = two_chassis
    dps[1].set_mcast({(DP, FLOOD): Group((1, 2), (2,), wire_key=32769)})
    dps[2].set_mcast({(DP, FLOOD): Group((3, 4), (1,)), (DP, 32769): Group((4,), ())})
    try:
        before = {v: lab.counter("eth0", vmns[v]) for v in VMS}
        lab.send_raw(vmns[1], "eth0", broadcast_frame(1), count=3)
        time.sleep(0.3)
        got = {v: lab.counter("eth0", vmns[v]) - before[v] for v in VMS}
        assert got == {1: 0, 2: 3, 3: 0, 4: 3}, got
    finally:
        dps[1].set_mcast({(DP, FLOOD): Group((1, 2), (2,))})
        dps[2].set_mcast({(DP, FLOOD): Group((3, 4), (1,))})


def test_10000_member_group(two_chassis):
    """10,000 local members (ports 1000..10999, all bound to vm2's VIF): one broadcast
    from vm1 gives vm2 10,000 copies, each having run egress."""
    from datapath.chassis import Group, Local
    lab, hv, vmns, dps = two_chassis
    dp = dps[1]
    ifx2 = lab.ifindex("vif2", hv[1])
    ports = range(1000, 11000)
    from datapath.chassis import Remote
    lports = {(k.dp, k.port): Local(v.ifindex) if v.type == 1 else Remote(v.chassis)
              for k, v in dp.maps["ovnbpf_lports"].installed.items()}
    dp.set_lports({**lports, **{(DP, p): Local(ifx2) for p in ports}})
    dp.set_mcast({(DP, FLOOD): Group(tuple(ports), ())})
    try:
        before = lab.counter("eth0", vmns[2])
        c0 = dp.counters()
        t0 = time.monotonic()
        lab.send_raw(vmns[1], "eth0", broadcast_frame(1), count=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and lab.counter("eth0", vmns[2]) - before < 10000:
            time.sleep(0.05)
        got = lab.counter("eth0", vmns[2]) - before
        c1 = dp.counters()
        loop = c1["stats"]["mcast_local"] - c0["stats"]["mcast_local"]
        print(f"10,000-member group: {loop} copies recirculated, {got} delivered to vm2 "
              f"in {time.monotonic() - t0:.2f} s; drops {c1['drops']}")
        assert loop == 10000
        assert got == 10000, f"delivered {got}; drops {c1['drops']}"
    finally:
        dp.set_mcast({(DP, FLOOD): Group((1, 2), (2,))})
        dp.set_lports(lports)


def test_unicast_across_chassis(two_chassis):
    """vm1 (hv1) -> vm3 (hv2): Geneve over the underlay (next hop: fib, else the static MAC),
    decap and egress on hv2, one frame at vm3."""
    import struct
    lab, hv, vmns, dps = two_chassis
    vm3 = 0x0A0000000103
    entry = [(struct.pack("<IIQ", DP, 0, vm3), struct.pack("<I", 3))]
    for dp in dps.values():
        dp.update_pipeline_entries({"ovnbpf_pl_rt_l2": entry})
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    frame = bytes(Ether(src="0a:00:00:00:01:01", dst="0a:00:00:00:01:03")
                  / IP(src="10.0.1.11", dst="10.0.1.13") / UDP(sport=1, dport=9) / b"12345678")
    before = lab.counter("eth0", vmns[3])
    c0 = dps[1].counters()["stats"]
    lab.send_raw(vmns[1], "eth0", frame, count=4)
    time.sleep(0.3)
    c1 = dps[1].counters()
    assert c1["stats"]["tx_tunnel"] - c0["tx_tunnel"] == 4, c1
    assert lab.counter("eth0", vmns[3]) - before == 4, (c1, dps[2].counters())
