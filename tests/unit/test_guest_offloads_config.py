"""Topology `offloads` (pure): a VM keeps the kernel's defaults unless the file says
`offloads: false`; anything but a boolean is refused with its location; the VM MTU rule."""
import pytest

from topologies.lab import netns, topology
from topologies.lab.topology import TopologyError

BASE = """\
chassis:
  hv1: {kind: ovnbpf}
switches:
  ls1: {subnet: 10.0.1.0/24, key: 1}
vms:
  vm1: {chassis: hv1, switch: ls1, mac: "0a:00:00:00:01:01", ip: 10.0.1.11, key: 1}
  vm2: {chassis: hv1, switch: ls1, mac: "0a:00:00:00:01:02", ip: 10.0.1.12, key: 2EXTRA}
"""


def test_offloads_default_on_and_off_per_vm():
    t = topology.parse(BASE.replace("EXTRA", ", offloads: false"), "t.yaml")
    assert {v.name: v.offloads for v in t.vms} == {"vm1": True, "vm2": False}
    assert all(v.offloads for v in topology.load("ebpf").vms)


def test_offloads_must_be_boolean():
    with pytest.raises(TopologyError, match=r"t.yaml:7: vms.vm2.offloads: must be true"):
        topology.parse(BASE.replace("EXTRA", ", offloads: sometimes"), "t.yaml")


def test_vm_mtu_is_underlay_minus_geneve():
    assert netns.vm_mtu(1500) == 1442
    assert netns.vm_mtu(9000) == 8942
