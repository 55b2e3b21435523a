from controller.lflow.evaluator import new_packet, read_field, run_actions, write_field
from controller.lflow.parser import parse_actions

from .helpers import SYMTAB, port_key


def test_fields_read_and_write_through_storage():
    pkt = new_packet()
    write_field(pkt, SYMTAB.fields["xreg0"], 0x1122334455667788)
    assert (pkt["reg[0]"], pkt["reg[1]"]) == (0x11223344, 0x55667788)  # reg0 most significant
    write_field(pkt, SYMTAB.fields["ip6.dst"], 0xfe80 << 112 | 1)
    assert (pkt["ip6_dst_hi"], pkt["ip6_dst_lo"]) == (0xfe80 << 48, 1)
    write_field(pkt, SYMTAB.fields["flags"], 1, 1)
    assert read_field(pkt, SYMTAB.fields["flags"]) == 1
    pkt["present"] = 1 << 12
    assert read_field(pkt, SYMTAB.fields["ip.frag"]) == 2  # later fragment


def test_router_arp_reply_actions():
    acts = parse_actions("eth.dst = eth.src; eth.src = xreg0[0..47]; arp.op = 2; arp.tha = arp.sha; "
                         "arp.sha = xreg0[0..47]; arp.tpa <-> arp.spa; outport = inport; "
                         "flags.loopback = 1; output;")
    pkt = new_packet(eth_src=0x0a0000000101, arp_sha=0x0a0000000101, arp_spa=0x0a00010b,
                     arp_tpa=0x0a000101, arp_op=1, inport=port_key("lrp-ls1"))
    write_field(pkt, SYMTAB.fields["xreg0"], 0x020000000101, (1 << 48) - 1)
    assert run_actions(acts, pkt, port_key, SYMTAB) == ("output",)
    assert pkt["eth_dst"] == 0x0a0000000101 and pkt["eth_src"] == 0x020000000101
    assert (pkt["arp_op"], pkt["arp_tha"], pkt["arp_sha"]) == (2, 0x0a0000000101, 0x020000000101)
    assert (pkt["arp_spa"], pkt["arp_tpa"]) == (0x0a000101, 0x0a00010b)
    assert pkt["outport"] == port_key("lrp-ls1") and pkt["flags"] & 1


def test_ttl_decrement_and_verdicts():
    pkt = new_packet(ip_ttl=64)
    assert run_actions(parse_actions("ip.ttl--; next;"), pkt, port_key) == ("next", None, None)
    assert pkt["ip_ttl"] == 63
    assert run_actions(parse_actions("ip.ttl--; next;"), new_packet(ip_ttl=1), port_key) == ("drop",)
    assert run_actions(parse_actions(""), new_packet(), port_key) == ("drop",)
    assert run_actions(parse_actions("icmp4 { output; };"), new_packet(), port_key) == ("punt", "icmp4")
    verdict = run_actions(parse_actions("reg0[15] = check_in_port_sec(); next;"), pkt, port_key,
                          helpers={"check_in_port_sec": lambda p, args: 1})
    assert verdict == ("next", None, None) and pkt["reg[0]"] == 1 << 15
