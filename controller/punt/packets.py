"""Frames <-> struct ovnbpf_flow fields, and the packets the punted actions generate.

`parse(frame)` reads a frame the way bpf/lib/parse.h does (the fields generated code
sees); `apply(frame, flow)` writes a flow's fields back into a frame with every checksum
recomputed (what bpf/lib/rewrite.h does incrementally, plus the fields it cannot write:
IPv6 addresses, ND target/options). The builders follow OVN's semantics (ovn-sb(5),
ovn-controller's pinctrl): they make a fresh packet from the punted one's fields, then the
nested actions run on it.

    icmp4 {}     IPv4 ICMP destination unreachable (type 3 code 1), ttl 255, DF, id 0,
                 carrying the original IP datagram cut to fit 576 bytes with its Ethernet
                 header (RFC 1122 3.2.2: at least the IP header + 8 bytes)
    icmp6 {}     ICMPv6 destination unreachable (type 1 code 1), hop limit 255, carrying
                 as much of the original IPv6 packet as fits the IPv6 minimum MTU (RFC
                 4443 2.4 (c): 1280 bytes, which pinctrl counts with the Ethernet header;
                 the sender's stack needs the quoted L4 header to find the socket)
    tcp_reset {} TCP RST, ports swapped; seq = the segment's ack if it had ACK, else
                 seq 0 and ack = its seq + payload length (flags RST|ACK then)
    sctp_abort{} SCTP ABORT chunk, ports swapped, vtag = the packet's own tag, T bit set
    arp {}       ARP request for the IPv4 packet's destination: eth.dst broadcast,
                 sha = eth.src, spa = ip4.src, tpa = ip4.dst
    nd_ns {}     neighbour solicitation for the IPv6 destination, to its solicited-node
                 multicast address, with the source link-layer option
    nd_na {} / nd_na_router {}  neighbour advertisement for nd.target from the
                 solicitation's eth.dst back to its eth.src (S|O, +R for the router form),
                 target link-layer option = the new eth.src
Malformed input raises PacketError (the handler counts it and drops the packet).
"""
from __future__ import annotations

import ipaddress
import struct

__all__ = ["PacketError", "parse", "apply", "checksum", "crc32c", "build", "BUILDERS",
           "ETH_IP4", "ETH_IP6", "ETH_ARP"]

ETH_IP4, ETH_IP6, ETH_ARP, ETH_RARP, ETH_VLAN = 0x0800, 0x86DD, 0x0806, 0x8035, 0x8100
P_VLAN, P_ARP, P_IP4, P_IP6 = 1 << 0, 1 << 1, 1 << 2, 1 << 3
P_TCP, P_UDP, P_SCTP, P_ICMP4, P_ICMP6 = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
P_ND_NS, P_ND_NA, P_FRAG, P_LATER_FRAG = 1 << 9, 1 << 10, 1 << 11, 1 << 12
ICMP4_ROOM = 576 - (14 + 20 + 8)    # pinctrl: the whole error fits 576 bytes with Ethernet
ICMP6_ROOM = 1280 - (14 + 40 + 8)   # RFC 4443's 1280 bytes, counted with Ethernet as pinctrl does
MASK64 = (1 << 64) - 1


class PacketError(ValueError):
    """A frame the punt path cannot handle; `reason` is its counter name."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# ---- checksums ---------------------------------------------------------------------------

def checksum(data: bytes, seed: int = 0) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = seed + sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo4(src: bytes, dst: bytes, proto: int, length: int) -> int:
    return sum(struct.unpack("!4H", src + dst)) + proto + length


def _pseudo6(src: bytes, dst: bytes, proto: int, length: int) -> int:
    return sum(struct.unpack("!16H", src + dst)) + (length >> 16) + (length & 0xFFFF) + proto


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- helpers -----------------------------------------------------------------------------

def _mac(b: bytes) -> int:
    return int.from_bytes(b, "big")


def _mac_bytes(v: int) -> bytes:
    return (v & 0xFFFFFFFFFFFF).to_bytes(6, "big")


def _ip6_split(b: bytes) -> tuple[int, int]:
    return int.from_bytes(b[:8], "big"), int.from_bytes(b[8:], "big")


def _ip6_join(hi: int, lo: int) -> bytes:
    return (hi & MASK64).to_bytes(8, "big") + (lo & MASK64).to_bytes(8, "big")


def blank_flow() -> dict:
    from ..lflow.symbols import FLOW_MEMBERS
    out = dict.fromkeys(FLOW_MEMBERS, 0)
    out.update(l3_off=0, l4_off=0, frame_len=0, hops=0, origin=0, punt_depth=0)
    return out


# ---- frame -> fields ---------------------------------------------------------------------

def parse(frame: bytes, into: dict | None = None) -> dict:
    """The packet fields of `frame` (logical metadata in `into` is kept)."""
    f = blank_flow() if into is None else dict(into)
    for k in list(f):
        if k not in ("dp", "inport", "outport", "flags", "hops", "origin", "punt_depth") \
                and not k.startswith("reg["):
            f[k] = 0
    if len(frame) < 14:
        raise PacketError("runt", f"{len(frame)} bytes")
    f["frame_len"] = len(frame)
    f["eth_dst"], f["eth_src"] = _mac(frame[0:6]), _mac(frame[6:12])
    eth_type, off = struct.unpack("!H", frame[12:14])[0], 14
    if eth_type == ETH_VLAN:
        if len(frame) < 18:
            raise PacketError("vlan_truncated")
        tci, eth_type = struct.unpack("!HH", frame[14:18])
        f["vlan_tci"], f["present"], off = tci | 0x1000, f["present"] | P_VLAN, 18
    f["eth_type"], f["l3_off"] = eth_type, off
    if eth_type in (ETH_ARP, ETH_RARP):
        if len(frame) < off + 28:
            raise PacketError("arp_truncated")
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", frame[off:off + 8])
        if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
            raise PacketError("arp_unsupported")
        f["present"] |= P_ARP
        f["arp_op"] = op
        f["arp_sha"], f["arp_spa"] = _mac(frame[off + 8:off + 14]), int.from_bytes(frame[off + 14:off + 18], "big")
        f["arp_tha"], f["arp_tpa"] = _mac(frame[off + 18:off + 24]), int.from_bytes(frame[off + 24:off + 28], "big")
        return f
    if eth_type == ETH_IP4:
        if len(frame) < off + 20:
            raise PacketError("ip4_truncated")
        ver_ihl, tos, total, _, frag, ttl, proto = struct.unpack("!BBHHHBB", frame[off:off + 10])
        ihl = (ver_ihl & 0xF) * 4
        if ver_ihl >> 4 != 4 or ihl < 20 or len(frame) < off + ihl:
            raise PacketError("ip4_bad_header")
        if total < ihl or off + total > len(frame):
            raise PacketError("ip4_bad_length", f"total length {total}")
        f["present"] |= P_IP4
        f["ip_dscp"], f["ip_ecn"], f["ip_ttl"], f["ip_proto"] = tos >> 2, tos & 3, ttl, proto
        f["ip4_src"] = int.from_bytes(frame[off + 12:off + 16], "big")
        f["ip4_dst"] = int.from_bytes(frame[off + 16:off + 20], "big")
        if frag & 0x3FFF:
            f["present"] |= P_FRAG
            if frag & 0x1FFF:
                f["present"] |= P_LATER_FRAG
                return f
        _parse_l4(f, frame, off + ihl, off + total, v6=False)
        return f
    if eth_type == ETH_IP6:
        if len(frame) < off + 40:
            raise PacketError("ip6_truncated")
        vtf, plen, nh, hlim = struct.unpack("!IHBB", frame[off:off + 8])
        if vtf >> 28 != 6:
            raise PacketError("ip6_bad_header")
        if off + 40 + plen > len(frame):
            raise PacketError("ip6_bad_length")
        f["present"] |= P_IP6
        tc = (vtf >> 20) & 0xFF
        f["ip_dscp"], f["ip_ecn"], f["ip6_label"] = tc >> 2, tc & 3, vtf & 0xFFFFF
        f["ip_ttl"], f["ip_proto"] = hlim, nh
        f["ip6_src_hi"], f["ip6_src_lo"] = _ip6_split(frame[off + 8:off + 24])
        f["ip6_dst_hi"], f["ip6_dst_lo"] = _ip6_split(frame[off + 24:off + 40])
        _parse_l4(f, frame, off + 40, off + 40 + plen, v6=True)
        return f
    return f


def _parse_l4(f: dict, frame: bytes, l4: int, end: int, v6: bool) -> None:
    proto = f["ip_proto"]
    f["l4_off"] = l4
    need = {6: 20, 17: 8, 132: 12, 1: 4, 58: 4}.get(proto)
    if need is None:
        f["l4_off"] = 0
        return
    if end < l4 + need:
        raise PacketError("l4_truncated")
    if proto in (6, 17, 132):
        f["tp_src"], f["tp_dst"] = struct.unpack("!HH", frame[l4:l4 + 4])
        f["present"] |= {6: P_TCP, 17: P_UDP, 132: P_SCTP}[proto]
        if proto == 6:
            f["tcp_flags"] = struct.unpack("!H", frame[l4 + 12:l4 + 14])[0] & 0x0FFF
        return
    if (proto == 1) == v6:
        return
    f["icmp_type"], f["icmp_code"] = frame[l4], frame[l4 + 1]
    f["present"] |= P_ICMP6 if v6 else P_ICMP4
    if v6 and f["icmp_type"] in (135, 136) and f["icmp_code"] == 0:
        if end < l4 + 24:
            raise PacketError("nd_truncated")
        f["nd_target_hi"], f["nd_target_lo"] = _ip6_split(frame[l4 + 8:l4 + 24])
        f["present"] |= P_ND_NS if f["icmp_type"] == 135 else P_ND_NA
        o = l4 + 24
        while o + 8 <= end:
            kind, length = frame[o], frame[o + 1] * 8
            if length == 0:
                raise PacketError("nd_truncated", "option of length 0")
            if kind == 1 and f["icmp_type"] == 135 and length == 8:
                f["nd_sll"] = _mac(frame[o + 2:o + 8])
            elif kind == 2 and f["icmp_type"] == 136 and length == 8:
                f["nd_tll"] = _mac(frame[o + 2:o + 8])
            o += length


# ---- fields -> frame ---------------------------------------------------------------------

def apply(frame: bytes, f: dict) -> bytes:
    """`frame` with `f`'s fields written into it and every checksum recomputed."""
    b = bytearray(frame)
    b[0:6], b[6:12] = _mac_bytes(f["eth_dst"]), _mac_bytes(f["eth_src"])
    old = parse(frame)
    off = old["l3_off"]
    if old["present"] & P_ARP:
        struct.pack_into("!H", b, off + 6, f["arp_op"])
        b[off + 8:off + 14], b[off + 18:off + 24] = _mac_bytes(f["arp_sha"]), _mac_bytes(f["arp_tha"])
        struct.pack_into("!I", b, off + 14, f["arp_spa"] & 0xFFFFFFFF)
        struct.pack_into("!I", b, off + 24, f["arp_tpa"] & 0xFFFFFFFF)
        return bytes(b)
    if old["present"] & P_IP4:
        ihl = (b[off] & 0xF) * 4
        b[off + 1] = (f["ip_dscp"] << 2 | f["ip_ecn"]) & 0xFF
        b[off + 8] = f["ip_ttl"] & 0xFF
        struct.pack_into("!II", b, off + 12, f["ip4_src"] & 0xFFFFFFFF, f["ip4_dst"] & 0xFFFFFFFF)
        struct.pack_into("!H", b, off + 10, 0)
        struct.pack_into("!H", b, off + 10, checksum(bytes(b[off:off + ihl])))
        total = struct.unpack("!H", b[off + 2:off + 4])[0]
        _apply_l4(b, f, old, off + ihl, off + total,
                  _pseudo4(bytes(b[off + 12:off + 16]), bytes(b[off + 16:off + 20]), old["ip_proto"],
                           total - ihl), v6=False)
    elif old["present"] & P_IP6:
        tc = f["ip_dscp"] << 2 | f["ip_ecn"]
        struct.pack_into("!I", b, off, 6 << 28 | tc << 20 | (f["ip6_label"] & 0xFFFFF))
        b[off + 7] = f["ip_ttl"] & 0xFF
        b[off + 8:off + 24] = _ip6_join(f["ip6_src_hi"], f["ip6_src_lo"])
        b[off + 24:off + 40] = _ip6_join(f["ip6_dst_hi"], f["ip6_dst_lo"])
        plen = struct.unpack("!H", b[off + 4:off + 6])[0]
        _apply_l4(b, f, old, off + 40, off + 40 + plen,
                  _pseudo6(bytes(b[off + 8:off + 24]), bytes(b[off + 24:off + 40]), old["ip_proto"], plen),
                  v6=True)
    return bytes(b)


def _apply_l4(b: bytearray, f: dict, old: dict, l4: int, end: int, pseudo: int, v6: bool) -> None:
    if not old["l4_off"] or old["present"] & P_LATER_FRAG:
        return
    proto = old["ip_proto"]
    if proto in (6, 17, 132):
        struct.pack_into("!HH", b, l4, f["tp_src"] & 0xFFFF, f["tp_dst"] & 0xFFFF)
    if proto == 6:
        struct.pack_into("!H", b, l4 + 16, 0)
        struct.pack_into("!H", b, l4 + 16, checksum(bytes(b[l4:end]), pseudo))
    elif proto == 17:
        if b[l4 + 6:l4 + 8] != b"\x00\x00" or v6:      # IPv4 UDP checksum 0 = none
            struct.pack_into("!H", b, l4 + 6, 0)
            struct.pack_into("!H", b, l4 + 6, checksum(bytes(b[l4:end]), pseudo) or 0xFFFF)
    elif proto == 132:
        struct.pack_into("<I", b, l4 + 8, 0)
        struct.pack_into("<I", b, l4 + 8, crc32c(bytes(b[l4:end])))
    elif proto in (1, 58):
        b[l4], b[l4 + 1] = f["icmp_type"] & 0xFF, f["icmp_code"] & 0xFF
        if v6 and old["present"] & (P_ND_NS | P_ND_NA):
            b[l4 + 8:l4 + 24] = _ip6_join(f["nd_target_hi"], f["nd_target_lo"])
            o = l4 + 24
            while o + 8 <= end:
                if b[o] == 1 and old["present"] & P_ND_NS:
                    b[o + 2:o + 8] = _mac_bytes(f["nd_sll"])
                elif b[o] == 2 and old["present"] & P_ND_NA:
                    b[o + 2:o + 8] = _mac_bytes(f["nd_tll"])
                o += max(b[o + 1] * 8, 8)
        struct.pack_into("!H", b, l4 + 2, 0)
        struct.pack_into("!H", b, l4 + 2, checksum(bytes(b[l4:end]), pseudo if v6 else 0))


# ---- builders: (current frame, its fields) -> the generated frame --------------------------

def _eth(dst: int, src: int, eth_type: int, vlan_tci: int = 0) -> bytes:
    if vlan_tci & 0x1000:
        return _mac_bytes(dst) + _mac_bytes(src) + struct.pack("!HHH", ETH_VLAN, vlan_tci & ~0x1000, eth_type)
    return _mac_bytes(dst) + _mac_bytes(src) + struct.pack("!H", eth_type)


def _ip4_header(f: dict, proto: int, payload_len: int, ttl: int = 255) -> bytes:
    tos = (f["ip_dscp"] << 2 | f["ip_ecn"]) & 0xFF
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + payload_len, 0, 0x4000, ttl, proto, 0,
                    f["ip4_src"].to_bytes(4, "big"), f["ip4_dst"].to_bytes(4, "big"))
    return h[:10] + struct.pack("!H", checksum(h)) + h[12:]


def _ip6_header(f: dict, nh: int, payload_len: int, src: bytes | None = None,
                dst: bytes | None = None, hlim: int = 255, fresh: bool = False) -> bytes:
    """fresh: traffic class and flow label 0 (pinctrl's ICMPv6 errors and ND packets),
    else the punted packet's."""
    tc = 0 if fresh else (f["ip_dscp"] << 2 | f["ip_ecn"]) & 0xFF
    label = 0 if fresh else f["ip6_label"] & 0xFFFFF
    return (struct.pack("!IHBB", 6 << 28 | tc << 20 | label, payload_len, nh, hlim)
            + (src or _ip6_join(f["ip6_src_hi"], f["ip6_src_lo"]))
            + (dst or _ip6_join(f["ip6_dst_hi"], f["ip6_dst_lo"])))


def _l3(frame: bytes, f: dict, ip6: bool) -> bytes:
    off = f["l3_off"]
    if ip6:
        return frame[off:off + 40 + struct.unpack("!H", frame[off + 4:off + 6])[0]]
    return frame[off:off + struct.unpack("!H", frame[off + 2:off + 4])[0]]


def _need(f: dict, bit: int, what: str) -> None:
    if not f["present"] & bit:
        raise PacketError("wrong_packet_type", what)


def build_icmp4(frame: bytes, f: dict) -> bytes:
    _need(f, P_IP4, "icmp4 {} needs an IPv4 packet")
    orig = _l3(frame, f, ip6=False)[:ICMP4_ROOM]
    icmp = struct.pack("!BBHI", 3, 1, 0, 0) + orig
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    return _eth(f["eth_dst"], f["eth_src"], ETH_IP4, f["vlan_tci"]) + _ip4_header(f, 1, len(icmp)) + icmp


def build_icmp6(frame: bytes, f: dict) -> bytes:
    _need(f, P_IP6, "icmp6 {} needs an IPv6 packet")
    orig = _l3(frame, f, ip6=True)[:ICMP6_ROOM]
    ip = _ip6_header(f, 58, 8 + len(orig), fresh=True)
    icmp = struct.pack("!BBHI", 1, 1, 0, 0) + orig
    csum = checksum(icmp, _pseudo6(ip[8:24], ip[24:40], 58, len(icmp)))
    return _eth(f["eth_dst"], f["eth_src"], ETH_IP6, f["vlan_tci"]) + ip + icmp[:2] + struct.pack("!H", csum) + icmp[4:]


def build_tcp_reset(frame: bytes, f: dict) -> bytes:
    _need(f, P_TCP, "tcp_reset {} needs a TCP segment")
    l4 = f["l4_off"]
    seq, ack = struct.unpack("!II", frame[l4 + 4:l4 + 12])
    v6 = bool(f["present"] & P_IP6)
    l3 = _l3(frame, f, v6)
    hdr_len = (frame[l4 + 12] >> 4) * 4
    payload = len(l3) - (l4 - f["l3_off"]) - hdr_len
    if f["tcp_flags"] & 0x010:            # ACK: RST with seq = their ack
        new_seq, new_ack, flags = ack, 0, 0x004
    else:
        new_seq, new_ack, flags = 0, (seq + payload + (1 if f["tcp_flags"] & 0x003 else 0)) & 0xFFFFFFFF, 0x014
    tcp = struct.pack("!HHIIBBHHH", f["tp_dst"], f["tp_src"], new_seq, new_ack, 5 << 4, flags, 0, 0, 0)
    if v6:
        ip = _ip6_header(f, 6, len(tcp))
        csum = checksum(tcp, _pseudo6(ip[8:24], ip[24:40], 6, len(tcp)))
        eth = _eth(f["eth_dst"], f["eth_src"], ETH_IP6, f["vlan_tci"])
    else:
        ip = _ip4_header(f, 6, len(tcp))
        csum = checksum(tcp, _pseudo4(ip[12:16], ip[16:20], 6, len(tcp)))
        eth = _eth(f["eth_dst"], f["eth_src"], ETH_IP4, f["vlan_tci"])
    return eth + ip + tcp[:16] + struct.pack("!H", csum) + tcp[18:]


def build_sctp_abort(frame: bytes, f: dict) -> bytes:
    _need(f, P_SCTP, "sctp_abort {} needs an SCTP packet")
    l4 = f["l4_off"]
    vtag = struct.unpack("!I", frame[l4 + 4:l4 + 8])[0]
    chunk = struct.pack("!BBH", 6, 1, 4)               # ABORT, T bit: the tag is reflected
    sctp = struct.pack("!HHII", f["tp_dst"], f["tp_src"], vtag, 0) + chunk
    sctp = sctp[:8] + struct.pack("<I", crc32c(sctp)) + sctp[12:]
    if f["present"] & P_IP6:
        return _eth(f["eth_dst"], f["eth_src"], ETH_IP6, f["vlan_tci"]) + _ip6_header(f, 132, len(sctp)) + sctp
    return _eth(f["eth_dst"], f["eth_src"], ETH_IP4, f["vlan_tci"]) + _ip4_header(f, 132, len(sctp)) + sctp


def build_arp(frame: bytes, f: dict) -> bytes:
    _need(f, P_IP4, "arp {} needs an IPv4 packet")
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP4, 6, 4, 1, _mac_bytes(f["eth_src"]),
                      f["ip4_src"].to_bytes(4, "big"), b"\x00" * 6, f["ip4_dst"].to_bytes(4, "big"))
    return _eth(0xFFFFFFFFFFFF, f["eth_src"], ETH_ARP, f["vlan_tci"]) + arp


def _solicited_node(addr: bytes) -> bytes:
    """ff02::1:ffXX:XXXX (RFC 4291 2.7.1): a 13-byte prefix and the address' last 3 bytes."""
    return bytes.fromhex("ff0200000000000000000001ff") + addr[13:16]


def build_nd_ns(frame: bytes, f: dict) -> bytes:
    _need(f, P_IP6, "nd_ns {} needs an IPv6 packet")
    target = _ip6_join(f["ip6_dst_hi"], f["ip6_dst_lo"])
    dst = _solicited_node(target)
    body = struct.pack("!BBHI", 135, 0, 0, 0) + target + struct.pack("!BB", 1, 1) + _mac_bytes(f["eth_src"])
    ip = _ip6_header(f, 58, len(body), dst=dst, fresh=True)
    csum = checksum(body, _pseudo6(ip[8:24], ip[24:40], 58, len(body)))
    eth_dst = 0x333300000000 | int.from_bytes(dst[12:16], "big")
    return (_eth(eth_dst, f["eth_src"], ETH_IP6, f["vlan_tci"]) + ip + body[:2]
            + struct.pack("!H", csum) + body[4:])


def _build_nd_na(frame: bytes, f: dict, router: bool) -> bytes:
    _need(f, P_ND_NS, "nd_na {} answers a neighbour solicitation")
    target = _ip6_join(f["nd_target_hi"], f["nd_target_lo"])
    flags = (0x80000000 if router else 0) | 0x40000000 | 0x20000000
    # from the solicited MAC (eth.dst of the solicitation) back to the solicitor
    body = struct.pack("!BBHI", 136, 0, 0, flags) + target + struct.pack("!BB", 2, 1) + _mac_bytes(f["eth_dst"])
    src = _ip6_join(f["ip6_src_hi"], f["ip6_src_lo"])
    # to the soliciting node; from the unspecified address (DAD) to all-nodes
    dst = src if any(src) else bytes.fromhex("ff020000000000000000000000000001")
    ip = _ip6_header(f, 58, len(body), src=target, dst=dst, fresh=True)
    csum = checksum(body, _pseudo6(ip[8:24], ip[24:40], 58, len(body)))
    return (_eth(f["eth_src"], f["eth_dst"], ETH_IP6, f["vlan_tci"]) + ip + body[:2]
            + struct.pack("!H", csum) + body[4:])


def build_nd_na(frame: bytes, f: dict) -> bytes:
    return _build_nd_na(frame, f, router=False)


def build_nd_na_router(frame: bytes, f: dict) -> bytes:
    return _build_nd_na(frame, f, router=True)


BUILDERS = {
    "icmp4": build_icmp4, "icmp4_error": build_icmp4, "icmp6": build_icmp6,
    "icmp6_error": build_icmp6, "tcp_reset": build_tcp_reset, "sctp_abort": build_sctp_abort,
    "arp": build_arp, "nd_ns": build_nd_ns, "nd_na": build_nd_na,
    "nd_na_router": build_nd_na_router,
}


def build(keyword: str, frame: bytes, f: dict) -> bytes:
    """The frame `keyword {}` generates from the current frame and its fields."""
    return BUILDERS[keyword](frame, f)


def ip4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))
