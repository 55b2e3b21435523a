"""Three OVS reference chassis (vm7 on hv3: an ls1 broadcast reaches two remote chassis):
topologies/three-chassis.yaml on Mininet.

    .venv/bin/python -m topologies.mininet.three_chassis [--name N] [--cli]
"""
import sys

from topologies.lab.topology import TOPOLOGY_DIR

TOPOLOGY = str(TOPOLOGY_DIR / "three-chassis.yaml")
LAB_NAME = "mn3"      # this script's lab (--name overrides)

if __name__ == "__main__":
    from .run import main
    sys.exit(main([TOPOLOGY, *sys.argv[1:]], lab_name=LAB_NAME))
