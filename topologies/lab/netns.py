"""Network namespaces, veth pairs and the underlay, through iproute2.

Every name we create is recorded by the caller *before* creation (see lab.State), so
teardown finds it even when bring-up crashed half way.
"""
from .proc import CommandError, run


def netns_list():
    out = run(["ip", "netns", "list"])
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def netns_add(name, guest=False):
    """A namespace; a `guest` (a VM) keeps the kernel's defaults, IPv6 included. A chassis
    (a hypervisor whose underlay is IPv4) has IPv6 off: no RS/DAD/MLD on the underlay."""
    run(["ip", "netns", "add", name])
    run(["ip", "link", "set", "lo", "up"], netns=name)
    if not guest:
        run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
             "net.ipv6.conf.default.disable_ipv6=1"], netns=name)


def netns_del(name):
    run(["ip", "netns", "del", name], check=False)


def link_exists(name, netns=None):
    try:
        run(["ip", "link", "show", "dev", name], netns=netns)
        return True
    except CommandError:
        return False


def link_del(name, netns=None):
    run(["ip", "link", "del", "dev", name], netns=netns, check=False)


def veth_pair(name, peer, netns=None, peer_netns=None):
    """Create veth `name` (in netns) <-> `peer` (in peer_netns); None = root namespace."""
    argv = ["ip", "link", "add", name]
    if netns:
        argv += ["netns", netns]
    argv += ["type", "veth", "peer", "name", peer]
    if peer_netns:
        argv += ["netns", peer_netns]
    run(argv)


# Geneve as OVN sends it over an IPv4 underlay: outer Ethernet 14 + IPv4 20 + UDP 8 +
# Geneve 8 + OVN's option 8. OVN documents the VM MTU as the underlay's minus this.
GENEVE_OVERHEAD = 58


def vm_mtu(underlay_mtu):
    return underlay_mtu - GENEVE_OVERHEAD


def tx_checksum_off(dev, netns=None):
    """Locally generated packets leave veths/bridges with CHECKSUM_PARTIAL; userspace readers
    (OVS netdev over AF_PACKET) forward them with a bad checksum. Fill checksums in software.
    Only for the underlay's own traffic that an OVS reference chassis reads (the SB's
    replies, through the bridge): never for a guest."""
    run(["ethtool", "-K", dev, "tx", "off"], netns=netns)


def offloads_off(dev, netns=None):
    """A guest that asked for no offloads (topology `offloads: false`)."""
    run(["ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off"], netns=netns)


class BridgeUnderlay:
    """The underlay as a Linux bridge in the root namespace (simple; ~0.7 Mpps here).

    The interface other underlays must offer: create(), attach(host_dev), destroy(), and
    `gateway_ip` (the root-side address chassis use to reach the SB)."""

    def __init__(self, name, gateway_ip, prefixlen):
        self.name = name
        self.gateway_ip = gateway_ip
        self.prefixlen = prefixlen

    def create(self):
        run(["ip", "link", "add", self.name, "type", "bridge"])
        run(["ip", "addr", "add", f"{self.gateway_ip}/{self.prefixlen}", "dev", self.name])
        run(["sysctl", "-qw", f"net.ipv6.conf.{self.name}.disable_ipv6=1"])
        run(["ip", "link", "set", self.name, "up"])
        tx_checksum_off(self.name)

    def attach(self, dev, reference=False):
        run(["ip", "link", "set", dev, "master", self.name, "up"])
        if reference:
            tx_checksum_off(dev)

    def destroy(self):
        link_del(self.name)
