"""dns_lookup on the punt path without a kernel: A, AAAA, ANY and PTR answers from the SB
DNS rows of the packet's datapath, the response's bytes, and what is left unanswered
(result 0, the query resumes as it was)."""
import struct

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from controller.db import rows
from controller.punt import dns as D
from controller.punt import packets as P
from controller.punt.event import CONSUME, STAGE_INGRESS, encode_event
from controller.punt.handler import HANDLED, PuntHandler

LS1, LS2 = "dp-ls1", "dp-ls2"
RECORDS = (("11.1.0.10.in-addr.arpa", "vm1.ovn.org"), ("vm1.ovn.org", "10.0.1.11 fd00::11 10.0.1.111"))


def state(dns_id="1"):
    flows = [rows.LogicalFlow("f-dns", (LS1, LS2), "ingress", 19, 100, "udp.dst == 53",
                              "reg0[4] = dns_lookup(); next;", "ls_in_dns_lookup")]
    return rows.SBState(
        datapaths=(rows.DatapathBinding(LS1, 1, "ls1", False), rows.DatapathBinding(LS2, 2, "ls2", False)),
        ports=(rows.PortBinding("p1", "lsp-vm1", LS1, 1, "", (), (), "hv1", True),),
        flows=tuple(flows), dns=(rows.DNS("d1", dns_id, (LS1,), RECORDS),))


def query(name, qtype="A", v6=False, **dns):
    l3 = IPv6(src="fd00::11", dst="fd00::1") if v6 else IP(src="10.0.1.11", dst="10.0.1.1", id=5)
    return bytes(Ether(src="0a:00:00:00:01:01", dst="02:00:00:00:01:01") / l3 / UDP(sport=5353, dport=53)
                 / DNS(id=0x4242, rd=1, qd=DNSQR(qname=name, qtype=qtype), **dns))


def handle(frame, dp=1, dns_id="1"):
    h = PuntHandler(state(dns_id), {3: "f-dns"})
    flow = P.parse(frame)
    flow.update({"dp": dp, "inport": 1})
    r = h.handle_bytes(encode_event(CONSUME, 3, STAGE_INGRESS, flow, frame))
    return r, r.injections[0] if r.injections else None


def test_dns_lookup_is_handled():
    assert "dns_lookup" in HANDLED


def test_a_query_answers_every_ipv4_address_in_order():
    r, inj = handle(query("VM1.ovn.org"))
    assert r.outcome == "dns_answer" and inj.meta["reg[0]"] >> 4 & 1 and inj.table == 20
    got = Ether(inj.frame)
    assert got[DNS].qr == 1 and got[DNS].id == 0x4242 and got[DNS].ancount == 2 and got[DNS].arcount == 0
    assert [got[DNS].an[i].rdata for i in range(2)] == ["10.0.1.11", "10.0.1.111"]
    assert got[DNS].an[0].ttl == 3600 and got[DNS].an[0].rrname == b"VM1.ovn.org."
    assert got[UDP].chksum == 0 and got[IP].chksum == IP(bytes(got[IP]))[IP].chksum
    # the question and its name are copied as the client wrote them
    q = query("VM1.ovn.org")
    assert inj.frame[42:len(q)] == bytes([0x42, 0x42, q[44] | 0x80]) + q[45:46] + bytes([0, 1, 0, 2, 0, 0, 0, 0]) + q[54:]


def test_aaaa_any_and_ptr():
    _, inj = handle(query("vm1.ovn.org", "AAAA", v6=True))
    got = Ether(inj.frame)
    assert got[DNS].ancount == 1 and got[DNS].an[0].rdata == "fd00::11"
    ip6 = bytes(got[IPv6])
    pseudo = sum(struct.unpack("!16H", ip6[8:40])) + len(ip6) - 40 + 17
    assert P.checksum(ip6[40:], pseudo) == 0
    _, inj = handle(query("vm1.ovn.org", "ALL"))
    assert Ether(inj.frame)[DNS].ancount == 3
    _, inj = handle(query("11.1.0.10.in-addr.arpa", "PTR"))
    ans = Ether(inj.frame)[DNS].an[0]
    assert ans.type == 12 and ans.rdata == b"vm1.ovn.org."
    assert inj.frame.endswith(bytes([3]) + b"vm1" + bytes([3]) + b"ovn" + bytes([3]) + b"org\x00")


def test_unanswered_queries_resume_as_they_were_with_result_zero():
    for frame, kw, outcome in ((query("nope.ovn.org"), {}, "dns_no_record"),
                               (query("vm1.ovn.org", "MX"), {}, "dns_unsupported_type"),
                               (query("vm1.ovn.org"), {"dp": 2}, "dns_no_record"),
                               (query("vm1.ovn.org"), {"dns_id": ""}, "dns_no_record")):
        r, inj = handle(frame, **kw)
        assert r.outcome == outcome and inj.frame == frame and inj.meta["reg[0]"] == 0, outcome
    resp = bytearray(query("vm1.ovn.org"))
    resp[44] |= 0x80
    r, inj = handle(bytes(resp))
    assert r.outcome == "dns_not_a_query"


def test_ptr_target_with_a_trailing_dot_is_written_as_pinctrl_does():
    assert D._ptr_name("a.b.") == bytes([1]) + b"a" + bytes([1]) + b"b" + bytes([0, 0])
    assert D._ptr_name("a.b") == bytes([1]) + b"a" + bytes([1]) + b"b" + bytes([0])


def test_the_two_dns_response_flows_are_told_apart_by_their_actions_prerequisites():
    """northd writes both with the match `udp.dst == 53 && reg0[4]`; ovn-controller ANDs
    each with its actions' prerequisites (ip4 / ip6). Failed before: the planner saw one
    match in two shapes of one priority and the first (IPv4) took IPv6 queries too."""
    from controller.lflow.flows import LogicalFlow
    from controller.lflow.plan import build_plan
    acts = ("eth.dst <-> eth.src; {0}.src <-> {0}.dst; udp.dst = udp.src; udp.src = 53; "
            "outport = inport; flags.loopback = 1; output;")
    flows = [LogicalFlow("ls1", "ingress", 23, "ls_in_dns_response", 100, "udp.dst == 53 && reg0[4]",
                         acts.format(v), f"u-{v}") for v in ("ip4", "ip6")]
    plan = build_plan(flows)
    from controller.lflow.plan import lookup
    for eth_type, want in ((0x0800, "u-ip4"), (0x86DD, "u-ip6")):
        pkt = P.parse(query("vm1.ovn.org", v6=eth_type == 0x86DD))
        pkt["reg[0]"] = 1 << 4
        hit = lookup(plan, "ingress", 23, "ls1", pkt, lambda n: 1)
        assert hit is not None and hit.lflow == want, (hex(eth_type), hit)
