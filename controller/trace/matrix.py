"""The differential test matrix of a deployment, read from its Southbound.

For every VM port (a bound VIF with "MAC IP" in Port_Binding.mac): a packet to every other
VM (L2 on the same switch, routed through the switch's router otherwise), a broadcast
ARP for an unknown IP, ARP for the router IP, ICMP echo to the router IP, TTL=1 through
the router, a routed packet to an address no MAC_Binding knows (the router ARPs for it),
an unknown destination MAC, and a spoofed source MAC.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["Case", "Vm", "vms_of", "lab_matrix", "Vm6", "vms6_of", "lab_matrix6"]


@dataclass(frozen=True)
class Vm:
    port: str
    switch: str
    chassis: str | None
    mac: str
    ip: str
    gw_mac: str | None        # the router port facing this VM's switch
    gw_ip: str | None


@dataclass(frozen=True)
class Case:
    name: str
    datapath: str
    microflow: str
    kind: str                 # l2, routed, bcast_arp, arp_router, ping_router, ttl1, arp_resolve,
                              # unknown_mac, spoof


def _mac_ip(port):
    for entry in port.mac:
        parts = entry.split()
        if len(parts) >= 2:
            return parts[0], parts[1].split("/")[0]
    return None, None


def _vm_ports(state, address):
    """(port, switch name, mac, ip, gateway mac, gateway ip) of each VM port that has an
    address `address(port)` picks, the gateway being the router port facing its switch."""
    dps = state.datapath_by_uuid()
    by_name = {p.logical_port: p for p in state.ports}
    gateway = {}                  # switch dp uuid -> (mac, ip) of the router port facing it
    for p in state.ports:
        if p.type in ("patch", "router") and not dps[p.datapath].is_router:
            peer = by_name.get(p.option("peer", "")) or by_name.get(p.option("router-port", ""))
            if peer is not None:
                gateway[p.datapath] = address(peer)
    for p in sorted(state.ports, key=lambda p: p.logical_port):
        if p.type != "" or dps[p.datapath].is_router:
            continue
        mac, ip = address(p)
        if mac is not None:
            yield (p, dps[p.datapath].name, mac, ip, *gateway.get(p.datapath, (None, None)))


def vms_of(state) -> list[Vm]:
    return [Vm(p.logical_port, switch, p.chassis, mac, ip, gw_mac, gw_ip)
            for p, switch, mac, ip, gw_mac, gw_ip in _vm_ports(state, _mac_ip)]


def _unused_ip(vm: Vm, taken: set) -> str:
    net = ipaddress.ip_network(f"{vm.ip}/24", strict=False)
    return str(next(h for h in reversed(list(net.hosts())) if str(h) not in taken))


def lab_matrix(state) -> list[Case]:
    vms = vms_of(state)
    taken = {v.ip for v in vms} | {v.gw_ip for v in vms if v.gw_ip}
    cases = []
    for a in vms:
        src = f'inport == "{a.port}" && eth.src == {a.mac}'
        for b in vms:
            if b is a:
                continue
            l4 = f"ip4.src == {a.ip} && ip4.dst == {b.ip} && ip.ttl == 64 && icmp4.type == 8"
            if b.switch == a.switch:
                cases.append(Case(f"{a.port}->{b.port}", a.switch, f"{src} && eth.dst == {b.mac} && {l4}", "l2"))
            elif a.gw_mac:
                cases.append(Case(f"{a.port}->{b.port} routed", a.switch,
                                  f"{src} && eth.dst == {a.gw_mac} && {l4}", "routed"))
        arp = f"{src} && eth.dst == ff:ff:ff:ff:ff:ff && arp.op == 1 && arp.sha == {a.mac} && arp.spa == {a.ip}"
        cases.append(Case(f"{a.port} broadcast ARP", a.switch, f"{arp} && arp.tpa == {_unused_ip(a, taken)}", "bcast_arp"))
        if a.gw_mac:
            cases.append(Case(f"{a.port} ARP for the router", a.switch, f"{arp} && arp.tpa == {a.gw_ip}", "arp_router"))
            cases.append(Case(f"{a.port} ping the router", a.switch,
                              f"{src} && eth.dst == {a.gw_mac} && ip4.src == {a.ip} && ip4.dst == {a.gw_ip} "
                              "&& ip.ttl == 64 && icmp4.type == 8", "ping_router"))
            far = next((b for b in vms if b.switch != a.switch), None)
            if far is not None:
                cases.append(Case(f"{a.port} TTL=1 through the router", a.switch,
                                  f"{src} && eth.dst == {a.gw_mac} && ip4.src == {a.ip} && ip4.dst == {far.ip} "
                                  "&& ip.ttl == 1 && icmp4.type == 8", "ttl1"))
                cases.append(Case(f"{a.port} to an unresolved next hop", a.switch,
                                  f"{src} && eth.dst == {a.gw_mac} && ip4.src == {a.ip} && "
                                  f"ip4.dst == {_unused_ip(far, taken)} && ip.ttl == 64 && icmp4.type == 8",
                                  "arp_resolve"))
        peer = next((b for b in vms if b.switch == a.switch and b is not a), None)
        if peer is not None:
            l4 = f"ip4.src == {a.ip} && ip4.dst == {peer.ip} && ip.ttl == 64 && icmp4.type == 8"
            cases.append(Case(f"{a.port} unknown destination MAC", a.switch,
                              f"{src} && eth.dst == 0a:ee:ee:ee:ee:ee && {l4}", "unknown_mac"))
            cases.append(Case(f"{a.port} spoofed source MAC", a.switch,
                              f'inport == "{a.port}" && eth.src == 0a:dd:dd:dd:dd:dd && '
                              f"eth.dst == {peer.mac} && {l4}", "spoof"))
    return cases


# ---- IPv6 (dual-stack labs) ------------------------------------------------------------

@dataclass(frozen=True)
class Vm6:
    port: str
    switch: str
    mac: str
    ip6: str
    gw_mac: str | None
    gw_ip6: str | None


def _mac_ip6(port):
    for entry in port.mac:
        parts = entry.split()
        for p in parts[1:]:
            addr = ipaddress.ip_interface(p).ip
            if addr.version == 6 and not addr.is_link_local:
                return parts[0], str(addr)
    return None, None


def vms6_of(state) -> list[Vm6]:
    """The VMs with a global IPv6 address in Port_Binding.mac ("MAC IP4 IP6")."""
    return [Vm6(p.logical_port, switch, mac, ip6, gw_mac, gw_ip6)
            for p, switch, mac, ip6, gw_mac, gw_ip6 in _vm_ports(state, _mac_ip6)]


def _solicited(ip6: str) -> tuple[str, str]:
    """(solicited-node multicast address, its Ethernet address) of `ip6`."""
    low = int(ipaddress.IPv6Address(ip6)) & 0xFFFFFF
    addr = ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low)
    mac = "33:33:" + ":".join(f"{b:02x}" for b in addr.packed[12:])
    return str(addr), mac


def _unused_ip6(vm: Vm6, taken: set) -> str:
    net = ipaddress.ip_network(f"{vm.ip6}/64", strict=False)
    return str(next(str(net[n]) for n in range(0x99, 0x200) if str(net[n]) not in taken))


def lab_matrix6(state) -> list[Case]:
    """The v6 matrix: echo to every other VM (same switch, routed), a neighbour
    solicitation for a peer (the switch's ND responder) and for the router (nd_na_router),
    one for an address nobody owns (multicast, flooded), echo to the router, hop limit 1
    through the router (ICMPv6 time exceeded), a routed packet to an unresolved address
    (the router's nd_ns)."""
    vms = vms6_of(state)
    taken = {v.ip6 for v in vms} | {v.gw_ip6 for v in vms if v.gw_ip6}
    cases = []
    for a in vms:
        src = f'inport == "{a.port}" && eth.src == {a.mac}'

        def echo(dst_mac, dst_ip, ttl=64):
            return (f"{src} && eth.dst == {dst_mac} && ip6.src == {a.ip6} && ip6.dst == {dst_ip} "
                    f"&& ip.ttl == {ttl} && icmp6.type == 128 && icmp6.code == 0")

        def ns(target):
            group, gmac = _solicited(target)
            return (f"{src} && eth.dst == {gmac} && ip6.src == {a.ip6} && ip6.dst == {group} && "
                    f"ip.ttl == 255 && icmp6.type == 135 && icmp6.code == 0 && nd.target == {target} "
                    f"&& nd.sll == {a.mac}")
        for b in vms:
            if b is a:
                continue
            if b.switch == a.switch:
                cases.append(Case(f"{a.port}->{b.port} v6", a.switch, echo(b.mac, b.ip6), "l2_6"))
            elif a.gw_mac and a.gw_ip6:
                cases.append(Case(f"{a.port}->{b.port} v6 routed", a.switch, echo(a.gw_mac, b.ip6), "routed6"))
        peer = next((b for b in vms if b.switch == a.switch and b is not a), None)
        if peer is not None:
            cases.append(Case(f"{a.port} ND for {peer.port}", a.switch, ns(peer.ip6), "nd_peer"))
        cases.append(Case(f"{a.port} ND for an unknown address", a.switch, ns(_unused_ip6(a, taken)), "nd_mcast"))
        if a.gw_mac and a.gw_ip6:
            cases.append(Case(f"{a.port} ND for the router", a.switch, ns(a.gw_ip6), "nd_router"))
            cases.append(Case(f"{a.port} ping6 the router", a.switch, echo(a.gw_mac, a.gw_ip6), "ping6_router"))
            far = next((b for b in vms if b.switch != a.switch), None)
            if far is not None:
                cases.append(Case(f"{a.port} hop limit 1 through the router", a.switch,
                                  echo(a.gw_mac, far.ip6, ttl=1), "ttl1_6"))
                cases.append(Case(f"{a.port} v6 to an unresolved next hop", a.switch,
                                  echo(a.gw_mac, _unused_ip6(far, taken)), "nd_resolve"))
    return cases
