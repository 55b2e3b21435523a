"""The punt handler without a kernel: golden generated packets (icmp4 time exceeded for a
TTL=1 echo, port unreachable, ARP request, TCP RST), the resume point, MAC_Binding
learning from put_arp copies, and bad input counted, never raised."""
import ipaddress
import struct

from scapy.layers.inet import ICMP, IP, IPerror, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from controller.db import rows
from controller.punt import packets as P
from controller.punt.event import (CONSUME, COPY, RESUME_OUTPUT, RESUME_TABLE, STAGE_INGRESS,
                                   decode_event, encode_event)
from controller.punt.handler import PuntHandler

LR, LS1 = "dp-lr1", "dp-ls1"
TTL1 = ('icmp4 {eth.dst <-> eth.src; icmp4.type = 11; /* Time exceeded */ icmp4.code = 0; '
        '/* TTL exceeded in transit */ ip4.dst = ip4.src; ip4.src = 10.0.1.1 ; ip.ttl = 254; '
        'outport = "lrp-ls1"; flags.loopback = 1; output; };')
UNREACH = ('icmp4 {eth.dst <-> eth.src; ip4.dst <-> ip4.src; ip.ttl = 255; icmp4.type = 3; '
           'icmp4.code = 3; next; };')
ARPREQ = 'arp { eth.dst = ff:ff:ff:ff:ff:ff; arp.spa = reg1; arp.tpa = reg0; arp.op = 1; output; };'
RST = 'tcp_reset {eth.dst <-> eth.src; ip4.dst <-> ip4.src; next; };'
VM1_MAC, RTR_MAC = "0a:00:00:00:01:01", "02:00:00:00:01:01"


def state():
    flows = [rows.LogicalFlow("f-ttl1", (LR,), "ingress", 3, 31, "ip.ttl == {0, 1}", TTL1, "lr_in_ip_input"),
             rows.LogicalFlow("f-udp", (LR,), "ingress", 3, 80, "udp", UNREACH, "lr_in_ip_input"),
             rows.LogicalFlow("f-arp", (LR,), "ingress", 21, 100, "ip4", ARPREQ, "lr_in_arp_request"),
             rows.LogicalFlow("f-rst", (LR,), "ingress", 3, 80, "tcp", RST, "lr_in_ip_input"),
             rows.LogicalFlow("f-put", (LR,), "ingress", 2, 90, "arp",
                              "put_arp(inport, arp.spa, arp.sha); next;", "lr_in_learn_neighbor"),
             rows.LogicalFlow("f-svc", (LR,), "ingress", 25, 110, "tcp", "handle_svc_check(inport);", "x")]
    return rows.SBState(
        datapaths=(rows.DatapathBinding(LR, 3, "lr1", True), rows.DatapathBinding(LS1, 1, "ls1", False)),
        ports=(rows.PortBinding("p1", "lrp-ls1", LR, 1, "patch", (), (), None, True),
               rows.PortBinding("p2", "lrp-ls2", LR, 2, "patch", (), (), None, True),
               rows.PortBinding("p3", "lsp-vm1", LS1, 1, "", (), (), "hv1", True)),
        flows=tuple(flows))


COOKIES = {1: "f-ttl1", 2: "f-udp", 3: "f-arp", 4: "f-rst", 5: "f-put", 6: "f-svc"}


def punt(frame, cookie, kind=CONSUME, what=0, **meta):
    flow = P.parse(bytes(frame))
    flow.update({"dp": 3, "inport": 1, **meta})
    return encode_event(kind, cookie, STAGE_INGRESS, flow, bytes(frame), what)


def echo(ttl=1, payload=b"abcdefgh" * 7):
    return (Ether(src=VM1_MAC, dst=RTR_MAC) /
            IP(src="10.0.1.11", dst="10.0.2.15", ttl=ttl, id=7) / ICMP(type=8, id=1, seq=1) / payload)


def test_time_exceeded_for_a_ttl1_echo_golden_bytes():
    h = PuntHandler(state(), COOKIES)
    orig = echo()
    r = h.handle_bytes(punt(orig, 1))
    assert r.outcome == "icmp4" and len(r.injections) == 1
    inj = r.injections[0]
    assert (inj.stage, inj.resume, inj.meta["outport"], inj.meta["flags"] & 1) == (STAGE_INGRESS, RESUME_OUTPUT, 1, 1)
    inner = bytes(orig)[14:]
    ip = bytes.fromhex("4500") + struct.pack("!H", 20 + 8 + len(inner)) + bytes.fromhex(
        "00004000fe01") + b"\0\0" + bytes([10, 0, 1, 1, 10, 0, 1, 11])
    ip = ip[:10] + struct.pack("!H", P.checksum(ip)) + ip[12:]
    icmp = bytes([11, 0, 0, 0, 0, 0, 0, 0]) + inner
    icmp = icmp[:2] + struct.pack("!H", P.checksum(icmp)) + icmp[4:]
    want = bytes.fromhex("0a0000000101" "020000000101" "0800") + ip + icmp
    assert inj.frame == want
    # and scapy agrees that it is a well-formed time exceeded quoting our echo
    got = Ether(inj.frame)
    assert got[ICMP].type == 11 and got[IP].ttl == 254 and got[IPerror].ttl == 1
    assert got[IP].chksum == IP(bytes(got[IP]))[IP].chksum


def test_icmp4_quotes_at_most_576_bytes():
    r = PuntHandler(state(), COOKIES).handle_bytes(punt(echo(payload=b"x" * 1200), 1))
    assert len(r.injections[0].frame) == 576


def test_udp_to_the_router_is_port_unreachable_resumed_at_the_next_table():
    frame = Ether(src=VM1_MAC, dst=RTR_MAC) / IP(src="10.0.1.11", dst="10.0.1.1", ttl=64) / UDP(sport=5, dport=9) / b"hi"
    r = PuntHandler(state(), COOKIES).handle_bytes(punt(frame, 2))
    inj = r.injections[0]
    assert (inj.resume, inj.table) == (RESUME_TABLE, 4)
    got = Ether(inj.frame)
    assert (got[ICMP].type, got[ICMP].code, got[IP].src, got[IP].dst, got[IP].ttl) == (3, 3, "10.0.1.1", "10.0.1.11", 255)
    assert got.src == RTR_MAC and got.dst == VM1_MAC


def test_arp_request_for_an_unresolved_next_hop():
    frame = Ether(src="02:00:00:00:02:01", dst="00:00:00:00:00:00") / IP(src="10.0.1.11", dst="10.0.2.99", ttl=63) / ICMP()
    meta = {"reg[0]": P.ip4("10.0.2.99"), "reg[1]": P.ip4("10.0.2.1"), "outport": 2}
    r = PuntHandler(state(), COOKIES).handle_bytes(punt(frame, 3, **meta))
    inj = r.injections[0]
    got = Ether(inj.frame)
    assert inj.resume == RESUME_OUTPUT and inj.meta["outport"] == 2
    assert got.dst == "ff:ff:ff:ff:ff:ff" and got[ARP].op == 1
    assert (got[ARP].psrc, got[ARP].pdst, got[ARP].hwsrc) == ("10.0.2.1", "10.0.2.99", "02:00:00:00:02:01")


def test_tcp_reset():
    frame = Ether(src=VM1_MAC, dst=RTR_MAC) / IP(src="10.0.1.11", dst="10.0.1.1") / TCP(sport=1000, dport=80, flags="S", seq=41)
    got = Ether(PuntHandler(state(), COOKIES).handle_bytes(punt(frame, 4)).injections[0].frame)
    assert (got[TCP].sport, got[TCP].dport, str(got[TCP].flags), got[TCP].ack) == (80, 1000, "RA", 42)
    assert got[IP].src == "10.0.1.1"
    fresh = got.copy()
    del fresh[TCP].chksum
    assert Ether(bytes(fresh))[TCP].chksum == got[TCP].chksum


def test_put_arp_copy_learns_a_mac_binding():
    frame = Ether(src="0a:00:00:00:02:06", dst=RTR_MAC) / ARP(op=2, hwsrc="0a:00:00:00:02:06", psrc="10.0.2.99",
                                                               hwdst=RTR_MAC, pdst="10.0.2.1")
    r = PuntHandler(state(), COOKIES).handle_bytes(punt(frame, 5, kind=COPY, what=1, inport=2))
    assert r.bindings[0].logical_port == "lrp-ls2" and r.bindings[0].ip == "10.0.2.99"
    assert r.bindings[0].mac == "0a:00:00:00:02:06" and r.bindings[0].datapath == LR


def test_bad_input_is_counted_not_raised():
    h = PuntHandler(state(), COOKIES)
    assert h.handle_bytes(b"\x01\x02").outcome == "short_event"
    good = punt(echo(), 1)
    assert h.handle_bytes(good[:-60] + b"").outcome in ("short_frame",)
    assert h.handle_bytes(punt(echo(), 99)).outcome == "unknown_cookie"
    arp = Ether() / ARP()
    assert h.handle_bytes(punt(arp, 1)).outcome == "bad_packet_wrong_packet_type"
    assert h.handle_bytes(punt(echo(), 6)).outcome == "ignored_handle_svc_check"
    assert h.counters["unknown_cookie"] == 1 and h.counters["short_event"] == 1


def test_generated_packets_carry_their_depth_and_a_loop_is_cut():
    h = PuntHandler(state(), COOKIES)
    assert h.handle_bytes(punt(echo(), 1)).injections[0].meta["punt_depth"] == 1
    assert h.handle_bytes(punt(echo(), 1, punt_depth=3)).injections[0].meta["punt_depth"] == 4
    assert h.handle_bytes(punt(echo(), 1, punt_depth=4)).outcome == "punt_loop"
    assert h.counters["punt_loop"] == 1


def test_event_round_trip():
    data = punt(echo(), 1)
    ev = decode_event(data)
    assert ev.cookie == 1 and ev.flow["ip_ttl"] == 1 and ev.frame == bytes(echo())


# ---- IPv6: ND (issue 15) ---------------------------------------------------------------

NDNA = ('nd_na { eth.src = 0a:00:00:00:01:01; ip6.src = fd00:0:0:1::11; nd.target = fd00:0:0:1::11; '
        'nd.tll = 0a:00:00:00:01:01; outport = inport; flags.loopback = 1; output; };')
NDNS = 'nd_ns { nd.target = xxreg0; output; };'


def v6_state():
    flows = [rows.LogicalFlow("f-na", (LS1,), "ingress", 19, 50, "nd_ns", NDNA, "ls_in_arp_rsp"),
             rows.LogicalFlow("f-ns", (LR,), "ingress", 21, 100, "ip6", NDNS, "lr_in_arp_request")]
    base = state()
    return rows.SBState(datapaths=base.datapaths,
                        ports=base.ports + (rows.PortBinding("p4", "lsp-vm2", LS1, 2, "", (), (), "hv1", True),),
                        flows=tuple(flows))


def _icmp6_ok(frame: bytes) -> bool:
    from scapy.layers.inet6 import IPv6
    ip = Ether(frame)[IPv6]
    raw = bytes(ip.payload)
    pseudo = P._pseudo6(bytes(ip)[8:24], bytes(ip)[24:40], 58, len(raw))
    return P.checksum(raw, pseudo) == 0


def test_nd_na_goes_back_out_of_the_soliciting_port():
    """outport = inport in the nested actions: the evaluator read a string field as 0, so
    the answer was injected with outport 0 and dropped UNKNOWN_OUTPORT (failed before)."""
    from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6
    ns = (Ether(src="0a:00:00:00:01:02", dst="33:33:ff:00:00:11") /
          IPv6(src="fd00:0:0:1::12", dst="ff02::1:ff00:11", hlim=255) /
          ICMPv6ND_NS(tgt="fd00:0:0:1::11") / ICMPv6NDOptSrcLLAddr(lladdr="0a:00:00:00:01:02"))
    r = PuntHandler(v6_state(), {1: "f-na"}).handle_bytes(punt(ns, 1, dp=1, inport=2))
    inj = r.injections[0]
    assert inj.resume == RESUME_OUTPUT and inj.meta["outport"] == 2 and inj.meta["flags"] & 1
    got = Ether(inj.frame)
    assert (got.src, got.dst) == ("0a:00:00:00:01:01", "0a:00:00:00:01:02")
    assert (got[IPv6].src, got[IPv6].dst, got[IPv6].hlim) == ("fd00:0:0:1::11", "fd00:0:0:1::12", 255)
    assert got[ICMPv6ND_NA].tgt == "fd00:0:0:1::11" and got[ICMPv6ND_NA].S == 1
    assert got[ICMPv6NDOptDstLLAddr].lladdr == "0a:00:00:00:01:01"
    assert _icmp6_ok(inj.frame)


def test_nd_ns_for_an_unresolved_next_hop_is_well_formed():
    """The solicited-node prefix was 14 bytes: ff02::1ff:0, the payload a byte late and
    its type read as 153 (failed before)."""
    from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
    frame = (Ether(src="02:00:00:00:02:01", dst="00:00:00:00:00:00") /
             IPv6(src="fd00:0:0:1::11", dst="fd00:0:0:2::99", hlim=63) / ICMPv6EchoRequest())
    target = int(ipaddress.IPv6Address("fd00:0:0:2::99"))
    meta = {f"reg[{i}]": (target >> (96 - 32 * i)) & 0xFFFFFFFF for i in range(4)}
    r = PuntHandler(v6_state(), {3: "f-ns"}).handle_bytes(punt(frame, 3, outport=2, **meta))
    inj = r.injections[0]
    got = Ether(inj.frame)
    assert inj.resume == RESUME_OUTPUT and inj.meta["outport"] == 2
    assert got.dst == "33:33:ff:00:00:99" and got[IPv6].dst == "ff02::1:ff00:99"
    assert got[IPv6].plen == 32 and got[IPv6].nh == 58 and got[IPv6].hlim == 255
    assert got[ICMPv6ND_NS].type == 135 and got[ICMPv6ND_NS].tgt == "fd00:0:0:2::99"
    assert got[ICMPv6NDOptSrcLLAddr].lladdr == "02:00:00:00:02:01"
    assert _icmp6_ok(inj.frame)


TTL1_V6 = ('icmp6 {eth.dst <-> eth.src; ip6.dst = ip6.src; ip6.src = fd00:0:0:1::1 ; ip.ttl = 254; '
           'icmp6.type = 3; icmp6.code = 0; outport = "lrp-ls1"; flags.loopback = 1; output; };')


def test_icmp6_time_exceeded_quotes_the_invoking_packet():
    """RFC 4443: as much of the invoking packet as fits 1280 bytes. Only its 40-byte IPv6
    header was quoted, so the sender's stack could not match the error to its socket
    (ping -6 -t 1 saw nothing; failed before)."""
    from scapy.layers.inet6 import ICMPv6EchoRequest, ICMPv6TimeExceeded, IPerror6, IPv6
    flows = (rows.LogicalFlow("f-t6", (LR,), "ingress", 3, 31, "ip6 && ip.ttl == {0, 1}", TTL1_V6,
                              "lr_in_ip_input"),)
    st = rows.SBState(datapaths=state().datapaths, ports=state().ports, flows=flows)
    frame = (Ether(src=VM1_MAC, dst=RTR_MAC) / IPv6(src="fd00:0:0:1::11", dst="fd00:0:0:2::15", hlim=1)
             / ICMPv6EchoRequest(id=9, seq=3, data=b"z" * 2000))
    inj = PuntHandler(st, {1: "f-t6"}).handle_bytes(punt(frame, 1)).injections[0]
    got = Ether(inj.frame)
    assert (got[IPv6].src, got[IPv6].dst, got[IPv6].hlim) == ("fd00:0:0:1::1", "fd00:0:0:1::11", 254)
    assert got[ICMPv6TimeExceeded].type == 3 and got[ICMPv6TimeExceeded].code == 0
    assert len(inj.frame) == 1280          # with Ethernet, as OVN's pinctrl (test_punt_vs_ovn.py)
    assert bytes(got[IPerror6])[:40 + 8] == bytes(frame[IPv6])[:48]      # header + echo id/seq
    assert _icmp6_ok(inj.frame)
