"""The microflow in OpenFlow syntax: the `# icmp,reg14=0x1,...` line ovn-trace starts with.

Printing the same line as ovn-trace for the same microflow shows that the packet we
built has ovn-trace's defaults (a test compares the two on a real lab)."""
from __future__ import annotations

from .fields import format_value

__all__ = ["openflow_line"]

_TCP_FLAGS = ("fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns")
_FRAG = {0: "no", 1: "first", 3: "later", 2: "<error>"}


def _tcp_flags(value: int) -> str:
    names = [n for i, n in enumerate(_TCP_FLAGS) if value >> i & 1]
    return "|".join(names) if names else "0"


def _keyword(f: dict) -> str | None:
    et, proto = f["eth.type"], f["ip.proto"]
    if et == 0x0806:
        return "arp"
    if et == 0x8035:
        return "rarp"
    if et == 0x0800:
        return {1: "icmp", 6: "tcp", 17: "udp", 132: "sctp"}.get(proto, "ip")
    if et == 0x86DD:
        return {58: "icmp6", 6: "tcp6", 17: "udp6", 132: "sctp6"}.get(proto, "ipv6")
    return None


def openflow_line(f: dict, inport_key: int) -> str:
    v = lambda name: format_value(name, f[name])  # noqa: E731
    kw = _keyword(f)
    parts = [kw] if kw else []
    parts.append(f"reg14={inport_key:#x}")
    if f["vlan.present"]:
        tci = f["vlan.tci"]
        parts += [f"dl_vlan={tci & 0xFFF}", f"dl_vlan_pcp={tci >> 13}", "vlan_tci1=0x0000"]
    else:
        parts.append("vlan_tci=0x0000")
    parts += [f"dl_src={v('eth.src')}", f"dl_dst={v('eth.dst')}"]
    if kw is None:
        parts.append(f"dl_type={f['eth.type']:#06x}")
        return ",".join(parts)
    if kw in ("arp", "rarp"):
        parts += [f"arp_spa={v('arp.spa')}", f"arp_tpa={v('arp.tpa')}", f"arp_op={f['arp.op']}",
                  f"arp_sha={v('arp.sha')}", f"arp_tha={v('arp.tha')}"]
        return ",".join(parts)
    if f["eth.type"] == 0x0800:
        parts += [f"nw_src={v('ip4.src')}", f"nw_dst={v('ip4.dst')}"]
    else:
        parts += [f"ipv6_src={v('ip6.src')}", f"ipv6_dst={v('ip6.dst')}",
                  f"ipv6_label={f['ip6.label']:#07x}"]
    if kw in ("ip", "ipv6"):
        parts.append(f"nw_proto={f['ip.proto']}")
    parts += [f"nw_tos={f['ip.dscp'] << 2}", f"nw_ecn={f['ip.ecn']}", f"nw_ttl={f['ip.ttl']}",
              f"nw_frag={_FRAG[f['ip.frag']]}"]
    if f["ip.frag"] & 2:
        return ",".join(parts)
    if kw in ("icmp", "icmp6"):
        parts += [f"icmp_type={f['icmp4.type']}", f"icmp_code={f['icmp4.code']}"]
        if kw == "icmp6" and f["icmp4.type"] in (135, 136) and f["icmp4.code"] == 0:
            parts += [f"nd_target={v('nd.target')}", f"nd_sll={v('nd.sll')}", f"nd_tll={v('nd.tll')}"]
    elif kw in ("ip", "ipv6") and f["ip.frag"] == 0:
        parts += ["tp_src=0", "tp_dst=0"]
    elif kw not in ("ip", "ipv6"):
        parts += [f"tp_src={f['tcp.src']}", f"tp_dst={f['tcp.dst']}"]
        if kw.startswith("tcp"):
            parts.append(f"tcp_flags={_tcp_flags(f['tcp.flags'])}")
    return ",".join(parts)
