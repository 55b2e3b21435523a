"""The symbol table: every name a logical flow may use, one row each.

In the style of OVN's lib/logical-fields.c, but the storage is ours: each field says
where its bits live in `struct ovnbpf_flow` (bpf/lib/flow.h, the ABI shared with the
datapath). A field is a list of storage slices, most significant first, so composite
fields (IPv6 as hi/lo u64, xxreg0 as reg[0..3]) and bit views (flags.loopback, the
fragment bits of `present`) are handled by one mechanism.

Adding a field, subfield or predicate is adding a row to one of the tables below.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from enum import Enum

__all__ = [
    "Kind", "Slice", "Field", "Subfield", "Predicate", "SymbolTable", "SymbolError",
    "FLOW_MEMBERS", "default_symtab", "NEEDS_CONNTRACK",
]


class SymbolError(ValueError):
    pass


class Kind(str, Enum):
    """How constants of a field are written (and so how the formatter prints them)."""
    NUMERIC = "numeric"
    MAC = "mac"
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    STRING = "string"


# Members of struct ovnbpf_flow and their widths in bits (checked against flow.h by a test).
FLOW_MEMBERS: dict[str, int] = {
    "dp": 32, "inport": 32, "outport": 32, "flags": 32,
    **{f"reg[{i}]": 32 for i in range(16)},
    "present": 32,
    "eth_src": 64, "eth_dst": 64, "eth_type": 16, "vlan_tci": 16,
    "arp_sha": 64, "arp_tha": 64, "arp_spa": 32, "arp_tpa": 32, "arp_op": 16,
    "ip4_src": 32, "ip4_dst": 32,
    "ip6_src_hi": 64, "ip6_src_lo": 64, "ip6_dst_hi": 64, "ip6_dst_lo": 64,
    "ip6_label": 32, "ip_proto": 8, "ip_ttl": 8, "ip_dscp": 8, "ip_ecn": 8,
    "tp_src": 16, "tp_dst": 16, "tcp_flags": 16, "icmp_type": 8, "icmp_code": 8,
    "nd_target_hi": 64, "nd_target_lo": 64, "nd_sll": 64, "nd_tll": 64,
    "ct_state": 32, "ct_mark": 32, "ct_label_hi": 64, "ct_label_lo": 64,
}

# Bits of ovnbpf_flow.present (OVNBPF_P_*), used by the fields built from them.
P_VLAN_BIT = 0
P_FRAG_BIT = 11        # OVNBPF_P_FRAG; OVNBPF_P_LATER_FRAG is the next bit, as ip.frag needs

NEEDS_CONNTRACK = "needs conntrack"


@dataclass(frozen=True)
class Slice:
    """`width` bits of struct member `member`, starting at bit `shift` of that member."""
    member: str
    shift: int
    width: int

    def c_read(self, base: str = "f") -> str:
        whole = FLOW_MEMBERS[self.member]
        expr = f"{base}->{self.member}"
        if self.shift == 0 and self.width == whole:
            return expr
        if self.shift:
            expr = f"({expr} >> {self.shift})"
        return f"({expr} & {hex((1 << self.width) - 1)})"


@dataclass(frozen=True)
class Field:
    """A packet or metadata field with its own storage."""
    name: str
    width: int                      # bits; 0 for string fields
    kind: Kind
    storage: tuple[Slice, ...]      # most significant slice first; empty if unsupported
    prereq: str | None = None       # a match expression implied by any use
    writable: bool = True
    ordinal: bool = True            # bits individually addressable, relations allowed
    unsupported: str | None = None  # why the datapath cannot provide it (e.g. conntrack)

    @property
    def is_string(self) -> bool:
        return self.kind is Kind.STRING


@dataclass(frozen=True)
class Subfield:
    """A name for bits lo..hi of another field, e.g. vlan.vid = vlan.tci[0..11]."""
    name: str
    base: str
    lo: int
    hi: int
    prereq: str | None = None
    kind: Kind = Kind.NUMERIC

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1


@dataclass(frozen=True)
class Predicate:
    """A name for a boolean expression, e.g. ip4 = `eth.type == 0x800`."""
    name: str
    expansion: str


def _member(member: str) -> tuple[Slice, ...]:
    return (Slice(member, 0, FLOW_MEMBERS[member]),)


def _low(member: str, width: int) -> tuple[Slice, ...]:
    return (Slice(member, 0, width),)


def _regs(first: int, count: int) -> tuple[Slice, ...]:
    # reg0 is the most significant word of xreg0/xxreg0 (as in OVN).
    return tuple(Slice(f"reg[{i}]", 0, 32) for i in range(first, first + count))


def _hi_lo(prefix: str) -> tuple[Slice, ...]:
    return (Slice(f"{prefix}_hi", 0, 64), Slice(f"{prefix}_lo", 0, 64))


N, M, V4, V6, S = Kind.NUMERIC, Kind.MAC, Kind.IPV4, Kind.IPV6, Kind.STRING

_FIELDS: list[Field] = [
    Field("inport", 0, S, _member("inport"), ordinal=False),
    Field("outport", 0, S, _member("outport"), ordinal=False),
    Field("flags", 32, N, _member("flags")),
    *(Field(f"reg{i}", 32, N, _regs(i, 1)) for i in range(16)),
    *(Field(f"xreg{i}", 64, N, _regs(2 * i, 2)) for i in range(8)),
    *(Field(f"xxreg{i}", 128, N, _regs(4 * i, 4)) for i in range(4)),

    Field("eth.src", 48, M, _low("eth_src", 48)),
    Field("eth.dst", 48, M, _low("eth_dst", 48)),
    Field("eth.type", 16, N, _member("eth_type"), writable=False, ordinal=False),
    Field("vlan.tci", 16, N, _member("vlan_tci"), writable=False),
    # OVN derives vlan.present from the TCI's CFI bit; our datapath reports it in `present`.
    Field("vlan.present", 1, N, (Slice("present", P_VLAN_BIT, 1),), writable=False),

    Field("arp.op", 16, N, _member("arp_op"), "arp", ordinal=False),
    Field("arp.spa", 32, V4, _member("arp_spa"), "arp"),
    Field("arp.tpa", 32, V4, _member("arp_tpa"), "arp"),
    Field("arp.sha", 48, M, _low("arp_sha", 48), "arp"),
    Field("arp.tha", 48, M, _low("arp_tha", 48), "arp"),
    Field("rarp.op", 16, N, _member("arp_op"), "rarp", ordinal=False),
    Field("rarp.spa", 32, V4, _member("arp_spa"), "rarp"),
    Field("rarp.tpa", 32, V4, _member("arp_tpa"), "rarp"),
    Field("rarp.sha", 48, M, _low("arp_sha", 48), "rarp"),
    Field("rarp.tha", 48, M, _low("arp_tha", 48), "rarp"),

    Field("ip.proto", 8, N, _member("ip_proto"), "ip", writable=False, ordinal=False),
    Field("ip.dscp", 6, N, _low("ip_dscp", 6), "ip"),
    Field("ip.ecn", 2, N, _low("ip_ecn", 2), "ip"),
    Field("ip.ttl", 8, N, _member("ip_ttl"), "ip"),
    # bit 0: any fragment, bit 1: a later fragment (OVNBPF_P_FRAG, OVNBPF_P_LATER_FRAG).
    Field("ip.frag", 2, N, (Slice("present", P_FRAG_BIT, 2),), "ip", writable=False),
    Field("ip4.src", 32, V4, _member("ip4_src"), "ip4"),
    Field("ip4.dst", 32, V4, _member("ip4_dst"), "ip4"),
    Field("ip6.src", 128, V6, _hi_lo("ip6_src"), "ip6"),
    Field("ip6.dst", 128, V6, _hi_lo("ip6_dst"), "ip6"),
    Field("ip6.label", 20, N, _low("ip6_label", 20), "ip6"),

    Field("tcp.src", 16, N, _member("tp_src"), "tcp"),
    Field("tcp.dst", 16, N, _member("tp_dst"), "tcp"),
    Field("tcp.flags", 12, N, _low("tcp_flags", 12), "tcp", writable=False),
    Field("udp.src", 16, N, _member("tp_src"), "udp"),
    Field("udp.dst", 16, N, _member("tp_dst"), "udp"),
    Field("sctp.src", 16, N, _member("tp_src"), "sctp"),
    Field("sctp.dst", 16, N, _member("tp_dst"), "sctp"),
    Field("icmp4.type", 8, N, _member("icmp_type"), "icmp4"),
    Field("icmp4.code", 8, N, _member("icmp_code"), "icmp4"),
    Field("icmp6.type", 8, N, _member("icmp_type"), "icmp6"),
    Field("icmp6.code", 8, N, _member("icmp_code"), "icmp6"),
    Field("nd.target", 128, V6, _hi_lo("nd_target"), "nd"),
    Field("nd.sll", 48, M, _low("nd_sll", 48), "nd_ns"),
    Field("nd.tll", 48, M, _low("nd_tll", 48), "nd_na"),

    # Conntrack (bpf/lib/ct.h): ct_next fills ct_state/ct_mark/ct_label, ct_commit stores
    # the last two. Readable by matches, writable only inside ct_commit { } (OVN's rule).
    Field("ct_state", 8, N, _low("ct_state", 8), writable=False),
    Field("ct_mark", 32, N, _member("ct_mark")),
    Field("ct_label", 128, N, _hi_lo("ct_label")),
    # The original direction's tuple (load balancer hairpin): not kept by our conntrack.
    *(Field(name, width, N, (), unsupported=NEEDS_CONNTRACK) for name, width in (
        ("ct_proto", 8), ("ct_nw_src", 32), ("ct_nw_dst", 32), ("ct_tp_src", 16),
        ("ct_tp_dst", 16),
    )),
    Field("pkt.mark", 32, N, (), unsupported="packet mark is not part of the flow ABI"),
]

# flags.* bits. 0..5 follow OVN's numbering and flow.h (OVNBPF_FLAG_*): northd writes some
# of them raw (`flags[1] == 0` in ls_in_l2_lkup). The rest are ours to allocate.
FLAG_BITS: dict[str, int] = {
    "loopback": 0,
    "rcv_from_ramp": 1,
    "force_snat_for_dnat": 2,
    "force_snat_for_lb": 3,
    "local_only": 4,
    "nested_container": 5,
    "skip_snat_for_lb": 6,
    "localport": 7,
    "use_snat_zone": 8,
    "check_port_sec": 9,
    "not_local_inport": 10,
}

_SUBFIELDS: list[Subfield] = [
    Subfield("vlan.vid", "vlan.tci", 0, 11),
    Subfield("vlan.pcp", "vlan.tci", 13, 15),
    *(Subfield(f"flags.{name}", "flags", bit, bit) for name, bit in FLAG_BITS.items()),
    # ct_state bits (OVS's numbering, flow.h OVNBPF_CS_*); all but ct.trk imply ct.trk.
    Subfield("ct.trk", "ct_state", 5, 5),
    *(Subfield(f"ct.{name}", "ct_state", bit, bit, prereq="ct.trk") for name, bit in (
        ("new", 0), ("est", 1), ("rel", 2), ("rpl", 3), ("inv", 4), ("snat", 6), ("dnat", 7))),
    *(Subfield(f"ct_mark.{name}", "ct_mark", lo, hi) for name, lo, hi in (
        ("blocked", 0, 0), ("natted", 1, 1), ("skip_snat", 2, 2), ("force_snat", 3, 3),
        ("ecmp_reply_port", 16, 31))),
    *(Subfield(f"ct_label.{name}", "ct_label", lo, hi) for name, lo, hi in (
        ("blocked", 0, 0), ("natted", 1, 1), ("skip_snat", 2, 2), ("force_snat", 3, 3),
        ("ecmp_reply_eth", 32, 79), ("ecmp_reply_port", 80, 95), ("label", 96, 127))),
]

_PREDICATES: list[Predicate] = [
    Predicate("eth.bcast", "eth.dst == ff:ff:ff:ff:ff:ff"),
    Predicate("eth.mcast", "eth.dst[40]"),
    Predicate("eth.src_mcast", "eth.src[40]"),
    Predicate("ip4", "eth.type == 0x800"),
    Predicate("ip6", "eth.type == 0x86dd"),
    Predicate("ip", "ip4 || ip6"),
    Predicate("arp", "eth.type == 0x806"),
    Predicate("rarp", "eth.type == 0x8035"),
    Predicate("ip4.src_mcast", "ip4.src[28..31] == 0xe"),
    Predicate("ip4.mcast", "ip4.dst[28..31] == 0xe"),
    Predicate("ip6.mcast", "ip6.dst[120..127] == 0xff"),
    # ff0X::0, the reserved multicast addresses of every scope (RFC 4291 2.7.1).
    Predicate("ip6.mcast_rsvd", "ip6.dst[116..127] == 0xff0 && ip6.dst[0..111] == 0"),
    Predicate("ip6.mcast_all_nodes", "ip6.dst == {ff01::1, ff02::1}"),
    Predicate("ip6.mcast_all_rtrs", "ip6.dst == {ff01::2, ff02::2, ff05::2}"),
    Predicate("ip6.mcast_sol_node", "ip6.dst == ff02::1:ff00:0/104"),
    Predicate("ip.is_frag", "ip.frag[0]"),
    Predicate("ip.later_frag", "ip.frag[1]"),
    Predicate("ip.first_frag", "ip.is_frag && !ip.later_frag"),
    Predicate("icmp4", "ip4 && ip.proto == 1"),
    Predicate("icmp6", "ip6 && ip.proto == 58"),
    Predicate("icmp", "icmp4 || icmp6"),
    Predicate("igmp", "ip4 && ip.proto == 2"),
    Predicate("tcp", "ip.proto == 6"),
    Predicate("udp", "ip.proto == 17"),
    Predicate("sctp", "ip.proto == 132"),
    Predicate("nd", "icmp6.type == {135, 136} && icmp6.code == 0 && ip.ttl == 255"),
    Predicate("nd_ns", "icmp6.type == 135 && icmp6.code == 0 && ip.ttl == 255"),
    Predicate("nd_na", "icmp6.type == 136 && icmp6.code == 0 && ip.ttl == 255"),
    Predicate("nd_rs", "icmp6.type == 133 && icmp6.code == 0 && ip.ttl == 255"),
    Predicate("nd_ra", "icmp6.type == 134 && icmp6.code == 0 && ip.ttl == 255"),
    Predicate("mldv1", "ip6.src == fe80::/10 && icmp6.type == {130, 131, 132}"),
    Predicate("mldv2", "ip6.src == fe80::/10 && icmp6.type == 143"),
]


@dataclass
class SymbolTable:
    fields: dict[str, Field] = dc_field(default_factory=dict)
    subfields: dict[str, Subfield] = dc_field(default_factory=dict)
    predicates: dict[str, Predicate] = dc_field(default_factory=dict)

    def add(self, row: Field | Subfield | Predicate) -> None:
        if row.name in self:
            raise SymbolError(f"symbol {row.name!r} defined twice")
        table = {Field: self.fields, Subfield: self.subfields, Predicate: self.predicates}
        table[type(row)][row.name] = row

    def __contains__(self, name: str) -> bool:
        return name in self.fields or name in self.subfields or name in self.predicates

    def lookup(self, name: str) -> Field | Subfield | Predicate:
        for table in (self.fields, self.subfields, self.predicates):
            if name in table:
                return table[name]
        raise SymbolError(f"unknown symbol {name!r}")

    def resolve(self, name: str) -> tuple[Field, int, int]:
        """Map a field or subfield name to (base field, lo bit, hi bit)."""
        sym = self.lookup(name)
        if isinstance(sym, Field):
            return sym, 0, max(sym.width - 1, 0)
        if isinstance(sym, Subfield):
            return self.fields[sym.base], sym.lo, sym.hi
        raise SymbolError(f"{name!r} is a predicate, not a field")

    def kind_of(self, name: str) -> Kind:
        sym = self.lookup(name)
        if isinstance(sym, Predicate):
            return Kind.NUMERIC
        return sym.kind


def default_symtab() -> SymbolTable:
    table = SymbolTable()
    for row in (*_FIELDS, *_SUBFIELDS, *_PREDICATES):
        table.add(row)
    return table
