"""A topology written in Python with the Topo API: an ovnbpf chassis and an OVS reference
chassis, two logical switches joined by a router, VMS VMs on each switch (one switch's VMs
on each chassis), so routed traffic crosses between eBPF and OVS Geneve both ways.

    .venv/bin/python -m topologies.mininet.routed [--name NAME] [--vms N] [--cli]

Exit status: 0 when pingall loses nothing, 1 otherwise.
"""
import argparse
import os
import sys

from mininet.log import setLogLevel

from .api import LabTopo
from .net import MininetLab

LAB_NAME = "rtd"     # this script's lab: `ovnbpf lab status --name rtd` while it runs


class Routed(LabTopo):
    def build(self, vms=1):
        hv1 = self.addChassis("hv1")                  # ovnbpf
        hv2 = self.addChassis("hv2", kind="ovs")      # ovn-controller + OVS userspace
        ls1 = self.addSwitch("ls1", "10.0.1.0/24")
        ls2 = self.addSwitch("ls2", "10.0.2.0/24")
        self.addRouter("lr1", ls1, ls2)
        for i in range(1, vms + 1):
            self.addVM(f"a{i}", ls1, hv1)
            self.addVM(f"b{i}", ls2, hv2)


TOPOLOGY = Routed()  # for `python -m topologies.mininet.run routed`


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m topologies.mininet.routed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default=LAB_NAME, help=f"lab name (default {LAB_NAME})")
    parser.add_argument("--vms", type=int, default=1, help="VMs per switch (default 1)")
    parser.add_argument("--cli", action="store_true", help="open Mininet's CLI after pingall")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(f"{parser.prog}: must run as root (namespaces, daemons)", file=sys.stderr)
        return 1
    setLogLevel("output")
    with MininetLab(Routed(vms=args.vms), args.name) as lab:
        loss = lab.pingall()
        if args.cli:
            lab.cli()
    print(f"pingall: {loss:.0f}% lost")
    return 0 if loss == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
