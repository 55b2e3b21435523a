"""Connection tracking (bpf/lib/ct.h): ct_next, ct_commit { }, ct_commit_nat and ct_clear
are compiled against our own conntrack table; load balancing and NAT (ct_lb*, ct_dnat,
ct_snat, ...) stay needs-conntrack (issue 17: the flow becomes a counted NOT_COMPILED
drop).

Zones are OVN's for a switch: the logical inport's in the ingress pipeline, the outport's
in egress (the lowering context says which pipeline the shape is in)."""
from __future__ import annotations

from dataclasses import dataclass

from ..ast import Const
from .base import COMPILED, CONNTRACK, Keyword, Nested, NotLowered, ResultCall, Verdict

CT = "load balancing / NAT (conntrack NAT is not implemented)"
CT_TRK_NEW = 0x21   # ct_state of a packet no connection knows: ct.trk | ct.new
_CT_MEMBERS = ("ct_state", "ct_mark", "ct_label_hi", "ct_label_lo")


def _zone_port(c) -> str:
    return "f->inport" if getattr(c, "pipeline", "ingress") == "ingress" else "f->outport"


def _commit_helper(run) -> None:
    """The evaluator's connection table is the caller's: helpers "ct_next" (pkt) fills
    pkt's ct_* members, "ct_commit" (pkt) stores; without them every lookup finds nothing
    (ct.trk|ct.new, mark and label 0) and commits are lost."""
    fn = run.helpers.get("ct_commit")
    if fn:
        fn(run.pkt)


class CtClear(Keyword):
    keyword = "ct_clear"
    category = COMPILED
    reason = "clears the packet's conntrack fields"

    def lower_c(self, c):
        c.line("ovnbpf_ct_clear(f);")

    def evaluate(self, run):
        for m in _CT_MEMBERS:
            run.pkt[m] = 0


class CtNext(Keyword):
    """Look the packet up in its port's zone; fills ct_state/ct_mark/ct_label and goes on
    with the next table."""
    keyword = "ct_next"
    category = COMPILED
    reason = "conntrack lookup (bpf/lib/ct.h)"
    terminal = True

    def lower_c(self, c):
        c.line("OVNBPF_FC_NOCACHE(f);  /* conntrack state moves with every packet */")
        c.line(f"ovnbpf_ct_next(f, {_zone_port(c)});")
        c.line("return OVNBPF_PL_NEXT;")

    def evaluate(self, run):
        for m in _CT_MEMBERS:
            run.pkt[m] = 0
        run.pkt["ct_state"] = CT_TRK_NEW
        fn = run.helpers.get("ct_next")
        if fn:
            fn(run.pkt)
        return Verdict(("next", None, None))


class CtCommitNat(Keyword):
    """Commit and go on with the next table; no NAT state can exist to apply."""
    keyword = "ct_commit_nat"
    category = COMPILED
    reason = "conntrack commit (no NAT exists to apply)"
    terminal = True

    def lower_c(self, c):
        c.line("OVNBPF_FC_NOCACHE(f);")
        c.line(f"ovnbpf_ct_commit(f, {_zone_port(c)});  /* no NAT state exists to apply */")
        c.line("return OVNBPF_PL_NEXT;")

    def evaluate(self, run):
        _commit_helper(run)
        return Verdict(("next", None, None))


class Conntrack(Keyword):
    category = CONNTRACK
    reason = CT


class CtLb(Conntrack):
    keyword = "ct_lb"


class CtLbMark(Conntrack):
    keyword = "ct_lb_mark"


class CtDnat(Conntrack):
    keyword = "ct_dnat"


class CtSnat(Conntrack):
    keyword = "ct_snat"


class CtDnatInCzone(Conntrack):
    keyword = "ct_dnat_in_czone"


class CtSnatInCzone(Conntrack):
    keyword = "ct_snat_in_czone"


class CtSnatToVip(Conntrack):
    keyword = "ct_snat_to_vip"


class CtCommitToZone(Conntrack):
    keyword = "ct_commit_to_zone"


class CtMarkEcmpReplyPort(Conntrack):
    keyword = "ct_mark_ecmp_reply_port"


class CommitEcmpNh(Conntrack):
    keyword = "commit_ecmp_nh"


class CommitLbAff(Conntrack):
    keyword = "commit_lb_aff"


@dataclass(frozen=True)
class CtCommitBlock(Nested):
    """`ct_commit { ct_mark.blocked = 0; ct_label.label = reg3; };`, or just `ct_commit;`
    (northd 23.03 writes both: the bare form for stateful ACLs): commit the packet's
    connection in its port's zone, storing the block's ct_mark/ct_label."""
    keyword = "ct_commit"
    category = COMPILED
    reason = "conntrack commit (bpf/lib/ct.h)"
    braces: bool = True

    @classmethod
    def parse(cls, p):
        if p.tok.is_punct(";"):
            return cls((), False)
        return super().parse(p)

    def format(self) -> str:
        return super().format() if self.braces else "ct_commit;"

    def lower_c(self, c):
        for inner in self.actions:
            dst = getattr(inner, "dst", None)
            if dst is None or c.symtab.resolve(dst.name)[0].name not in ("ct_mark", "ct_label") \
                    or type(inner).__name__ != "Assign":
                raise NotLowered(f"ct_commit {{ {inner.format()} }}: only ct_mark/ct_label "
                                 "assignments are lowered")
            if isinstance(inner.src, Const) and inner.src.mask is None:
                # a constant left in the template: part of the shape
                v = inner.src.value
                c.write(dst, [f"{v & (2**64 - 1):#x}ULL", f"{v >> 64:#x}ULL"])
            else:
                inner.lower_c(c)
        c.line("OVNBPF_FC_NOCACHE(f);")
        c.line(f"ovnbpf_ct_commit(f, {_zone_port(c)});")

    def evaluate(self, run):
        for inner in self.actions:
            verdict = inner.evaluate(run)
            assert verdict is None, verdict
        _commit_helper(run)


class ConntrackResult(ResultCall):
    category = CONNTRACK
    reason = CT


class ChkLbHairpinResult(ConntrackResult):
    keyword = "chk_lb_hairpin"


class ChkLbHairpinReplyResult(ConntrackResult):
    keyword = "chk_lb_hairpin_reply"


class ChkLbAffResult(ConntrackResult):
    keyword = "chk_lb_aff"


class CtSnatToVipResult(ConntrackResult):
    keyword = "ct_snat_to_vip"
