"""Mininet versions of the lab topologies: chassis and VMs as Mininet hosts, the underlay as
a Mininet LinuxBridge, no OpenFlow controller; OVN itself comes from topologies/lab.

Run from the project root:  .venv/bin/python -m topologies.mininet.run two-chassis
"""
