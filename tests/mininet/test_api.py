"""The Mininet Topo API (topologies.mininet.api.LabTopo): pure, no root."""
import ipaddress

import pytest

from topologies.lab.lab import Plan
from topologies.mininet import LabTopo, TopologyError
from topologies.mininet.routed import Routed
from topologies.mininet.topo import Names, OvnTopo


def test_script_topology_parses_with_derived_keys_and_addresses():
    topo = Routed(vms=2).topology()
    assert [(c.name, c.kind) for c in topo.chassis] == [("hv1", "ovnbpf"), ("hv2", "ovs")]
    assert [(s.name, s.key, str(s.subnet)) for s in topo.switches] == [
        ("ls1", 1, "10.0.1.0/24"), ("ls2", 2, "10.0.2.0/24")]
    [lr1] = topo.routers
    assert lr1.key == 3
    assert [(p.switch, p.mac, str(p.ip)) for p in lr1.ports] == [
        ("ls1", "02:00:00:00:01:01", "10.0.1.1/24"), ("ls2", "02:00:00:00:02:01", "10.0.2.1/24")]
    vms = {v.name: v for v in topo.vms}
    assert sorted(vms) == ["a1", "a2", "b1", "b2"]
    assert (vms["b2"].chassis, vms["b2"].mac, str(vms["b2"].ip.ip), vms["b2"].key) == (
        "hv2", "0a:00:00:00:02:02", "10.0.2.12", 2)
    assert str(vms["a1"].gateway) == "10.0.1.1"


def test_given_values_win_and_dual_stack():
    class T(LabTopo):
        def build(self):
            self.addChassis("hv1")
            self.addSwitch("sw", "192.168.5.0/24", subnet6="fd00:5::/64", key=7)
            self.addRouter("r", "sw")
            self.addVM("vm", "sw", "hv1", mac="0a:11:22:33:44:55", ip="192.168.5.99", offloads=False)

    topo = T(name="mine").topology()
    assert topo.name == "mine"
    [sw], [vm] = topo.switches, topo.vms
    assert sw.key == 7 and topo.routers[0].key == 1
    assert (vm.mac, str(vm.ip.ip), str(vm.ip6.ip)) == ("0a:11:22:33:44:55", "192.168.5.99", "fd00:5::b")
    assert vm.offloads is False


@pytest.mark.parametrize("build, message", [
    (lambda t: t.addVM("vm1", "nosw", "hv1"), "VM 'vm1': no switch 'nosw'"),
    (lambda t: (t.addSwitch("s", "10.0.0.0/24"), t.addVM("vm1", "s", "hvx")), "no chassis 'hvx'"),
    (lambda t: t.addChassis("hv9", kind="xen"), "kind must be one of ovnbpf, ovs"),
    (lambda t: t.addSwitch("hv1", "10.0.0.0/24"), "switch 'hv1': the name is taken already"),
    (lambda t: t.addRouter("r", "nosw"), "router 'r': no switch 'nosw'"),
])
def test_mistakes_are_named_when_added(build, message):
    class T(LabTopo):
        def build(self):
            self.addChassis("hv1")
            build(self)

    with pytest.raises(TopologyError, match=message):
        T()


def test_lab_checks_still_apply_to_a_script():
    class T(LabTopo):
        def build(self):
            self.addChassis("hv1")
            self.addSwitch("s", "10.0.0.0/24")
            self.addVM("vm1", "s", "hv1", ip="10.9.9.9")

    with pytest.raises(TopologyError, match="10.9.9.9"):
        T().topology()


def test_the_mininet_graph_of_a_script():
    topo = Routed().topology()
    graph = OvnTopo(topo, Names(Plan("v1", topo, ipaddress.IPv4Network("172.31.240.0/24"))))
    assert sorted(graph.hosts()) == ["a1", "b1", "hv1", "hv2"]
    assert graph.linkInfo("b1", "hv2")["intfName2"] == "b1-p"


def test_each_script_names_its_own_lab():
    from topologies.mininet import run
    names = {}
    for script in run.SCRIPTS:
        topo, names[script] = run.resolve(script)
        assert isinstance(topo, (str, LabTopo))
    assert names == {"two_chassis": "mn2", "three_chassis": "mn3", "mixed_kinds": "mnmix",
                     "routed": "rtd"}
    assert isinstance(run.resolve("routed")[0], Routed)
    assert run.resolve("topologies/two-chassis.yaml") == ("topologies/two-chassis.yaml", "mn")
