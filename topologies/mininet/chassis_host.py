"""The per-link steps of topologies/lab/chassis.py, for links that Mininet made.

ChassisNode.create_namespace and ChassisNode.add_vif create their veths themselves and then
prepare them for the chassis kind; here Mininet has created the veths, so only the
preparation is repeated. Keep this in step with chassis.py (or, better, have chassis.py
expose these steps; see the report of the Mininet work).
"""
from topologies.lab import netns
from topologies.lab.chassis import UPLINK
from topologies.lab.proc import run

from .topo import VM_DEV


def prepare_uplink(node, root_dev):
    """The chassis' uplink and its root-side peer `root_dev`, already on the underlay bridge."""
    netns.tx_checksum_off(UPLINK, node.netns)
    netns.tx_checksum_off(root_dev)
    node.run(["ip", "link", "set", UPLINK, "up"])
    if node.kind == "ovnbpf":
        # XDP redirects Geneve frames out of the uplink: a veth accepts them only when its
        # peer has NAPI (GRO on, or an XDP program), and the kernel marks the uplink as a
        # redirect target only if GRO is switched on while the peer is up
        run(["ip", "link", "set", root_dev, "up"])
        run(["ethtool", "-K", root_dev, "gro", "on"])


def plug_vif(node, vm, dev, vm_netns):
    """Record the VM's veth end `dev` on br-int with its logical port as iface-id."""
    netns.tx_checksum_off(dev, node.netns)
    node.run(["ip", "link", "set", dev, "up"])
    # frames XDP redirects into `dev` arrive on the VM's side: it needs NAPI (GRO), and
    # switching GRO on while that side is up is what marks `dev` as a redirect target
    run(["ip", "link", "set", VM_DEV, "up"], netns=vm_netns)
    run(["ethtool", "-K", VM_DEV, "gro", "on"], netns=vm_netns)
    node.vsctl("add-port", "br-int", dev, "--", "set", "Interface", dev,
               f"external_ids:iface-id={vm.port}")
