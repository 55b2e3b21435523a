"""put_dhcpv6_opts on the punt path without a kernel: SOLICIT -> ADVERTISE and REQUEST ->
REPLY with an IA_NA (stateful), INFORMATION-REQUEST -> REPLY without one (stateless), the
option bytes OVN writes, and requests left unanswered (result 0)."""
import struct

from scapy.layers.dhcp6 import (DHCP6_InfoRequest, DHCP6_Request, DHCP6_Solicit, DHCP6OptClientId,
                                DHCP6OptIA_NA, DUID_LL)
from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from controller.db import rows
from controller.punt import packets as P
from controller.punt.event import CONSUME, STAGE_INGRESS, encode_event
from controller.punt.handler import HANDLED, PuntHandler

LS1 = "dp-ls1"
ARGS = ("ia_addr = fd00::11, dns_server = {fd00::1, fd00::2}, domain_search = \"ovn.org\", "
        "server_id = 02:00:00:00:01:01")


def handle(frame, args=ARGS):
    flow = rows.LogicalFlow("f6", (LS1,), "ingress", 20, 100, "udp.dst == 547",
                            f"reg0[3] = put_dhcpv6_opts({args}); next;", "ls_in_dhcp_options")
    st = rows.SBState(datapaths=(rows.DatapathBinding(LS1, 1, "ls1", False),),
                      ports=(rows.PortBinding("p1", "lsp-vm1", LS1, 1, "", (), (), "hv1", True),),
                      flows=(flow,))
    h = PuntHandler(st, {4: "f6"})
    f = P.parse(frame)
    f.update({"dp": 1, "inport": 1})
    r = h.handle_bytes(encode_event(CONSUME, 4, STAGE_INGRESS, f, frame))
    return r, r.injections[0] if r.injections else None


def request(msg, ia=True):
    m = msg(trid=0xABCDEF) / DHCP6OptClientId(duid=DUID_LL(lladdr="0a:00:00:00:01:01"))
    if ia:
        m = m / DHCP6OptIA_NA(iaid=0x01020304)
    return bytes(Ether(src="0a:00:00:00:01:01", dst="33:33:00:01:00:02")
                 / IPv6(src="fe80::800:ff:fe00:101", dst="ff02::1:2") / UDP(sport=546, dport=547) / m)


def test_put_dhcpv6_opts_is_handled():
    assert "put_dhcpv6_opts" in HANDLED


def test_solicit_gets_an_advertise_with_the_options_ovn_writes():
    req = request(DHCP6_Solicit)
    r, inj = handle(req)
    assert r.outcome == "dhcpv6_advertise" and inj.meta["reg[0]"] >> 3 & 1 and inj.table == 21
    f = inj.frame
    d = 14 + 40 + 8
    client_id = req[d + 4:d + 4 + 4 + struct.unpack("!H", req[d + 6:d + 8])[0]]
    ia_addr = struct.pack("!HH", 5, 24) + bytes.fromhex("fd000000000000000000000000000011") + b"\xff" * 8
    want = (bytes([2]) + bytes.fromhex("abcdef") + client_id
            + struct.pack("!HHI", 3, 40, 0x01020304) + b"\xff" * 8 + ia_addr
            + struct.pack("!HH", 23, 32) + bytes.fromhex("fd00" + "00" * 13 + "01" + "fd00" + "00" * 13 + "02")
            + struct.pack("!HHB", 24, 9, 7) + b"ovn.org\x00"
            + struct.pack("!HHHH", 2, 10, 3, 1) + bytes.fromhex("020000000101"))
    assert f[d:] == want
    assert f[:d - 8] == req[:18] + struct.pack("!H", 8 + len(want)) + req[20:d - 8]
    ip6 = f[14:]
    pseudo = sum(struct.unpack("!16H", ip6[8:40])) + len(ip6) - 40 + 17
    assert P.checksum(ip6[40:], pseudo) == 0


def test_request_reply_and_information_request_without_address():
    r, inj = handle(request(DHCP6_Request))
    assert r.outcome == "dhcpv6_reply" and inj.frame[62] == 7
    r, inj = handle(request(DHCP6_InfoRequest, ia=False))
    assert r.outcome == "dhcpv6_reply"
    assert struct.pack("!HH", 3, 40) not in inj.frame[62:]        # no IA_NA
    assert Ether(inj.frame)[UDP].len == len(inj.frame) - 54


def test_unanswered_requests_resume_with_result_zero():
    r, inj = handle(request(DHCP6_Solicit, ia=False))
    assert r.outcome == "dhcpv6_bad_request" and inj.meta["reg[0]"] == 0
