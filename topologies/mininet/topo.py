"""A lab topology (topologies/lab/topology.py) as a Mininet Topo: a pure graph of hosts,
one switch and links, with every kernel-visible name chosen here.

Mininet makes a veth pair inside the namespace of its first node and puts the peer
straight into the second's, so names only need to be unique per namespace; the only names
in the root namespace are the underlay bridge and its ports.
"""
from mininet.nodelib import LinuxBridge
from mininet.topo import Topo

from topologies.lab.chassis import UPLINK, uplink_mac

VM_DEV = "eth0"            # the VM's side of its veth, as in the namespace lab


class Names:
    """Names and addresses of one Mininet lab; the rest comes from topologies.lab.lab.Plan."""

    def __init__(self, plan):
        self.plan = plan

    @property
    def bridge(self):
        return self.plan.bridge

    def bridge_port(self, index):
        # LinuxBridge.start enslaves only the interfaces whose name contains the bridge's
        return f"{self.plan.bridge}{index + 1}"

    def vif(self, vm_name):
        return f"{vm_name}-p"

    def root_links(self, topo):
        return [self.bridge] + [self.bridge_port(i) for i in range(len(topo.chassis))]


class OvnTopo(Topo):
    """Chassis hosts on one underlay LinuxBridge; each VM host on a veth to its chassis host.

    Chassis hosts get no IP from Mininet: the encap IP belongs to the chassis kind (br-phy
    for OVS, the uplink for ovnbpf). VM hosts get their MAC, IP and default gateway."""

    def build(self, topo, names):
        bridge = self.addSwitch(names.bridge, cls=LinuxBridge, dpid="1")
        vif_ports = {}
        for i, chassis in enumerate(topo.chassis):
            # port 0: the uplink is the default interface, so `mac` lands on it
            self.addHost(chassis.name, ip=None, mac=uplink_mac(names.plan.encap_ip(i)))
            self.addLink(chassis.name, bridge, port1=0, intfName1=UPLINK,
                         intfName2=names.bridge_port(i))
            vif_ports[chassis.name] = 1
        for vm in topo.vms:
            route = f"via {vm.gateway}" if vm.gateway else None
            self.addHost(vm.name, ip=str(vm.ip), mac=vm.mac, defaultRoute=route)
            self.addLink(vm.name, vm.chassis, port1=0, port2=vif_ports[vm.chassis],
                         intfName1=VM_DEV, intfName2=names.vif(vm.name))
            vif_ports[vm.chassis] += 1
