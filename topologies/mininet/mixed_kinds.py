"""Mixed chassis kinds: hv1 and hv3 run ovnbpf, hv2 runs the OVS reference, so unicast,
routed and broadcast traffic crosses between eBPF and OVS Geneve both ways (mixed.yaml).

    .venv/bin/python -m topologies.mininet.mixed_kinds [--name N] [--cli]
"""
import sys
from pathlib import Path

TOPOLOGY = str(Path(__file__).with_name("mixed.yaml"))
LAB_NAME = "mnmix"      # this script's lab (--name overrides)

if __name__ == "__main__":
    from .run import main
    sys.exit(main([TOPOLOGY, *sys.argv[1:]], lab_name=LAB_NAME))
