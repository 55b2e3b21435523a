"""DNS on the punt path: `R = dns_lookup();` as ovn-controller's pinctrl answers it
(ovn-sb(5); semantics read from OVN's controller/pinctrl.c, our own code).

The query (udp.dst == 53) is answered from the SB DNS rows that list the packet's
datapath, when it asks one question of type A, AAAA, ANY or PTR, has no additional
records, and names a record (case-insensitively: the SB keeps names lowercase). The
packet is turned in place into the response and R becomes 1; otherwise it is left as it
was and R becomes 0 (northd's next flows forward it as any other packet).

The response, byte for byte as pinctrl makes it: Ethernet, IP and UDP headers copied, the
DNS header copied with QR set, ANCOUNT = the answers, ARCOUNT 0; everything after the DNS
header copied (the question); then one answer per address (A: the record's IPv4
addresses, AAAA: its IPv6 ones, ANY: both, in the record's order) or one PTR answer, each
with the question's name written out again, class IN, TTL 3600. UDP length and IP total
length / IPv6 payload length follow; the IPv4 UDP checksum is 0, the IPv6 one computed.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from .packets import checksum

__all__ = ["dns_lookup", "DnsAnswer", "TYPE_A", "TYPE_AAAA", "TYPE_PTR", "TYPE_ANY"]

TYPE_A, TYPE_PTR, TYPE_AAAA, TYPE_ANY = 1, 12, 28, 255
CLASS_IN, TTL = 1, 3600
HEADER = 12


@dataclass(frozen=True)
class DnsAnswer:
    frame: bytes | None      # the response, or None: not answered (R = 0)
    outcome: str             # counter name


def _no(why: str) -> DnsAnswer:
    return DnsAnswer(None, f"dns_{why}")


def _ptr_name(target: str) -> bytes:
    """`vm1.ovn.org` as labels and a zero, the way pinctrl writes it (a trailing dot
    gives one more zero)."""
    return b"".join(bytes([len(label)]) + label.encode() for label in target.split(".")) + b"\x00"


def dns_lookup(frame: bytes, l3_off: int, l4_off: int, v6: bool, records: list) -> DnsAnswer:
    """The response to the query in `frame`, from `records` (dicts name -> value of the DNS
    rows serving the packet's datapath, in the order they are searched)."""
    if not l4_off or len(frame) < l4_off + 8 + HEADER:
        return _no("truncated")
    dns = l4_off + 8
    flags_hi = frame[dns + 2]
    qdcount, arcount = struct.unpack("!H", frame[dns + 4:dns + 6])[0], struct.unpack("!H", frame[dns + 10:dns + 12])[0]
    if flags_hi & 0x80:
        return _no("not_a_query")
    if not qdcount:
        return _no("no_question")
    if arcount:
        return _no("additional_records")
    udp_len = struct.unpack("!H", frame[l4_off + 4:l4_off + 6])[0]
    end = l4_off + min(udp_len, len(frame) - l4_off)
    i, labels = dns + HEADER, []
    while i < end and frame[i]:
        n = frame[i]
        if i + 1 + n > end:
            return _no("truncated")
        labels.append(frame[i + 1:i + 1 + n].decode("latin-1"))
        i += 1 + n
    i += 1
    qname = frame[dns + HEADER:i]                   # as encoded, terminating zero included
    if i + 4 > end:
        return _no("truncated")
    qtype = struct.unpack("!H", frame[i:i + 2])[0]
    if qtype not in (TYPE_A, TYPE_AAAA, TYPE_ANY, TYPE_PTR):
        return _no("unsupported_type")
    name = ".".join(labels).lower()
    value = next((r[name] for r in records if name in r), None)
    if value is None:
        return _no("no_record")
    answers = b""
    base = lambda t: qname + struct.pack("!HHI", t, CLASS_IN, TTL)   # noqa: E731
    if qtype == TYPE_PTR:
        rdata = _ptr_name(value)
        answers, count = base(TYPE_PTR) + struct.pack("!H", len(rdata)) + rdata, 1
    else:
        addrs = []
        for word in value.split():
            try:
                addrs.append(ipaddress.ip_interface(word).ip)
            except ValueError:
                return _no("bad_record")
        v4 = [a for a in addrs if a.version == 4] if qtype in (TYPE_A, TYPE_ANY) else []
        v6a = [a for a in addrs if a.version == 6] if qtype in (TYPE_AAAA, TYPE_ANY) else []
        for a in v4:
            answers += base(TYPE_A) + struct.pack("!H", 4) + a.packed
        for a in v6a:
            answers += base(TYPE_AAAA) + struct.pack("!H", 16) + a.packed
        count = len(v4) + len(v6a)
    if not count:
        return _no("no_address_of_type")
    header = bytearray(frame[dns:dns + HEADER])
    header[2] |= 0x80
    struct.pack_into("!H", header, 6, count)
    struct.pack_into("!H", header, 10, 0)
    out = bytearray(frame[:dns]) + header + frame[dns + HEADER:] + answers
    l4_len = udp_len + len(answers)
    struct.pack_into("!HH", out, l4_off + 4, l4_len, 0)
    if v6:
        struct.pack_into("!H", out, l3_off + 4, l4_len)
        pseudo = (sum(struct.unpack("!16H", bytes(out[l3_off + 8:l3_off + 40])))
                  + (l4_len >> 16) + (l4_len & 0xFFFF) + 17)
        struct.pack_into("!H", out, l4_off + 6, checksum(bytes(out[l4_off:]), pseudo) or 0xFFFF)
    else:
        struct.pack_into("!H", out, l3_off + 2, l4_off - l3_off + l4_len)
        struct.pack_into("!H", out, l3_off + 10, 0)
        struct.pack_into("!H", out, l3_off + 10, checksum(bytes(out[l3_off:l3_off + 20])))
    return DnsAnswer(bytes(out), "dns_answer")
