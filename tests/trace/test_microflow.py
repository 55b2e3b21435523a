"""Microflow -> packet: golden frames, ovn-trace's defaults and its kinds of error."""
import pytest

from controller.db import rows
from controller.trace.bind import bind
from controller.trace.fields import assignments, diff
from controller.trace.frame import build_frame, frame_fields
from controller.trace.microflow import MicroflowError, MicroflowUnsupported, parse_microflow
from controller.trace.ofline import openflow_line

VM1 = 'inport == "lsp-vm1" && eth.src == 0a:00:00:00:01:01 && '

# (microflow, frame hex): built by hand from the field values, padded to 60 bytes.
GOLDEN = [
    (VM1 + "eth.dst == 0a:00:00:00:01:03 && ip4.src == 10.0.1.11 && ip4.dst == 10.0.1.13 && "
     "ip.ttl == 64 && icmp4.type == 8",
     "0a0000000103" "0a0000000101" "0800"
     "4500001c00000000" "4001" "64ca" "0a00010b" "0a00010d"   # IPv4, ttl 64, ICMP
     "0800f7ff00000000" + "00" * 18),                         # echo request, id/seq 0
    (VM1 + "eth.dst == ff:ff:ff:ff:ff:ff && arp.op == 1 && arp.sha == 0a:00:00:00:01:01 && "
     "arp.spa == 10.0.1.11 && arp.tpa == 10.0.1.1",
     "ffffffffffff" "0a0000000101" "0806" "0001080006040001"
     "0a0000000101" "0a00010b" "000000000000" "0a000101" + "00" * 18),
    # no eth.type: ovn-trace's dl_type=0x0000, every other bit 0
    ('inport == "p"', "00" * 60),
    ('inport == "p" && ip6 && udp.dst == 53 && vlan.tci == 0x1005',
     "000000000000" "000000000000" "8100" "0005" "86dd"
     "6000000000081100" + "00" * 32 + "00000035" "0008ffa9"),
]


@pytest.mark.parametrize("text,frame", GOLDEN)
def test_golden_frames(text, frame):
    m = parse_microflow(text)
    assert build_frame(m.fields).hex() == frame


@pytest.mark.parametrize("text,_", GOLDEN)
def test_frame_reads_back_as_the_same_fields(text, _):
    m = parse_microflow(text)
    assert diff(m.fields, frame_fields(build_frame(m.fields))) == {}


@pytest.mark.parametrize("text", [
    'inport == "p" && ip6 && nd_ns && nd.target == fe80::2 && nd.sll == 0a:00:00:00:00:01',
    'inport == "p" && ip6 && nd_na && nd.target == fe80::2 && nd.tll == 0a:00:00:00:00:01',
    'inport == "p" && ip4 && tcp.dst == 80 && tcp.flags == 2 && ip.dscp == 4 && ip.ecn == 1',
    'inport == "p" && ip4 && sctp.src == 7 && ip.is_frag && !ip.later_frag',
    'inport == "p" && ip6 && icmp6.type == 128 && ip6.label == 5',
    'inport == "p" && rarp && rarp.op == 3',
    'inport == "p" && eth.type == 0x88cc && vlan.present && vlan.pcp == 3',
])
def test_more_protocols_round_trip(text):
    m = parse_microflow(text)
    assert diff(m.fields, frame_fields(build_frame(m.fields))) == {}


def test_prerequisites_fill_protocol_fields_and_the_rest_is_zero():
    f = parse_microflow('inport == "lsp-vm1" && icmp4.type == 8').fields
    assert (f["eth.type"], f["ip.proto"], f["icmp4.type"]) == (0x800, 1, 8)
    assert f["ip.ttl"] == 0 and f["ip4.src"] == 0 and f["eth.src"] == 0


def test_masked_constant_sets_only_its_bits():
    f = parse_microflow('inport == "p" && ip4.src == 10.0.0.0/8').fields
    assert f["ip4.src"] == 10 << 24


# ovn-trace's own first lines for the same microflows (OVN 23.03, lab two-chassis).
OFLINES = [
    ('inport == "lsp-vm1" && ip4 && tcp.dst == 80 && tcp.flags == 2',
     "tcp,reg14=0x1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,nw_src=0.0.0.0,"
     "nw_dst=0.0.0.0,nw_tos=0,nw_ecn=0,nw_ttl=0,nw_frag=no,tp_src=0,tp_dst=80,tcp_flags=syn"),
    ('inport == "lsp-vm1" && ip6 && udp.dst == 53 && ip6.src == fe80::1',
     "udp6,reg14=0x1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,ipv6_src=fe80::1,"
     "ipv6_dst=::,ipv6_label=0x00000,nw_tos=0,nw_ecn=0,nw_ttl=0,nw_frag=no,tp_src=0,tp_dst=53"),
    ('inport == "lsp-vm1" && ip4 && ip.proto == 2',
     "ip,reg14=0x1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,nw_src=0.0.0.0,"
     "nw_dst=0.0.0.0,nw_proto=2,nw_tos=0,nw_ecn=0,nw_ttl=0,nw_frag=no,tp_src=0,tp_dst=0"),
    ('inport == "lsp-vm1" && ip6 && nd_ns && nd.target == fe80::2 && nd.sll == 0a:00:00:00:00:01',
     "icmp6,reg14=0x1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,ipv6_src=::,"
     "ipv6_dst=::,ipv6_label=0x00000,nw_tos=0,nw_ecn=0,nw_ttl=255,nw_frag=no,icmp_type=135,"
     "icmp_code=0,nd_target=fe80::2,nd_sll=0a:00:00:00:00:01,nd_tll=00:00:00:00:00:00"),
    ('inport == "lsp-vm1" && eth.type == 0x88cc',
     "reg14=0x1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,dl_type=0x88cc"),
    ('inport == "lsp-vm1" && rarp && rarp.op == 3',
     "rarp,reg14=0x1,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,arp_spa=0.0.0.0,"
     "arp_tpa=0.0.0.0,arp_op=3,arp_sha=00:00:00:00:00:00,arp_tha=00:00:00:00:00:00"),
]


@pytest.mark.parametrize("text,line", OFLINES)
def test_openflow_line_is_ovn_traces(text, line):
    assert openflow_line(parse_microflow(text).fields, 1) == line


@pytest.mark.parametrize("text,message", [
    ('inport == "p" && foo == 1', "unknown field 'foo' at column 18"),
    ('inport == "p" && ip4.src == "x"', "ip4.src is an integer field"),
    ('inport == "p" || ip4', "Constraints are ambiguous"),
    ('inport == "p" && tcp.src == 80', "Constraints are ambiguous"),   # ip4 or ip6?
    ('inport == "p" && ip4 && tcp.src > 1024', "Constraints are ambiguous"),
    ('inport == "p" && ip4 && ip6', "Constraints are contradictory."),
    ('inport == "p" && ip4.src ==', "Syntax error: expected a constant"),
    ('inport == "p" && is_chassis_resident("p")', "no meaning in a microflow"),
])
def test_bad_microflows(text, message):
    with pytest.raises(MicroflowError) as e:
        parse_microflow(text)
    assert message in str(e.value)


@pytest.mark.parametrize("text,message", [
    ('inport == "p" && reg0 == 1', "reg0 is logical metadata"),
    ('inport == "p" && ct.est', "ct_state is conntrack state"),
])
def test_what_a_vm_cannot_send_is_unsupported(text, message):
    with pytest.raises(MicroflowUnsupported, match=message):
        parse_microflow(text)


def test_assignments_as_ovn_trace_prints_them():
    before = parse_microflow(VM1 + "eth.dst == 02:00:00:00:01:01 && ip4.src == 10.0.1.11 && "
                             "ip4.dst == 10.0.2.15 && ip.ttl == 64 && icmp4.type == 8").fields
    after = dict(before, **{"ip.ttl": 63, "eth.src": 0x020000000201, "eth.dst": 0x0a0000000205})
    assert assignments(before, after) == [
        "ip.ttl--", "eth.src = 02:00:00:00:02:01", "eth.dst = 0a:00:00:00:02:05"]
    udp = parse_microflow('inport == "p" && ip4 && udp.dst == 53').fields
    assert assignments(udp, dict(udp, **{"tcp.dst": 54, "ip.ttl": 9})) == ["ip.ttl = 9", "udp.dst = 54"]


def _state():
    ls1 = rows.DatapathBinding("u-ls1", 1, "ls1", False)
    ls2 = rows.DatapathBinding("u-ls2", 2, "ls2", False)
    port = lambda name, dp, key, ch: rows.PortBinding(f"u-{name}", name, dp, key, "", (), (), ch, True)  # noqa: E731
    return rows.SBState(chassis=(rows.Chassis("c1", "hv1", "hv1", ()),), datapaths=(ls1, ls2),
                        ports=(port("lsp-vm1", "u-ls1", 1, "hv1"), port("lsp-vm5", "u-ls2", 5, "hv2")))


def test_bind_finds_datapath_and_chassis_from_the_inport():
    b = bind(_state(), None, "lsp-vm1")
    assert (b.datapath.name, b.inport.tunnel_key, b.chassis) == ("ls1", 1, "hv1")
    assert bind(_state(), "u-ls1", "lsp-vm1", chassis="hv1").datapath.name == "ls1"


@pytest.mark.parametrize("dp,inport,chassis,message", [
    ("ls1", "lsp-vmX", None, "lsp-vmX: unknown logical port"),
    ("ls1", "lsp-vm5", None, 'logical port "lsp-vm5" is in datapath "ls2", not in "ls1"'),
    ("lsx", "lsp-vm1", None, 'unknown datapath "lsx" (known: ls1, ls2)'),
    ("ls1", None, None, "does not specify ingress port"),
    ("ls1", "lsp-vm1", "hv9", 'unknown chassis "hv9"'),
])
def test_bind_errors(dp, inport, chassis, message):
    with pytest.raises(MicroflowError) as e:
        bind(_state(), dp, inport, chassis)
    assert message in str(e.value)
