"""Packet fields <-> Ethernet frames (scapy), in the field vocabulary of fields.py.

`build_frame` makes the frame a microflow describes; `frame_fields` reads a delivered
frame back into fields so that the two can be diffed. Both follow the datapath's view
(bpf/lib/flow.h): vlan.tci carries 0x1000 (OVS's CFI = "present") when tagged, a later
fragment has no L4 header, ND options appear only when their address is non-zero.
"""
from __future__ import annotations

import ipaddress

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import DHCP6_Solicit, DHCP6OptClientId, DHCP6OptIA_NA, DUID_LL
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptSrcLLAddr, ICMPv6Unknown, IPv6, IPv6ExtHdrFragment)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.layers.sctp import SCTP
from scapy.packet import Padding, Raw

from .fields import PACKET_FIELDS

__all__ = ["build_frame", "frame_fields", "MIN_FRAME"]

MIN_FRAME = 60          # Ethernet minimum without FCS: shorter frames are padded
ETH_IP4, ETH_IP6, ETH_ARP, ETH_RARP, ETH_VLAN = 0x0800, 0x86DD, 0x0806, 0x8035, 0x8100
CFI = 0x1000


def _mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def _ip4(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _ip6(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


def _l4(f: dict, v6: bool):
    proto = f["ip.proto"]
    if f["ip.frag"] & 2:          # a later fragment carries no L4 header
        return Raw(b"\x00" * 8)
    if proto == 6:
        return TCP(sport=f["tcp.src"], dport=f["tcp.dst"], flags=f["tcp.flags"], window=0)
    if proto == 17 and not v6 and (f["tcp.src"], f["tcp.dst"]) == (68, 67):
        # a DHCPDISCOVER, as ovn-trace assumes: put_dhcp_opts needs a real request
        return (UDP(sport=68, dport=67) / BOOTP(chaddr=_mac_int(_mac(f["eth.src"])).to_bytes(6, "big"))
                / DHCP(options=[("message-type", "discover"), "end"]))
    if proto == 17 and v6 and (f["tcp.src"], f["tcp.dst"]) == (546, 547):
        # a SOLICIT with a client id and an IA_NA: what put_dhcpv6_opts answers
        return (UDP(sport=546, dport=547) / DHCP6_Solicit(trid=0)
                / DHCP6OptClientId(duid=DUID_LL(lladdr=_mac(f["eth.src"]))) / DHCP6OptIA_NA(iaid=1))
    if proto == 17:
        return UDP(sport=f["tcp.src"], dport=f["tcp.dst"])
    if proto == 132:
        return SCTP(sport=f["tcp.src"], dport=f["tcp.dst"])
    if proto == 1 and not v6:
        return ICMP(type=f["icmp4.type"], code=f["icmp4.code"], id=0, seq=0)
    if proto == 58 and v6:
        kind, code = f["icmp4.type"], f["icmp4.code"]
        if kind == 135:
            nd = ICMPv6ND_NS(code=code, tgt=_ip6(f["nd.target"]))
            return nd / ICMPv6NDOptSrcLLAddr(lladdr=_mac(f["nd.sll"])) if f["nd.sll"] else nd
        if kind == 136:
            nd = ICMPv6ND_NA(code=code, tgt=_ip6(f["nd.target"]), R=0, S=0, O=0)
            return nd / ICMPv6NDOptDstLLAddr(lladdr=_mac(f["nd.tll"])) if f["nd.tll"] else nd
        return ICMPv6Unknown(type=kind, code=code, msgbody=b"\x00" * 4)
    return Raw(b"")


def build_frame(f: dict) -> bytes:
    """The frame for packet fields `f` (missing fields count as 0)."""
    f = {name: f.get(name, 0) for name in PACKET_FIELDS}
    eth_type = f["eth.type"]
    frame = Ether(src=_mac(f["eth.src"]), dst=_mac(f["eth.dst"]), type=eth_type)
    if f["vlan.present"] or f["vlan.tci"] & CFI:
        frame = Ether(src=_mac(f["eth.src"]), dst=_mac(f["eth.dst"]), type=ETH_VLAN)
        tci = f["vlan.tci"] & ~CFI
        frame = frame / Dot1Q(prio=tci >> 13, dei=0, vlan=tci & 0xFFF, type=eth_type)
    tos = f["ip.dscp"] << 2 | f["ip.ecn"]
    if eth_type == ETH_IP4:
        frag = f["ip.frag"]
        l3 = IP(src=_ip4(f["ip4.src"]), dst=_ip4(f["ip4.dst"]), ttl=f["ip.ttl"], tos=tos,
                proto=f["ip.proto"], id=0, flags="MF" if frag == 1 else 0,
                frag=1 if frag & 2 else 0)
        frame = frame / l3 / _l4(f, v6=False)
    elif eth_type == ETH_IP6:
        l3 = IPv6(src=_ip6(f["ip6.src"]), dst=_ip6(f["ip6.dst"]), hlim=f["ip.ttl"], tc=tos,
                  fl=f["ip6.label"])
        if f["ip.frag"]:
            l3 = l3 / IPv6ExtHdrFragment(nh=f["ip.proto"], m=f["ip.frag"] == 1,
                                         offset=1 if f["ip.frag"] & 2 else 0, id=0)
        else:
            l3.nh = f["ip.proto"]
        frame = frame / l3 / _l4(f, v6=True)
    elif eth_type in (ETH_ARP, ETH_RARP):
        frame = frame / ARP(op=f["arp.op"], hwsrc=_mac(f["arp.sha"]), psrc=_ip4(f["arp.spa"]),
                            hwdst=_mac(f["arp.tha"]), pdst=_ip4(f["arp.tpa"]))
    raw = bytes(frame)
    return raw + b"\x00" * (MIN_FRAME - len(raw)) if len(raw) < MIN_FRAME else raw


def _mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


def frame_fields(raw: bytes) -> dict:
    """Packet fields of a frame, as the datapath would parse them."""
    f = dict.fromkeys(PACKET_FIELDS, 0)
    # Ethernet by hand: scapy reads a type <= 1500 as an 802.3 length.
    f["eth.dst"], f["eth.src"] = int.from_bytes(raw[0:6], "big"), int.from_bytes(raw[6:12], "big")
    f["eth.type"] = int.from_bytes(raw[12:14], "big")
    rest = raw[14:]
    if f["eth.type"] == ETH_VLAN and len(rest) >= 4:
        tci = int.from_bytes(rest[0:2], "big")
        f["vlan.present"], f["vlan.tci"] = 1, (tci & ~CFI) | CFI
        f["eth.type"] = int.from_bytes(rest[2:4], "big")
        rest = rest[4:]
    layer = {ETH_IP4: IP, ETH_IP6: IPv6, ETH_ARP: ARP, ETH_RARP: ARP}.get(f["eth.type"], Raw)(rest)
    if isinstance(layer, IP):
        f.update({"ip4.src": int(ipaddress.IPv4Address(layer.src)),
                  "ip4.dst": int(ipaddress.IPv4Address(layer.dst)),
                  "ip.ttl": layer.ttl, "ip.proto": layer.proto,
                  "ip.dscp": layer.tos >> 2, "ip.ecn": layer.tos & 3,
                  "ip.frag": (1 if layer.frag or layer.flags.MF else 0) | (2 if layer.frag else 0)})
        _read_l4(f, layer.payload, later=bool(layer.frag))
    elif isinstance(layer, IPv6):
        f.update({"ip6.src": int(ipaddress.IPv6Address(layer.src)),
                  "ip6.dst": int(ipaddress.IPv6Address(layer.dst)),
                  "ip.ttl": layer.hlim, "ip.proto": layer.nh, "ip.dscp": layer.tc >> 2,
                  "ip.ecn": layer.tc & 3, "ip6.label": layer.fl})
        nxt = layer.payload
        later = False
        if isinstance(nxt, IPv6ExtHdrFragment):
            later = bool(nxt.offset)
            f["ip.proto"] = nxt.nh
            f["ip.frag"] = 1 | (2 if later else 0)
            nxt = nxt.payload
        _read_l4(f, nxt, later)
    elif isinstance(layer, ARP):
        f.update({"arp.op": layer.op, "arp.sha": _mac_int(layer.hwsrc),
                  "arp.spa": int(ipaddress.IPv4Address(layer.psrc)),
                  "arp.tha": _mac_int(layer.hwdst),
                  "arp.tpa": int(ipaddress.IPv4Address(layer.pdst))})
    return f


def _read_l4(f: dict, layer, later: bool) -> None:
    if later:
        return
    if isinstance(layer, Raw) and f["ip.proto"] in (1, 58) and len(layer.load) >= 2:
        f["icmp4.type"], f["icmp4.code"] = layer.load[0], layer.load[1]
        return
    if isinstance(layer, (Raw, Padding)):
        return
    if isinstance(layer, (TCP, UDP, SCTP)):
        f["tcp.src"], f["tcp.dst"] = layer.sport, layer.dport
        if isinstance(layer, TCP):
            f["tcp.flags"] = int(layer.flags)
    elif isinstance(layer, ICMP):
        f["icmp4.type"], f["icmp4.code"] = layer.type, layer.code
    elif hasattr(layer, "type") and hasattr(layer, "code") and f["ip.proto"] == 58:
        f["icmp4.type"], f["icmp4.code"] = layer.type, layer.code
        if isinstance(layer, (ICMPv6ND_NS, ICMPv6ND_NA)):
            f["nd.target"] = int(ipaddress.IPv6Address(layer.tgt))
            opt = layer.payload
            # (scapy's DstLLAddr is a subclass of SrcLLAddr: test it first)
            if isinstance(opt, ICMPv6NDOptDstLLAddr):
                f["nd.tll"] = _mac_int(opt.lladdr)
            elif isinstance(opt, ICMPv6NDOptSrcLLAddr):
                f["nd.sll"] = _mac_int(opt.lladdr)
