"""The product on the wire: the README's demo, and a mixed lab where eBPF chassis and a
reference OVS chassis (real ovs-vswitchd + ovn-controller) exchange Geneve both ways."""
import os

import pytest

from topologies.lab.demo import broadcast_copies, run_demo
from tests.conftest import running_lab

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


def test_demo_passes():
    lines = []
    assert run_demo(name=os.environ.get("OVNBPF_TEST_DEMO", "dmt"), log=lines.append)
    text = "\n".join(lines)
    assert "1 Geneve copies on the underlay (1 remote chassis)" in text
    assert "--- ovnbpf ctl --chassis hv2" in text


@pytest.fixture(scope="module")
def mixed_lab():
    with running_lab(os.environ.get("OVNBPF_TEST_MIXED", "mx1"), "mixed") as lab:
        yield lab


def test_mixed_lab_every_pair_both_ways(mixed_lab, capsys):
    """hv1 and hv3 are ovnbpf, hv2 is OVS: unicast and routed, every direction."""
    kind = {c.name: c.kind for c in mixed_lab.plan().topo.chassis}
    tried, pairs = mixed_lab.ping_all_pairs()
    failed = [f"{a.name}({kind[a.chassis]})->{b.name}({kind[b.chassis]})" for a, b in pairs]
    with capsys.disabled():
        print(f"\n[figure] mixed lab interop: {tried - len(failed)}/{tried} VM pairs answer")
    assert failed == []


@pytest.mark.parametrize("src", ["vm1", "vm3"])   # from an eBPF chassis, from the OVS one
def test_mixed_lab_broadcast_once_per_remote_chassis(mixed_lab, src):
    copies = broadcast_copies(mixed_lab, mixed_lab.status(), src=src)
    assert copies.pop("underlay") == 2                    # two remote chassis have members
    assert copies and all(n == 1 for n in copies.values()), copies
