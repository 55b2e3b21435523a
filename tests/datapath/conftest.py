"""Shared fixtures: one compiled datapath per test session (bcc compiles take seconds),
its maps behind typed handles, reset before every test, and helpers that show packets
decoded when they differ."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import pytest

try:
    import bcc  # noqa: F401
    HAVE_BCC = True
except Exception:   # pragma: no cover - depends on the machine
    HAVE_BCC = False

needs_bpf = pytest.mark.skipif(not HAVE_BCC or os.geteuid() != 0,
                               reason="needs root and bcc (python3-bpfcc)")

# The topology of the reference lab's canonical capture (tests/trace/data/canonical-geneve.pcap,
# real OVS between two ovs chassis; bpf/README.md "Geneve on the wire").
HV1_IP, HV2_IP = 0xAC1FFA0B, 0xAC1FFA0C          # 172.31.250.11 / .12
HV1_MAC, HV2_MAC = 0x0200AC1FFA11, 0x0200AC1FFA12
VM1_MAC, VM3_MAC = 0x0A0000000101, 0x0A0000000103
DP_LS1, VM1, VM2, VM3 = 1, 1, 2, 3
CH_HV1, CH_HV2 = 1, 2
LO = 1   # test-run needs a real ingress device: lo


@dataclass
class Env:
    dp: object          # datapath.loader.Datapath
    maps: dict          # name -> MapHandle

    def counters(self, name: str, n: int) -> list[int]:
        from datapath.maps import percpu_u64_all
        return percpu_u64_all(self.dp.map_fd(name), n)

    def drops(self) -> list[int]:
        from datapath.drops import DROP_MAX
        return self.counters("ovnbpf_drops", DROP_MAX)

    def reset(self) -> None:
        for h in self.maps.values():
            h.apply({})


@pytest.fixture(scope="session")
def env():
    if not HAVE_BCC or os.geteuid() != 0:
        pytest.skip("needs root and bcc")
    from datapath import maps as M
    from datapath.loader import BuildSpec, Datapath
    pin = f"/sys/fs/bpf/obt-{secrets.token_hex(4)}"
    from datapath.standin import l2_handle, standin
    dp = Datapath.build(BuildSpec(pin_dir=pin, pipeline=standin("l2_pipeline.h")))
    try:
        # every write bumps the flow cache's epoch, as ChassisDatapath's handles do
        fc = M.FcacheControl(dp.map_fd("ovnbpf_fc_ctl"))
        handles = {n: M.handle(n, dp.map_fd(n), on_write=fc.bump) for n in M.SPECS}
        handles["ovnbpf_pl_l2"] = l2_handle(dp, on_write=fc.bump)   # the stand-in's map
        yield Env(dp, handles)
    finally:
        dp.close(unpin=True)


def canonical_topology(env: Env, underlay_ifindex: int = LO) -> None:
    """hv1's view: vm1 on lo (test-run ingress), vm2 local, vm3 on hv2."""
    from datapath import maps as M
    m = env.maps
    m["ovnbpf_config"].apply({0: M.Config(CH_HV1, HV1_IP, 0)})
    m["ovnbpf_vifs"].apply({LO: M.Vif(DP_LS1, VM1, 0)})
    m["ovnbpf_lports"].apply({
        M.LPortKey(DP_LS1, VM1): M.LPort(M.LPORT_LOCAL, LO, 0, mac=VM1_MAC),
        M.LPortKey(DP_LS1, VM2): M.LPort(M.LPORT_LOCAL, LO, 0, mac=0x0A0000000102),
        M.LPortKey(DP_LS1, VM3): M.LPort(M.LPORT_REMOTE, 0, CH_HV2, mac=VM3_MAC),
    })
    m["ovnbpf_tunnels"].apply({CH_HV2: M.Tunnel(HV2_IP, HV1_IP, underlay_ifindex,
                                                HV1_MAC, HV2_MAC)})
    m["ovnbpf_tunnel_srcs"].apply({HV2_IP: CH_HV2})
    from datapath.standin import L2Key
    m["ovnbpf_pl_l2"].apply({L2Key(DP_LS1, VM3_MAC): VM3,
                             L2Key(DP_LS1, 0x0A0000000102): VM2,
                             L2Key(DP_LS1, VM1_MAC): VM1})


def show(pkt: bytes) -> str:
    from scapy.layers.l2 import Ether
    try:
        import scapy.contrib.geneve  # noqa: F401  (binds UDP 6081)
    except Exception:
        pass
    return Ether(pkt).show2(dump=True) + "\n" + pkt.hex()


def assert_same(got: bytes, want: bytes, what: str = "packet") -> None:
    if got != want:
        diff = [i for i in range(max(len(got), len(want)))
                if i >= len(got) or i >= len(want) or got[i] != want[i]]
        raise AssertionError(f"{what} differs at byte offsets {diff[:20]}\n"
                             f"--- got ---\n{show(got)}\n--- want ---\n{show(want)}")
