"""The pipeline split's configuration, pure: topology `egress_on` (valid values, ovnbpf
chassis only, the shipped split topology), the lab passing it to the controller, and the
chassis that get the egress-done bit (only those advertising it in Chassis.other_config)."""
import pytest

from controller.chassisd import desired as D
from controller.db import rows as R
from topologies.lab import topology
from topologies.lab.topology import TopologyError

BASE = """\
chassis:
  hv1: {kind: KIND, egress_on: MODE}
switches:
  ls1: {subnet: 10.0.1.0/24, key: 1}
vms:
  vm1: {chassis: hv1, switch: ls1, mac: "0a:00:00:00:01:01", ip: 10.0.1.11, key: 1}
"""


def test_egress_on_parses_for_ovnbpf():
    for mode in ("egress", "ingress"):
        t = topology.parse(BASE.replace("KIND", "ovnbpf").replace("MODE", mode), "t.yaml")
        assert t.chassis[0].options["egress_on"] == mode


@pytest.mark.parametrize("kind, mode, message", [
    ("ovnbpf", "sender", r"t.yaml:2: chassis.hv1.egress_on: must be one of: egress, ingress"),
    ("ovs", "ingress", r"t.yaml:2: chassis.hv1.egress_on: only an ovnbpf chassis"),
])
def test_egress_on_rejected_with_location(kind, mode, message):
    with pytest.raises(TopologyError, match=message):
        topology.parse(BASE.replace("KIND", kind).replace("MODE", mode), "t.yaml")


def test_shipped_split_topology_and_lab_plan():
    t = topology.load("split")
    assert {c.name: (c.kind, c.options.get("egress_on")) for c in t.chassis} == {
        "hv1": ("ovnbpf", "ingress"), "hv2": ("ovnbpf", "ingress"), "hv3": ("ovnbpf", "ingress")}
    import ipaddress
    from topologies.lab.lab import Plan
    plan = Plan("sp0", t, ipaddress.IPv4Network("172.31.254.0/24"))
    assert {n.name: n.egress_on for n in plan.chassis_nodes("tcp:x")} == \
        {"hv1": "ingress", "hv2": "ingress", "hv3": "ingress"}


def test_egress_done_only_toward_advertising_chassis():
    ebpf = ((R.EGRESS_DONE_FEATURE, "true"),)
    chassis = (R.Chassis("c1", "hv1", "hv1", (R.Encap("geneve", "172.31.250.11"),), ebpf),
               R.Chassis("c2", "hv2", "hv2", (R.Encap("geneve", "172.31.250.12"),)),   # OVS
               R.Chassis("c3", "hv3", "hv3", (R.Encap("geneve", "172.31.250.13"),), ebpf))
    state = R.SBState(chassis=chassis, datapaths=(), ports=(), mcast_groups=())
    ids = D.ChassisIds()
    want = D.compute(state, "hv1", {}, ids)
    assert set(want.tunnels) == {ids.ids["hv2"], ids.ids["hv3"]}
    assert want.egress_done == {ids.ids["hv3"]}


def test_egress_done_honoured_only_from_chassis_that_send_it():
    """Trust needs both sides: the peer says it sends the bit (ingress mode) and our own
    row says we accept it. An ovnbpf peer in egress mode, or an OVS one, is not trusted."""
    accepts = (R.EGRESS_DONE_FEATURE, "true")
    sends = (R.EGRESS_DONE_SENDS, "true")

    def chassis(me_accepts):
        return (R.Chassis("c1", "hv1", "hv1", (R.Encap("geneve", "172.31.250.11"),),
                          (accepts,) if me_accepts else ()),
                R.Chassis("c2", "hv2", "hv2", (R.Encap("geneve", "172.31.250.12"),)),
                R.Chassis("c3", "hv3", "hv3", (R.Encap("geneve", "172.31.250.13"),),
                          (accepts, sends)),
                R.Chassis("c4", "hv4", "hv4", (R.Encap("geneve", "172.31.250.14"),), (accepts,)))
    ids = D.ChassisIds()
    want = D.compute(R.SBState(chassis=chassis(True), datapaths=(), ports=(), mcast_groups=()),
                     "hv1", {}, ids)
    assert want.egress_done_trusted == {ids.ids["hv3"]}
    want = D.compute(R.SBState(chassis=chassis(False), datapaths=(), ports=(), mcast_groups=()),
                     "hv1", {}, ids)
    assert want.egress_done_trusted == frozenset()
