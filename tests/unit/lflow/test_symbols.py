import re
import pathlib

from datapath.bpfsrc import lib_header
from controller.lflow.symbols import FLOW_MEMBERS, FLAG_BITS, Kind, default_symtab

FLOW_H = lib_header("flow.h")


def test_flow_members_match_flow_h():
    """The symbol table's view of struct ovnbpf_flow must be the ABI's."""
    text = FLOW_H.read_text()
    body = text[text.index("struct ovnbpf_flow {"):]
    body = body[:body.index("};")]
    # Members after the datapath-private marker are not for generated code.
    if "Datapath-private" in body:
        body = body[:body.index("Datapath-private")]
    found = {}
    for m in re.finditer(r"__u(\d+)\s+([^;]+);", body):
        width = int(m.group(1))
        for name in m.group(2).split(","):
            name = name.strip()
            if name.startswith("_pad"):
                continue
            if name == "reg[OVNBPF_NREGS]":
                found.update({f"reg[{i}]": width for i in range(16)})
            else:
                found[name] = width
    assert found == FLOW_MEMBERS


def test_flag_bits_match_flow_h():
    text = FLOW_H.read_text()
    defined = {m.group(1).lower(): int(m.group(2)) for m in
               re.finditer(r"#define OVNBPF_FLAG_(\w+)\s+\(1u << (\d+)\)", text)}
    assert defined["loopback"] == 0
    for name, bit in defined.items():
        assert FLAG_BITS[name] == bit
    assert len(set(FLAG_BITS.values())) == len(FLAG_BITS)


def test_every_storage_slice_fits_its_member():
    tab = default_symtab()
    for fld in tab.fields.values():
        assert sum(s.width for s in fld.storage) == (fld.width if not fld.is_string else 32) \
            or not fld.storage, fld.name
        for s in fld.storage:
            assert s.shift + s.width <= FLOW_MEMBERS[s.member], fld.name


def test_c_expressions():
    tab = default_symtab()
    assert [s.c_read() for s in tab.fields["ip4.dst"].storage] == ["f->ip4_dst"]
    assert [s.c_read() for s in tab.fields["eth.src"].storage] == ["(f->eth_src & 0xffffffffffff)"]
    assert [s.c_read() for s in tab.fields["ip.frag"].storage] == ["((f->present >> 11) & 0x3)"]
    assert [s.member for s in tab.fields["xxreg1"].storage] == ["reg[4]", "reg[5]", "reg[6]", "reg[7]"]
    assert [s.member for s in tab.fields["ip6.dst"].storage] == ["ip6_dst_hi", "ip6_dst_lo"]


def test_rows():
    tab = default_symtab()
    assert tab.resolve("flags.loopback") == (tab.fields["flags"], 0, 0)
    assert tab.resolve("vlan.pcp")[1:] == (13, 15)
    assert tab.fields["tcp.dst"].prereq == "tcp"
    assert tab.predicates["tcp"].expansion == "ip.proto == 6"
    assert tab.fields["arp.tpa"].prereq == "arp"
    assert tab.fields["ct_nw_src"].unsupported == "needs conntrack"
    assert tab.resolve("ct_label.label")[1:] == (96, 127) and tab.resolve("ct.est")[1:] == (1, 1)
    assert tab.subfields["ct.new"].prereq == "ct.trk"
    assert tab.kind_of("eth.dst") is Kind.MAC and tab.kind_of("inport") is Kind.STRING
    assert all(f"reg{i}" in tab for i in range(16))
