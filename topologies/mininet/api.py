"""Topologies in Python, as Mininet users write them: subclass `LabTopo`, add chassis,
logical switches, routers and VMs in `build()`, hand an instance to `MininetLab`.

    from topologies.mininet import MininetLab, LabTopo

    class Routed(LabTopo):
        def build(self, vms=1):
            hv1 = self.addChassis("hv1")                  # an ovnbpf chassis
            hv2 = self.addChassis("hv2", kind="ovs")      # the OVS reference
            ls1 = self.addSwitch("ls1", "10.0.1.0/24")
            ls2 = self.addSwitch("ls2", "10.0.2.0/24")
            self.addRouter("lr1", ls1, ls2)
            for i in range(vms):
                self.addVM(f"a{i}", ls1, hv1)
                self.addVM(f"b{i}", ls2, hv2)

    with MininetLab(Routed(vms=2), name="v1") as lab:
        assert lab.pingall() == 0

What is not given is derived: tunnel keys (switches 1.., routers after them, ports per
switch), router port MACs `02:00:00:00:SS:01` and the subnet's first address, VM MACs
`0a:00:00:00:SS:NN` and addresses from `.11` up (SS: the switch's key, NN: the VM's key).
The result is a lab topology (topologies/README.md): `yaml()` is its file text, and the
lab keeps that file in its run directory, so `ovnbpf lab status/exec/down --name NAME`
work on a lab made from a script as on any other. Mistakes (an unknown switch, a VM
outside its subnet, a duplicate name) raise `TopologyError` when added or at `topology()`.
"""
from __future__ import annotations

import ipaddress

import yaml

from topologies.lab import topology as lab_topology
from topologies.lab.topology import TopologyError

__all__ = ["LabTopo", "TopologyError"]

KINDS = ("ovnbpf", "ovs")


class LabTopo:
    """An OVN lab topology built in Python. `build(**opts)` is yours to override; the
    constructor calls it with the keyword arguments it was given (as mininet.topo.Topo)."""

    def __init__(self, name: str | None = None, sb_cluster: int = 1, **opts):
        self.name = name or type(self).__name__.lower()
        self.sb_cluster = sb_cluster
        self.chassis: dict[str, dict] = {}
        self.switches: dict[str, dict] = {}
        self.routers: dict[str, dict] = {}
        self.vms: dict[str, dict] = {}
        self._vm_count: dict[str, int] = {}
        self.build(**opts)

    def build(self, **opts):
        """Add the topology's parts here (a subclass' job)."""

    # -- parts ----------------------------------------------------------------------------

    def _new(self, name, kind):
        taken = [n for n in (*self.chassis, *self.switches, *self.routers, *self.vms) if n == name]
        if taken:
            raise TopologyError(f"{kind} {name!r}: the name is taken already")

    def addChassis(self, name: str, kind: str = "ovnbpf", egress_on: str | None = None) -> str:
        """A hypervisor: `kind` "ovnbpf" (this project's controller) or "ovs" (ovn-controller
        + OVS userspace, the reference). Returns its name."""
        self._new(name, "chassis")
        if kind not in KINDS:
            raise TopologyError(f"chassis {name!r}: kind must be one of {', '.join(KINDS)}")
        self.chassis[name] = {"kind": kind, **({"egress_on": egress_on} if egress_on else {})}
        return name

    def addSwitch(self, name: str, subnet: str, subnet6: str | None = None,
                  key: int | None = None) -> str:
        """A logical switch with its IPv4 subnet (and optional IPv6 one). Returns its name."""
        self._new(name, "switch")
        ipaddress.IPv4Network(subnet)
        spec = {"subnet": subnet, "key": key or self._next_dp_key()}
        if subnet6:
            spec["subnet6"] = subnet6
        self.switches[name] = spec
        return name

    def addRouter(self, name: str, *switches: str, key: int | None = None) -> str:
        """A logical router with one port on each switch given, at the switch's first
        address (the VMs' default gateway). Returns its name."""
        self._new(name, "router")
        ports = {}
        for sw in switches:
            spec = self._switch(sw, f"router {name!r}")
            net = ipaddress.IPv4Network(spec["subnet"])
            port = {"switch": sw, "mac": f"02:00:00:00:{spec['key'] & 0xFF:02x}:01",
                    "ip": f"{net.network_address + 1}/{net.prefixlen}", "key": len(ports) + 1}
            if "subnet6" in spec:
                net6 = ipaddress.IPv6Network(spec["subnet6"])
                port["ip6"] = f"{net6.network_address + 1}/{net6.prefixlen}"
            ports[f"lrp-{sw}"] = port
        self.routers[name] = {"key": key or self._next_dp_key(), "ports": ports}
        return name

    def addVM(self, name: str, switch: str, chassis: str, mac: str | None = None,
              ip: str | None = None, ip6: str | None = None, offloads: bool = True) -> str:
        """A VM (a Mininet host) on `chassis`, plugged into logical switch `switch`."""
        self._new(name, "VM")
        spec = self._switch(switch, f"VM {name!r}")
        if chassis not in self.chassis:
            raise TopologyError(f"VM {name!r}: no chassis {chassis!r} (add it with addChassis)")
        n = self._vm_count[switch] = self._vm_count.get(switch, 0) + 1
        net = ipaddress.IPv4Network(spec["subnet"])
        vm = {"chassis": chassis, "switch": switch,
              "mac": mac or f"0a:00:00:00:{spec['key'] & 0xFF:02x}:{n & 0xFF:02x}",
              "ip": ip or str(net.network_address + 10 + n), "key": n}
        if ip6 or "subnet6" in spec:
            vm["ip6"] = ip6 or str(ipaddress.IPv6Network(spec["subnet6"]).network_address + 10 + n)
        if not offloads:
            vm["offloads"] = False
        self.vms[name] = vm
        return name

    def _switch(self, name, who):
        if name not in self.switches:
            raise TopologyError(f"{who}: no switch {name!r} (add it with addSwitch first)")
        return self.switches[name]

    def _next_dp_key(self):
        used = {s["key"] for s in self.switches.values()} | {r["key"] for r in self.routers.values()}
        return next(k for k in range(1, 1 << 24) if k not in used)

    # -- the result -----------------------------------------------------------------------

    def yaml(self) -> str:
        """The lab topology file this builds (topologies/README.md's format)."""
        doc = {"name": self.name, "sb_cluster": self.sb_cluster, "chassis": self.chassis,
               "switches": self.switches, "vms": self.vms}
        if self.routers:
            doc["routers"] = self.routers
        return yaml.safe_dump(doc, sort_keys=False)

    def topology(self, source: str = "<LabTopo>"):
        """The parsed, checked topology (topologies.lab.topology.Topology)."""
        return lab_topology.parse(self.yaml(), source)
