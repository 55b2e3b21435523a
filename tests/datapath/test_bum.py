"""Two chassis in namespaces, linked by a veth underlay, two VMs on each. A broadcast from
vm1 must give exactly one Geneve copy on the underlay (one remote chassis) and exactly
one copy to every other VM, none back to vm1 (OVN's behaviour in the reference lab)."""
from __future__ import annotations

import secrets
import time

import pytest

from .conftest import needs_bpf
from .netns import Lab

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

DP, FLOOD = 1, 32768
IPS = {1: 0xAC1FFA0B, 2: 0xAC1FFA0C}
UMAC = {1: "02:00:ac:1f:fa:11", 2: "02:00:ac:1f:fa:12"}
VMS = {1: (1, 1), 2: (1, 2), 3: (2, 3), 4: (2, 4)}    # vm -> (chassis, port key)


def mac_int(s: str) -> int:
    return int(s.replace(":", ""), 16)


@pytest.fixture(scope="module")
def two_chassis():
    from datapath import maps as M
    from datapath.loader import Attachments, BuildSpec, Datapath
    lab, att, dps = Lab(), Attachments(), []
    try:
        hv = {c: lab.ns(f"hv{c}") for c in (1, 2)}
        vmns = {v: lab.ns(f"vm{v}") for v in VMS}
        lab.veth("und1", hv[1], "und2", hv[2], UMAC[1], UMAC[2])
        for v, (c, _) in VMS.items():
            lab.veth(f"vif{v}", hv[c], "eth0", vmns[v], mac_b=f"0a:00:00:00:01:0{v}")
        for c in (1, 2):
            dp = Datapath.build(BuildSpec(pin_dir=f"/sys/fs/bpf/{lab.tag}-hv{c}"))
            dps.append(dp)
            m = {n: M.handle(n, dp.map_fd(n)) for n in M.SPECS}
            other = 3 - c
            und = lab.ifindex(f"und{c}", hv[c])
            m["ovnbpf_config"].apply({0: M.Config(c, IPS[c], M.CFG_CHECK_OUTER_DST)})
            m["ovnbpf_tunnels"].apply({other: M.Tunnel(IPS[other], IPS[c], und,
                                                       mac_int(UMAC[c]), mac_int(UMAC[other]))})
            m["ovnbpf_tunnel_srcs"].apply({IPS[other]: other})
            vifs, lports, local = {}, {}, []
            for v, (vc, port) in VMS.items():
                if vc == c:
                    ifx = lab.ifindex(f"vif{v}", hv[c])
                    vifs[ifx] = M.Vif(DP, port, 0)
                    lports[M.LPortKey(DP, port)] = M.LPort(M.LPORT_LOCAL, ifx, 0, mac=0)
                    local.append(port)
                else:
                    lports[M.LPortKey(DP, port)] = M.LPort(M.LPORT_REMOTE, 0, vc, mac=0)
            m["ovnbpf_vifs"].apply(vifs)
            m["ovnbpf_lports"].apply(lports)
            hdr, chunks = M.mcast_layout({(DP, FLOOD): (local, [other])})
            m["ovnbpf_mcast"].apply(hdr)
            m["ovnbpf_mcast_chunks"].apply(chunks)
            for ifname in [f"vif{v}" for v, (vc, _) in VMS.items() if vc == c]:
                ifx = lab.ifindex(ifname, hv[c])
                att.xdp(ifx, dp.fd("ovnbpf_xdp_vif"), netns=hv[c])
                att.tc_ingress(ifx, dp.fd("ovnbpf_tc_mcast"), netns=hv[c])
            att.xdp(und, dp.fd("ovnbpf_xdp_tunnel"), netns=hv[c])
            att.tc_ingress(und, dp.fd("ovnbpf_tc_mcast"), netns=hv[c])
        yield lab, hv, vmns, dps
    finally:
        att.detach_all()
        lab.close()
        for dp in dps:
            dp.close(unpin=True)


def broadcast_frame(src_vm: int) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    return bytes(Ether(src=f"0a:00:00:00:01:0{src_vm}", dst="ff:ff:ff:ff:ff:ff")
                 / IP(src=f"10.0.1.1{src_vm}", dst="255.255.255.255")
                 / UDP(sport=1234, dport=9) / secrets.token_bytes(8))


@pytest.mark.parametrize("src_vm", [1, 3])
def test_broadcast_copies(two_chassis, src_vm):
    from datapath.maps import percpu_u64_all
    lab, hv, vmns, dps = two_chassis
    src_c = VMS[src_vm][0]
    dst_c = 3 - src_c
    rx = lambda: {v: lab.counter("eth0", vmns[v]) for v in VMS}          # noqa: E731
    before, und_before = rx(), lab.counter(f"und{dst_c}", hv[dst_c])
    stats_before = [percpu_u64_all(dp.map_fd("ovnbpf_stats"), 8) for dp in dps]
    n = 5
    lab.send_raw(vmns[src_vm], "eth0", broadcast_frame(src_vm), count=n)
    time.sleep(0.3)
    got = {v: rx()[v] - before[v] for v in VMS}
    underlay = lab.counter(f"und{dst_c}", hv[dst_c]) - und_before
    stats = [[a - b for a, b in zip(percpu_u64_all(dp.map_fd("ovnbpf_stats"), 8), sb)]
             for dp, sb in zip(dps, stats_before)]
    want = {v: (0 if v == src_vm else n) for v in VMS}
    drops = [{i: c for i, c in enumerate(percpu_u64_all(dp.map_fd("ovnbpf_drops"), 64)) if c}
             for dp in dps]
    stats.append(drops)   # shown on failure: per-chassis stats, then drops
    assert underlay == n, f"underlay copies {underlay}, want {n} (1 per remote chassis); stats {stats}"
    assert got == want, f"per-VM copies {got}, want {want}; stats {stats}"
    assert stats[src_c - 1][6] == n           # MCAST_REMOTE on the ingress chassis
    assert stats[dst_c - 1][6] == 0           # nothing sent back into the overlay
