"""The Mininet graph of a lab topology (pure: no root, nothing started)."""
import ipaddress

import pytest

from topologies.lab import topology
from topologies.lab.lab import Plan
from topologies.mininet.topo import Names, OvnTopo


@pytest.fixture
def two_chassis():
    topo = topology.load("two-chassis")
    names = Names(Plan("mx", topo, ipaddress.IPv4Network("172.31.240.0/24")))
    return topo, names, OvnTopo(topo, names)


def test_hosts_switch_and_no_controller(two_chassis):
    topo, names, graph = two_chassis
    assert graph.switches() == ["mx-ubr"]
    assert sorted(graph.hosts()) == ["hv1", "hv2", "vm1", "vm2", "vm3", "vm4", "vm5", "vm6"]
    assert graph.nodeInfo("mx-ubr")["cls"].__name__ == "LinuxBridge"


def test_chassis_uplinks_are_default_interfaces_without_ip(two_chassis):
    _, _, graph = two_chassis
    hv2 = graph.nodeInfo("hv2")
    assert hv2["ip"] is None, "the encap IP belongs to the chassis kind, not to Mininet"
    assert hv2["mac"] == "02:00:ac:1f:f0:0c", "uplink MAC derived from encap IP .12"
    info = graph.linkInfo("hv2", "mx-ubr")
    assert (info["intfName1"], info["port1"], info["intfName2"]) == ("uplink", 0, "mx-ubr2")


def test_vms_hang_off_their_chassis(two_chassis):
    _, _, graph = two_chassis
    vm5 = graph.nodeInfo("vm5")
    assert (vm5["ip"], vm5["mac"], vm5["defaultRoute"]) == ("10.0.2.15/24", "0a:00:00:00:02:05",
                                                            "via 10.0.2.1")
    info = graph.linkInfo("vm5", "hv2")
    assert (info["intfName1"], info["intfName2"]) == ("eth0", "vm5-p")
    hv1_ports = sorted(graph.linkInfo(vm, "hv1")["port2"] for vm in ("vm1", "vm2", "vm6"))
    assert hv1_ports == [1, 2, 3], "VIF ports after the uplink's port 0"


def test_only_prefixed_names_in_the_root_namespace(two_chassis):
    topo, names, graph = two_chassis
    assert names.root_links(topo) == ["mx-ubr", "mx-ubr1", "mx-ubr2"]
    for src, dst, info in graph.links(withInfo=True):
        if "mx-ubr" in (src, dst):
            assert info["intfName2"].startswith("mx-ubr"), "LinuxBridge enslaves ports named after it"
    assert all(len(n) <= 15 for n in names.root_links(topo))
