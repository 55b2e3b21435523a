"""DHCPv6 on the punt path: `R = put_dhcpv6_opts(ia_addr = A, server_id = M, ...)` as
ovn-controller's pinctrl answers it (ovn-sb(5); semantics read from OVN's
controller/pinctrl.c and lib/actions.c, our own code). Stateful (an IA_NA with ia_addr)
and stateless (Information-Request, or northd's dhcpv6_stateless: no ia_addr).

Answered: SOLICIT -> ADVERTISE; REQUEST, CONFIRM, DECLINE, INFORMATION-REQUEST -> REPLY,
when the request carries a Client Identifier and (but for an Information-Request) an
IA_NA. Anything else is left as it was with R = 0.

The reply, byte for byte as pinctrl makes it: Ethernet and IPv6 headers copied (payload
length recomputed), the UDP header copied (length and checksum recomputed), the message
type and the request's transaction id, the request's Client Identifier option, then per
argument in the order written: server_id as a DUID-LL (type 3, hardware type 1, the MAC);
ia_addr as an IA_NA with the request's IAID, T1 = T2 = infinity, holding the IA Address
with both lifetimes infinite (left out for an Information-Request); dns_server as is;
domain_search as a length byte, the text and a zero (OVN's encoding).
"""
from __future__ import annotations

import ipaddress
import struct

from .dhcp import Answer, DhcpError, assignments
from .packets import checksum

__all__ = ["OPTIONS6", "put_dhcpv6_opts", "parse_options6"]

OPTIONS6 = {"server_id": (2, "mac"), "ia_addr": (5, "ipv6"), "dns_server": (23, "ipv6"),
            "domain_search": (24, "str")}
CLIENT_ID, IA_NA = 1, 3
SOLICIT, ADVERTISE, REQUEST, CONFIRM, REPLY, DECLINE, INFO_REQ = 1, 2, 3, 4, 7, 9, 11
INFINITY = 0xFFFFFFFF


def parse_options6(text: str) -> list:
    """[(code, kind, payload bytes)] in the order written."""
    out = []
    for name, code, typ, vals in assignments(text, OPTIONS6):
        try:
            if typ == "ipv6":
                payload = b"".join(ipaddress.IPv6Address(v).packed for k, v in vals if k == "word")
            elif typ == "mac":
                payload = bytes.fromhex(vals[0][1].replace(":", ""))
                if len(payload) != 6:
                    raise ValueError(vals[0][1])
            else:
                payload = vals[0][1].encode() if vals[0][0] == "str" else b""
        except (ValueError, IndexError):
            raise DhcpError("bad_arguments", f"{name}: {vals}") from None
        if not payload or len(vals) != (len(payload) // 16 if typ == "ipv6" else 1):
            raise DhcpError("bad_arguments", f"{name}: {vals}")
        out.append((code, typ, payload))
    return out


def _options(args: list, iaid: bytes | None) -> bytes:
    out = b""
    for code, typ, payload in args:
        if code == 2:                       # server_id: DUID-LL
            out += struct.pack("!HHHH", 2, len(payload) + 4, 3, 1) + payload
        elif code == 5:
            if len(payload) != 16:
                raise DhcpError("bad_arguments", "ia_addr is one address")
            if iaid is None:                # an Information-Request gets no address
                continue
            ia_addr = struct.pack("!HH", 5, 24) + payload + struct.pack("!II", INFINITY, INFINITY)
            out += struct.pack("!HH", IA_NA, 12 + len(ia_addr)) + iaid + struct.pack("!II", INFINITY, INFINITY) + ia_addr
        elif code == 23:
            out += struct.pack("!HH", 23, len(payload)) + payload
        else:                               # domain_search, as OVN encodes it
            out += struct.pack("!HHB", 24, len(payload) + 2, len(payload)) + payload + b"\x00"
    return out


def put_dhcpv6_opts(frame: bytes, l3_off: int, l4_off: int, opts_text: str) -> Answer:
    args = parse_options6(opts_text)
    if not args:
        return Answer(None, "dhcpv6_no_options")
    if not l4_off or len(frame) < l4_off + 8 + 4:
        return Answer(None, "dhcpv6_bad_request", "truncated")
    d = l4_off + 8
    msg = frame[d]
    reply = {SOLICIT: ADVERTISE, REQUEST: REPLY, CONFIRM: REPLY, DECLINE: REPLY, INFO_REQ: REPLY}.get(msg)
    if reply is None:
        return Answer(None, "dhcpv6_unanswered_type", f"message type {msg}")
    udp_len = struct.unpack("!H", frame[l4_off + 4:l4_off + 6])[0]
    end = l4_off + min(udp_len, len(frame) - l4_off)
    i, iaid, client_id = d + 4, None, None
    while i + 4 <= end:
        code, length = struct.unpack("!HH", frame[i:i + 4])
        if code == IA_NA and i + 8 <= end:
            iaid = frame[i + 4:i + 8]
        elif code == CLIENT_ID and i + 4 + length <= end:
            client_id = frame[i:i + 4 + length]
        i += 4 + length
    if client_id is None:
        return Answer(None, "dhcpv6_bad_request", "no Client Identifier")
    if iaid is None and msg != INFO_REQ:
        return Answer(None, "dhcpv6_bad_request", "no IA_NA")
    body = bytes([reply]) + frame[d + 1:d + 4] + client_id + _options(args, iaid)
    l4_len = 8 + len(body)
    out = bytearray(frame[:l4_off]) + frame[l4_off:l4_off + 4] + struct.pack("!HH", l4_len, 0) + body
    struct.pack_into("!H", out, l3_off + 4, l4_len)
    pseudo = sum(struct.unpack("!16H", bytes(out[l3_off + 8:l3_off + 40]))) + l4_len + 17
    struct.pack_into("!H", out, l4_off + 6, checksum(bytes(out[l4_off:]), pseudo) or 0xFFFF)
    return Answer(bytes(out), "dhcpv6_advertise" if reply == ADVERTISE else "dhcpv6_reply")
