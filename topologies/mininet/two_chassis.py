"""Two OVS reference chassis, ls1 + ls2 + lr1, six VMs: topologies/two-chassis.yaml on Mininet.

    .venv/bin/python -m topologies.mininet.two_chassis [--name N] [--cli]
"""
import sys

from topologies.lab.topology import TOPOLOGY_DIR

TOPOLOGY = str(TOPOLOGY_DIR / "two-chassis.yaml")
LAB_NAME = "mn2"      # this script's lab (--name overrides)

if __name__ == "__main__":
    from .run import main
    sys.exit(main([TOPOLOGY, *sys.argv[1:]], lab_name=LAB_NAME))
