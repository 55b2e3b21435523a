"""DHCPv4 on the punt path: `R = put_dhcp_opts(offerip = A, name = value, ...)` as
ovn-controller's pinctrl carries it out (ovn-sb(5); semantics read from OVN's
controller/pinctrl.c and lib/actions.c, this is our own code).

The datapath punts the client's request at the flow; the handler calls `put_dhcp_opts()`
with the packet as the pipeline left it. When the request can be answered, the packet is
turned *in place* into the reply (op BOOTREPLY, your-address, the options) and R becomes 1;
otherwise the packet is left as it was and R becomes 0. Either way the flow's remaining
actions run and the packet resumes at the next table, where northd's `ls_in_dhcp_response`
flow (matching R) swaps the addresses and sends the reply back out of the inport.

What the reply holds, byte for byte as pinctrl makes it:
- Ethernet and IP headers copied from the request, IP destination = the offered address
  (255.255.255.255 when the request sets the broadcast flag), total length and header
  checksum recomputed; UDP header copied, length recomputed, checksum 0 (none);
- the 236-byte BOOTP header copied, op = 2, yiaddr = the offer (0 in a NAK or an INFORM
  answer), siaddr = next_server when given, else the request's (0 in a NAK);
- the magic cookie, option 53 (message type), the flow's options in the order OVN encodes
  them (offerip is not an option; bootfile_name, bootfile_name_alt and next_server
  first, then the rest as written), four zero bytes, END (255) and four zero bytes.
  A NAK carries option 53 only.

Message types: DISCOVER -> OFFER; REQUEST -> ACK if the requested address (option 50, else
ciaddr) is the offer, else NAK; INFORM -> ACK without netmask, lease time, T1 and T2 and
with yiaddr 0 (RFC 2131 3.4); RELEASE and DECLINE are logged, not answered; anything else
is not answered. `bootfile_name_alt` (254) replaces `bootfile_name` (67) unless the client
is iPXE (option 175 in its request): OVN's way of handing iPXE another file.
"""
from __future__ import annotations

import ipaddress
import logging
import struct
from dataclasses import dataclass

__all__ = ["OPTIONS", "DhcpError", "Option", "parse_options", "encode_options",
           "put_dhcp_opts", "Answer", "format_domains"]

log = logging.getLogger("ovnbpf.punt.dhcp")

# name -> (code, type): the DHCPv4 options OVN knows (its lib/ovn-l7.h; northd writes the
# same list into the SB DHCP_Options table).
OPTIONS = {
    "offerip": (0, "ipv4"), "netmask": (1, "ipv4"), "router": (3, "ipv4"),
    "dns_server": (6, "ipv4"), "log_server": (7, "ipv4"), "lpr_server": (9, "ipv4"),
    "hostname": (12, "str"), "domain_name": (15, "str"), "swap_server": (16, "ipv4"),
    "policy_filter": (21, "ipv4"), "router_solicitation": (32, "ipv4"),
    "nis_server": (41, "ipv4"), "ntp_server": (42, "ipv4"), "server_id": (54, "ipv4"),
    "tftp_server": (66, "host_id"), "classless_static_route": (121, "static_routes"),
    "ms_classless_static_route": (249, "static_routes"), "ip_forward_enable": (19, "bool"),
    "router_discovery": (31, "bool"), "ethernet_encap": (36, "bool"),
    "default_ttl": (23, "uint8"), "tcp_ttl": (37, "uint8"), "mtu": (26, "uint16"),
    "lease_time": (51, "uint32"), "T1": (58, "uint32"), "T2": (59, "uint32"),
    "bootfile_name": (67, "str"), "wpad": (252, "str"), "path_prefix": (210, "str"),
    "tftp_server_address": (150, "ipv4"), "domain_search_list": (119, "domains"),
    "broadcast_address": (28, "ipv4"), "netbios_name_server": (44, "ipv4"),
    "netbios_node_type": (46, "uint8"), "bootfile_name_alt": (254, "str"),
    "arp_cache_timeout": (35, "uint32"), "tcp_keepalive_interval": (38, "uint32"),
    "next_server": (253, "ipv4"),
}
OPT_PAD, OPT_END, OPT_REQ_IP, OPT_MSG_TYPE, OPT_ETHERBOOT = 0, 255, 50, 53, 175
OPT_BOOTFILE, OPT_BOOTFILE_ALT, OPT_NEXT_SERVER = 67, 254, 253
NOT_IN_INFORM = (1, 51, 58, 59)         # netmask, lease time, T1, T2 (RFC 2131 3.4)
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8
MAGIC = 0x63825363
BOOTP_LEN = 236
BROADCAST_FLAG = 0x8000
TYPE_NAMES = {OFFER: "OFFER", ACK: "ACK", NAK: "NAK"}


class DhcpError(ValueError):
    """Arguments the action cannot encode, or a request it cannot answer; `reason` names
    the counter."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Option:
    name: str
    code: int
    kind: str
    values: tuple        # ints (addresses, numbers), (addr, prefix) for routes, or a str


# ---- the action's arguments: `offerip = 10.0.0.2, dns_server = {8.8.8.8, 1.1.1.1}` ----------

def _tokens(text: str):
    """Words, strings ("..." with backslash escapes) and the punctuation = , { }."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "=,{}":
            yield c, c
            i += 1
        elif c == '"':
            out, i = [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                    out.append({"n": "\n", "t": "\t"}.get(text[i], text[i]))
                else:
                    out.append(text[i])
                i += 1
            if i >= n:
                raise DhcpError("bad_arguments", "unterminated string")
            i += 1
            yield "str", "".join(out)
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '=,{}"':
                j += 1
            yield "word", text[i:j]
            i = j


def _values(toks: list, pos: int):
    """One value or a {set}: (list of (kind, text), next position)."""
    if toks[pos][0] == "{":
        out, pos = [], pos + 1
        while toks[pos][0] != "}":
            if toks[pos][0] == ",":
                pos += 1
                continue
            out.append(toks[pos])
            pos += 1
        return out, pos + 1
    return [toks[pos]], pos + 1


def _ip4(text: str) -> tuple[int, int]:
    """(address, prefix length) of `a.b.c.d`, `a.b.c.d/N` or `a.b.c.d/m.a.s.k`."""
    try:
        if "/" in text:
            net = ipaddress.IPv4Network(text, strict=False)
            return int(ipaddress.IPv4Address(text.split("/")[0])), net.prefixlen
        return int(ipaddress.IPv4Address(text)), 32
    except ValueError:
        raise DhcpError("bad_arguments", f"{text!r} is not an IPv4 address") from None


def _int(text: str, bits: int) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise DhcpError("bad_arguments", f"{text!r} is not an integer") from None
    if not 0 <= v < 1 << bits:
        raise DhcpError("bad_arguments", f"{v} does not fit in {bits} bits")
    return v


def assignments(text: str, table: dict):
    """`name = value, ...` of a put_dhcp(v6)_opts action, in the order written:
    (name, code, type, [(token kind, text)]) for each name `table` knows."""
    toks = list(_tokens(text)) + [("end", "")]
    pos = 0
    while toks[pos][0] != "end":
        kind, name = toks[pos]
        if kind != "word" or toks[pos + 1][0] != "=":
            raise DhcpError("bad_arguments", f"expected 'name = value' at {name!r}")
        if name not in table:
            raise DhcpError("unknown_option", name)
        code, typ = table[name]
        vals, pos = _values(toks, pos + 2)
        yield name, code, typ, vals
        if toks[pos][0] == ",":
            pos += 1


def parse_options(text: str, table: dict = OPTIONS) -> list[Option]:
    """The action's arguments as options, in the order written; offerip is required."""
    out = []
    for name, code, typ, vals in assignments(text, table):
        if not vals or any(k not in ("word", "str") for k, _ in vals):
            raise DhcpError("bad_arguments", f"{name}: no value")
        out.append(Option(name, code, typ, _typed(name, typ, vals)))
    if not any(o.code == 0 for o in out):
        raise DhcpError("bad_arguments", "put_dhcp_opts requires offerip")
    return out


def _typed(name: str, typ: str, vals: list) -> tuple:
    strings = [v for k, v in vals if k == "str"]
    if typ in ("str", "domains"):
        if len(vals) != 1 or not strings:
            raise DhcpError("bad_arguments", f"{name} takes one string")
        return (strings[0],)
    if typ == "host_id":        # a name or an address
        if len(vals) != 1:
            raise DhcpError("bad_arguments", f"{name} takes one value")
        return (strings[0],) if strings else (_ip4(vals[0][1])[0],)
    if strings:
        raise DhcpError("bad_arguments", f"{name} takes no string")
    if typ == "ipv4":
        return tuple(_ip4(v)[0] for _, v in vals)
    if typ == "static_routes":
        return tuple(_ip4(v) for _, v in vals)
    bits = {"bool": 8, "uint8": 8, "uint16": 16, "uint32": 32}[typ]
    if len(vals) != 1:
        raise DhcpError("bad_arguments", f"{name} takes one value")
    return (_int(vals[0][1], bits),)


# ---- option bytes, as lib/actions.c encodes them for pinctrl -----------------------------------

def format_domains(text: str) -> bytes:
    """A comma-separated list of domains as RFC 1035 names with compression pointers
    (RFC 3397). OVN keys the suffixes it has written by their text without its last
    character; we do the same so that our bytes are its bytes."""
    out = bytearray()
    seen: dict[str, int] = {}
    for domain in (d for d in text.split(",") if d):
        if len(domain) > 255:
            raise DhcpError("bad_arguments", "domain names longer than 255 characters")
        labels = [l for l in domain.split(".") if l]
        ended = False
        for i in range(len(labels)):
            key = ".".join(labels[i:])[:-1]
            if key in seen:
                out += struct.pack("!H", 0xC000 | seen[key])
                ended = True
                break
            seen[key] = len(out)
            out += bytes([len(labels[i])]) + labels[i].encode()
        if not ended:
            out.append(0)
    return bytes(out)


def _option_bytes(o: Option) -> bytes:
    t, v = o.kind, o.values
    if t in ("bool", "uint8"):
        body = struct.pack("!B", v[0])
    elif t == "uint16":
        body = struct.pack("!H", v[0])
    elif t == "uint32":
        body = struct.pack("!I", v[0])
    elif t == "ipv4":
        body = b"".join(struct.pack("!I", a) for a in v)
    elif t == "static_routes":
        body = b""
        for (dst, plen), (gw, _) in zip(v[0::2], v[1::2]):   # an odd last value is ignored
            body += bytes([plen]) + struct.pack("!I", dst)[:(plen + 7) // 8] + struct.pack("!I", gw)
    elif t == "domains":
        body = format_domains(v[0])
    elif isinstance(v[0], str):      # str, host_id as a name
        body = v[0].encode()
    else:                            # host_id as an address
        body = struct.pack("!I", v[0])
    if len(body) > 255:
        raise DhcpError("bad_arguments", f"{o.name}: {len(body)} bytes do not fit an option")
    return bytes([o.code, len(body)]) + body


def encode_options(opts: list[Option]) -> tuple[int, bytes]:
    """(offered address, the option bytes pinctrl gets): bootfile_name, bootfile_name_alt
    and next_server first, then the others as written; offerip is not an option."""
    offer = next(o for o in opts if o.code == 0).values[0]
    first = [next((o for o in opts if o.code == c), None)
             for c in (OPT_BOOTFILE, OPT_BOOTFILE_ALT, OPT_NEXT_SERVER)]
    rest = [o for o in opts if o.code != 0 and o not in first]
    return offer, b"".join(_option_bytes(o) for o in [f for f in first if f] + rest)


def _walk(buf: bytes):
    """(offset, code, payload) of each option up to END; stops at a truncated one."""
    i = 0
    while i < len(buf):
        code = buf[i]
        if code == OPT_END:
            return
        if code == OPT_PAD:
            i += 1
            continue
        if i + 2 > len(buf) or i + 2 + buf[i + 1] > len(buf):
            return
        yield i, code, buf[i + 2:i + 2 + buf[i + 1]]
        i += 2 + buf[i + 1]


# ---- the answer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    frame: bytes | None      # the reply (None: not answered, the packet resumes as it was)
    outcome: str             # dhcp_offer, dhcp_ack, dhcp_nak, dhcp_release, ... (counter name)
    detail: str = ""


def _reply_options(userdata: bytes, ipxe: bool) -> tuple[bytes, int | None]:
    """The options as pinctrl puts them in the reply (bootfile_name_alt resolved), and
    next_server if given."""
    opts = [(code, payload) for _, code, payload in _walk(userdata)]
    next_server = next((struct.unpack("!I", p)[0] for c, p in opts
                        if c == OPT_NEXT_SERVER and len(p) == 4), None)
    codes = [c for c, _ in opts]
    if OPT_BOOTFILE in codes and codes.index(OPT_BOOTFILE) + 1 < len(codes) \
            and codes[codes.index(OPT_BOOTFILE) + 1] == OPT_BOOTFILE_ALT:
        i = codes.index(OPT_BOOTFILE)
        # iPXE keeps bootfile_name; anyone else gets bootfile_name_alt's file under 67
        opts[i:i + 2] = [opts[i]] if ipxe else [(OPT_BOOTFILE, opts[i + 1][1])]
    elif OPT_BOOTFILE_ALT in codes and OPT_BOOTFILE not in codes:
        i = codes.index(OPT_BOOTFILE_ALT)
        opts[i] = (OPT_BOOTFILE, opts[i][1])
    return b"".join(bytes([c, len(p)]) + p for c, p in opts), next_server


def put_dhcp_opts(frame: bytes, l3_off: int, l4_off: int, opts_text: str) -> Answer:
    """The reply to the DHCP request in `frame` (the packet at the punt, parsed offsets)
    for the action's arguments; DhcpError for arguments the action cannot encode."""
    offer, userdata = encode_options(parse_options(opts_text))
    if not l4_off or len(frame) < l4_off + 8 + BOOTP_LEN:
        return Answer(None, "dhcp_bad_request", "truncated DHCP packet")
    bootp = l4_off + 8
    if frame[bootp] != 1:
        return Answer(None, "dhcp_bad_request", f"op {frame[bootp]} is not BOOTREQUEST")
    opt0 = bootp + BOOTP_LEN
    if len(frame) < opt0 + 4 or struct.unpack("!I", frame[opt0:opt0 + 4])[0] != MAGIC:
        return Answer(None, "dhcp_bad_request", "no DHCP magic cookie")
    msg_type = None
    ciaddr, flags = struct.unpack("!I", frame[bootp + 12:bootp + 16])[0], \
        struct.unpack("!H", frame[bootp + 10:bootp + 12])[0]
    requested, ipxe = ciaddr, False
    for _, code, payload in _walk(frame[opt0 + 4:]):
        if code == OPT_MSG_TYPE and len(payload) == 1:
            msg_type = payload[0]
        elif code == OPT_REQ_IP and len(payload) == 4:
            requested = struct.unpack("!I", payload)[0]
        elif code == OPT_ETHERBOOT:
            ipxe = True
    mac = ":".join(f"{b:02x}" for b in frame[6:12])
    if msg_type is None:
        return Answer(None, "dhcp_bad_request", "no DHCP message type")
    if msg_type == DISCOVER:
        reply = OFFER
    elif msg_type == REQUEST:
        reply = ACK if requested == offer else NAK
    elif msg_type == INFORM:
        reply = ACK
        userdata = b"".join(bytes([c, len(p)]) + p for _, c, p in _walk(userdata)
                            if c not in NOT_IN_INFORM)
    elif msg_type == RELEASE:
        log.info("DHCPRELEASE %s %s", mac, ipaddress.IPv4Address(ciaddr))
        return Answer(None, "dhcp_release")
    elif msg_type == DECLINE:
        if requested == offer:
            log.info("DHCPDECLINE from %s, %s duplicated", mac, ipaddress.IPv4Address(offer))
        return Answer(None, "dhcp_decline")
    else:
        return Answer(None, "dhcp_bad_request", f"message type {msg_type} is not answered")

    opts, next_server = _reply_options(userdata, ipxe)
    if reply == NAK:
        opts = b""
    header = bytearray(frame[bootp:bootp + BOOTP_LEN])
    header[0] = 2                                             # BOOTREPLY
    if msg_type != INFORM:
        siaddr = 0 if reply == NAK else (next_server if next_server is not None
                                         else struct.unpack("!I", header[20:24])[0])
        struct.pack_into("!II", header, 16, 0 if reply == NAK else offer, siaddr)
    else:
        struct.pack_into("!I", header, 16, 0)
    dhcp = (bytes(header) + struct.pack("!I", MAGIC) + bytes([OPT_MSG_TYPE, 1, reply]) + opts
            + bytes(4) + bytes([OPT_END]) + bytes(4))
    udp = bytearray(frame[l4_off:l4_off + 8])
    struct.pack_into("!HH", udp, 4, 8 + len(dhcp), 0)
    out = bytearray(frame[:l4_off]) + udp + dhcp
    dst = 0xFFFFFFFF if flags & BROADCAST_FLAG else offer
    struct.pack_into("!I", out, l3_off + 16, dst)
    struct.pack_into("!H", out, l3_off + 2, l4_off - l3_off + len(udp) + len(dhcp))
    struct.pack_into("!H", out, l3_off + 10, 0)
    struct.pack_into("!H", out, l3_off + 10, _csum(bytes(out[l3_off:l3_off + 20])))
    log.info("DHCP%s %s %s", TYPE_NAMES[reply], mac, ipaddress.IPv4Address(offer))
    return Answer(bytes(out), f"dhcp_{TYPE_NAMES[reply].lower()}"
                  + ("_inform" if msg_type == INFORM else ""))


def _csum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
