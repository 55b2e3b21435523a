"""Mininet versions of the lab topologies: chassis and VMs as Mininet hosts, the underlay as
a Mininet LinuxBridge, no OpenFlow controller; OVN itself comes from topologies/lab.

A topology is a lab YAML file or a `LabTopo` built in Python (README.md here):

    from topologies.mininet import LabTopo, MininetLab

Run from the project root:  .venv/bin/python -m topologies.mininet.run two_chassis
"""
from .api import LabTopo, TopologyError
from .net import MininetLab

__all__ = ["LabTopo", "MininetLab", "TopologyError"]
