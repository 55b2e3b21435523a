"""put_dhcp_opts on the punt path without a kernel: the arguments northd writes, the
option bytes OVN encodes, DISCOVER -> OFFER, REQUEST -> ACK/NAK, INFORM, RELEASE, the
result bit, the resume point, and the flow's remaining actions after the pause."""
import struct

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from controller.db import rows
from controller.punt import dhcp as D
from controller.punt import packets as P
from controller.punt.event import CONSUME, RESUME_TABLE, STAGE_INGRESS, encode_event
from controller.punt.handler import HANDLED, PuntHandler

LS1 = "dp-ls1"
VM_MAC = "0a:00:00:00:01:01"
ARGS = ('offerip = 10.0.1.11, classless_static_route = {30.0.0.0/24,10.0.1.4, 0.0.0.0/0,10.0.1.1}, '
        'dns_server = {8.8.8.8, 1.1.1.1}, domain_name = "ovn.org", lease_time = 3600, mtu = 1400, '
        'netmask = 255.255.255.0, router = 10.0.1.1, server_id = 10.0.1.1')
OPTS_FLOW = f"reg0[3] = put_dhcp_opts({ARGS}); next;"
RESP_FLOW = ("eth.dst = eth.src; eth.src = 02:00:00:00:01:01; ip4.src = 10.0.1.1; udp.src = 67; "
             "udp.dst = 68; outport = inport; flags.loopback = 1; output;")


def state(actions=OPTS_FLOW):
    flows = [rows.LogicalFlow("f-opts", (LS1,), "ingress", 21, 100, "udp.dst == 67", actions,
                              "ls_in_dhcp_options"),
             rows.LogicalFlow("f-resp", (LS1,), "ingress", 22, 100, "udp.dst == 67 && reg0[3]",
                              RESP_FLOW, "ls_in_dhcp_response")]
    return rows.SBState(datapaths=(rows.DatapathBinding(LS1, 1, "ls1", False),),
                        ports=(rows.PortBinding("p1", "lsp-vm1", LS1, 1, "", (), (), "hv1", True),),
                        flows=tuple(flows))


def request(msg, xid=0x1234, flags=0, ciaddr="0.0.0.0", options=()):
    return (Ether(src=VM_MAC, dst="ff:ff:ff:ff:ff:ff") /
            IP(src=ciaddr, dst="255.255.255.255", ttl=64, id=0) / UDP(sport=68, dport=67) /
            BOOTP(chaddr=bytes.fromhex(VM_MAC.replace(":", "")), xid=xid, flags=flags, ciaddr=ciaddr) /
            DHCP(options=[("message-type", msg), *options, "end"]))


def handle(frame, actions=OPTS_FLOW):
    h = PuntHandler(state(actions), {7: "f-opts"})
    flow = P.parse(bytes(frame))
    flow.update({"dp": 1, "inport": 1})
    return h, h.handle_bytes(encode_event(CONSUME, 7, STAGE_INGRESS, flow, bytes(frame)))


def opts(frame):
    return {o[0]: o[1] if len(o) == 2 else o[1:] for o in Ether(frame)[DHCP].options
            if isinstance(o, tuple)}


def test_put_dhcp_opts_counts_as_handled():
    assert "put_dhcp_opts" in HANDLED


def test_arguments_encode_as_ovn_does():
    offer, data = D.encode_options(D.parse_options(ARGS))
    assert offer == 0x0A00010B
    want = (bytes([121, 13, 24, 30, 0, 0, 10, 0, 1, 4, 0, 10, 0, 1, 1])
            + bytes([6, 8, 8, 8, 8, 8, 1, 1, 1, 1]) + bytes([15, 7]) + b"ovn.org"
            + bytes([51, 4, 0, 0, 0x0E, 0x10]) + bytes([26, 2, 0x05, 0x78])
            + bytes([1, 4, 255, 255, 255, 0]) + bytes([3, 4, 10, 0, 1, 1]) + bytes([54, 4, 10, 0, 1, 1]))
    assert data == want


def test_bootfile_and_next_server_go_first():
    _, data = D.encode_options(D.parse_options(
        'offerip = 10.0.0.2, router = 10.0.0.1, next_server = 10.0.0.9, bootfile_name = "a.efi"'))
    assert data == bytes([67, 5]) + b"a.efi" + bytes([253, 4, 10, 0, 0, 9, 3, 4, 10, 0, 0, 1])


def test_domain_search_list_compresses_suffixes():
    assert D.format_domains("abc.com,xyz.abc.com") == (
        bytes([3]) + b"abc" + bytes([3]) + b"com" + bytes([0, 3]) + b"xyz" + bytes([0xC0, 0]))


@pytest.mark.parametrize("bad", ["router = 10.0.0.1", "offerip = 10.0.0.300",
                                 "offerip = 10.0.0.2, nosuch = 1", "offerip = 10.0.0.2, mtu = 70000",
                                 'offerip = 10.0.0.2, domain_name = ovn.org'])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(D.DhcpError):
        D.parse_options(bad)


def test_discover_gets_an_offer_resumed_at_the_response_table():
    disc = request("discover", options=[("param_req_list", [1, 3, 6])])
    h, r = handle(disc)
    assert r.outcome == "dhcp_offer", (r, h.counters)
    inj = r.injections[0]
    assert (inj.stage, inj.resume, inj.table) == (STAGE_INGRESS, RESUME_TABLE, 22)
    assert inj.meta["reg[0]"] >> 3 & 1 == 1
    got = Ether(inj.frame)
    assert got[BOOTP].op == 2 and got[BOOTP].yiaddr == "10.0.1.11" and got[BOOTP].xid == 0x1234
    assert got[IP].dst == "10.0.1.11" and got[IP].src == "0.0.0.0" and got[UDP].chksum == 0
    assert got[IP].chksum == IP(bytes(got[IP]))[IP].chksum
    o = opts(inj.frame)
    assert o["message-type"] == 2 and o["router"] == "10.0.1.1" and o["lease_time"] == 3600
    assert o["name_server"] == ("8.8.8.8", "1.1.1.1") and o["server_id"] == "10.0.1.1"
    # the tail as pinctrl writes it: 4 zero bytes, END, 4 zero bytes
    assert inj.frame.endswith(bytes(4) + b"\xff" + bytes(4))
    assert got[UDP].len == 8 + 236 + 16 + len(D.encode_options(D.parse_options(ARGS))[1])


def test_request_for_the_offer_is_acked_else_nakked():
    _, r = handle(request("request", options=[("requested_addr", "10.0.1.11")]))
    assert r.outcome == "dhcp_ack" and opts(r.injections[0].frame)["message-type"] == 5
    _, r = handle(request("request", options=[("requested_addr", "10.0.1.99")]))
    assert r.outcome == "dhcp_nak"
    frame = r.injections[0].frame
    assert opts(frame) == {"message-type": 6} and Ether(frame)[BOOTP].yiaddr == "0.0.0.0"


def test_broadcast_flag_sends_to_broadcast():
    _, r = handle(request("discover", flags=0x8000))
    assert Ether(r.injections[0].frame)[IP].dst == "255.255.255.255"


def test_inform_leaves_out_lease_and_netmask():
    _, r = handle(request("inform", ciaddr="10.0.1.11"))
    assert r.outcome == "dhcp_ack_inform"
    o, got = opts(r.injections[0].frame), Ether(r.injections[0].frame)
    assert "lease_time" not in o and "subnet_mask" not in o and o["router"] == "10.0.1.1"
    assert got[BOOTP].yiaddr == "0.0.0.0"


def test_release_is_not_answered_and_resumes_with_result_zero():
    rel = request("release", ciaddr="10.0.1.11")
    _, r = handle(rel)
    assert r.outcome == "dhcp_release"
    inj = r.injections[0]
    assert inj.frame == bytes(rel) and inj.meta["reg[0]"] >> 3 & 1 == 0 and inj.table == 22


def test_bad_arguments_are_a_counted_drop():
    h, r = handle(request("discover"), "reg0[3] = put_dhcp_opts(router = 10.0.0.1); next;")
    assert r.injections == [] and h.counters["put_dhcp_opts_bad_arguments"] == 1


def test_not_a_bootrequest_resumes_unanswered():
    frame = bytearray(bytes(request("discover")))
    frame[42] = 2
    _, r = handle(bytes(frame))
    assert r.outcome == "dhcp_bad_request" and r.injections[0].meta["reg[0]"] == 0


def test_ipxe_gets_bootfile_name_others_the_alternative():
    args = 'reg0[3] = put_dhcp_opts(offerip = 10.0.1.11, bootfile_name = "a", bootfile_name_alt = "bb"); next;'
    _, r = handle(request("discover"), args)
    assert opts(r.injections[0].frame)["boot-file-name"] == b"bb"
    _, r = handle(request("discover", options=[(175, b"\x01\x01\x01")]), args)
    assert opts(r.injections[0].frame)["boot-file-name"] == b"a"


def test_the_datapath_punts_put_dhcp_opts_rather_than_dropping_it():
    """Failed before: the flow became OVNBPF_NOT_COMPILED (a drop), and the classifier
    called the `next;` after it unsupported."""
    from controller.lflow.emit_c import emit_c
    from controller.lflow.flows import LogicalFlow
    from controller.lflow.plan import Punt, build_plan
    from controller.lflow.classify import classify_flow
    flow = LogicalFlow("ls1", "ingress", 21, "ls_in_dhcp_options", 100,
                       'inport == "lsp-vm1" && eth.src == 0a:00:00:00:01:01 && ip4.src == 0.0.0.0 '
                       '&& ip4.dst == 255.255.255.255 && udp.src == 68 && udp.dst == 67',
                       OPTS_FLOW, "f-opts")
    assert classify_flow(flow).category == "needs-punt", classify_flow(flow)
    plan = build_plan([flow])
    assert plan.shapes[0].template == (Punt("put_dhcp_opts"),)
    c = emit_c(plan)
    assert "OVNBPF_PUNT(f," in c and "OVNBPF_NOT_COMPILED(f, v->cookie)" not in c
