"""Bring a topology up on Mininet, run pingall among its VM hosts, tear it down.

    .venv/bin/python -m topologies.mininet.run two_chassis            # or three_chassis, mixed_kinds, routed
    .venv/bin/python -m topologies.mininet.run topologies/two-chassis.yaml --name mn2 --cli

Exit status: 0 when pingall loses nothing, 1 when it loses packets or bring-up fails.
"""
import argparse
import importlib
import os
import sys

from mininet.log import setLogLevel

from topologies.lab.lab import LabError
from topologies.lab.proc import CommandError
from topologies.lab.topology import TopologyError

from .net import DEFAULT_NAME, MininetLab

SCRIPTS = ("two_chassis", "three_chassis", "mixed_kinds", "routed")


def resolve(ref):
    """(topology, default lab name): a script of this package names both (TOPOLOGY, a
    file or a LabTopo, and LAB_NAME, so two scripts' labs never share a name); a topology
    name or YAML path gets the default name."""
    if ref in SCRIPTS:
        script = importlib.import_module(f"{__package__}.{ref}")
        return script.TOPOLOGY, getattr(script, "LAB_NAME", DEFAULT_NAME)
    return ref, DEFAULT_NAME


def main(argv=None, lab_name=None):
    """`lab_name`: the calling script's lab name (the default of --name)."""
    parser = argparse.ArgumentParser(prog="python -m topologies.mininet.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("topology", help=f"one of {', '.join(SCRIPTS)}, a topology name or a YAML path")
    parser.add_argument("--name", help=f"lab name (default: the script's, else {DEFAULT_NAME})")
    parser.add_argument("--cli", action="store_true", help="open Mininet's CLI after pingall")
    parser.add_argument("--verbose", action="store_true", help="Mininet's own progress lines")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("topologies.mininet.run: must run as root (namespaces, daemons)", file=sys.stderr)
        return 1
    setLogLevel("info" if args.verbose else "output")
    try:
        topo, default_name = resolve(args.topology)
        with MininetLab(topo, args.name or lab_name or default_name) as lab:
            loss = lab.pingall()
            if args.cli:
                lab.cli()
    except (LabError, TopologyError, CommandError, TimeoutError) as e:
        print(f"topologies.mininet.run: error: {e}", file=sys.stderr)
        return 1
    print(f"pingall: {loss:.0f}% lost")
    return 0 if loss == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
