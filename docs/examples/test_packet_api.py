"""A packet test written against ovnbpf's documented API only (docs/packet-tests.md):
the `ovn_sb` fixture of the installed pytest plugin and `controller.packettest.Pipeline`.

Two switches joined by a router, one VM on each, on two chassis that exist only as
Southbound rows: real ovn-northd writes the logical flows, ovnbpf compiles each chassis'
pipelines and runs the packets through the real eBPF programs (BPF_PROG_TEST_RUN)."""
import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

from controller.packettest import Pipeline

pytestmark = [pytest.mark.root, pytest.mark.bpf]

VM1_MAC, VM1_IP = "0a:00:00:00:01:0b", "10.0.1.11"
VM2_MAC, VM2_IP = "0a:00:00:00:02:0c", "10.0.2.12"
LR_LS1_MAC, LR_LS2_MAC = "02:00:00:00:01:01", "02:00:00:00:02:01"


@pytest.fixture
def two_switches(ovn_sb):
    nb = ovn_sb.nbctl
    nb("ls-add", "ls1", "--", "ls-add", "ls2", "--", "lr-add", "lr1")
    for n, mac in ((1, LR_LS1_MAC), (2, LR_LS2_MAC)):
        nb("lrp-add", "lr1", f"lr1-ls{n}", mac, f"10.0.{n}.1/24",
           "--", "lsp-add", f"ls{n}", f"ls{n}-lr1",
           "--", "lsp-set-type", f"ls{n}-lr1", "router",
           "--", "lsp-set-addresses", f"ls{n}-lr1", "router",
           "--", "lsp-set-options", f"ls{n}-lr1", f"router-port=lr1-ls{n}")
    nb("lsp-add", "ls1", "vm1", "--", "lsp-set-addresses", "vm1", f"{VM1_MAC} {VM1_IP}",
       "--", "lsp-set-port-security", "vm1", f"{VM1_MAC} {VM1_IP}")
    nb("lsp-add", "ls2", "vm2", "--", "lsp-set-addresses", "vm2", f"{VM2_MAC} {VM2_IP}")
    ovn_sb.add_chassis("hv1")
    ovn_sb.add_chassis("hv2")
    ovn_sb.bind("vm1", "hv1")
    ovn_sb.bind("vm2", "hv2")
    return ovn_sb.pipeline()     # reads the SB once northd is done; closed by the fixture


def test_routed_echo_request_and_port_security_drop(ovn_sb, two_switches: Pipeline):
    ping = (Ether(src=VM1_MAC, dst=LR_LS1_MAC)
            / IP(src=VM1_IP, dst=VM2_IP, ttl=64) / ICMP(type="echo-request", id=7, seq=1))

    result = two_switches.send("vm1", ping)

    assert not result.drops, result
    [copy] = result.delivered
    assert (copy.port, copy.chassis) == ("vm2", "hv2")     # over Geneve, hv1 -> hv2
    assert copy.packet[Ether].src == LR_LS2_MAC            # the router's port on ls2
    assert copy.packet[Ether].dst == VM2_MAC               # resolved by the router
    assert copy.packet[IP].ttl == 63                       # one routed hop
    assert copy.packet[ICMP].id == 7 and copy.packet[IP].dst == VM2_IP

    # the same packet from a MAC that vm1's port security does not allow
    spoofed = ping.copy()
    spoofed[Ether].src = "0a:00:00:00:01:99"
    result = two_switches.send("vm1", spoofed)

    assert result.delivered == []
    [drop] = result.drops
    assert drop.chassis == "hv1" and drop.reason == "POLICY"
    assert drop.stage.startswith("ls_in_") and "port_sec" in drop.stage
    # the lflow is a real Logical_Flow row: ask the SB about it
    assert ovn_sb.sbctl("get", "Logical_Flow", drop.lflow,
                        "external_ids:stage-name").strip().strip('"') == drop.stage
    assert "drop;" in ovn_sb.sbctl("get", "Logical_Flow", drop.lflow, "actions")
