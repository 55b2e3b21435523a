"""Connection tracking: the datapath has none yet, so these are declared needs-conntrack
(the flow becomes a counted NOT_COMPILED drop), except ct_clear, a no-op without state."""
from __future__ import annotations

from dataclasses import dataclass

from .base import COMPILED, CONNTRACK, Keyword, Nested, ResultCall, call_helper

CT = "connection tracking"


class CtClear(Keyword):
    keyword = "ct_clear"
    category = COMPILED
    reason = "no-op: the datapath keeps no conntrack state"

    def lower_c(self, c):
        c.line("/* ct_clear: the datapath keeps no conntrack state */")

    def evaluate(self, run):
        call_helper(run, self)


class Conntrack(Keyword):
    category = CONNTRACK
    reason = CT


class CtNext(Conntrack):
    keyword = "ct_next"


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


class CtCommitNat(Conntrack):
    keyword = "ct_commit_nat"


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
    """`ct_commit { ct_mark.blocked = 0; };`, or just `ct_commit;` (northd 23.03 writes
    both: the bare form for stateful ACLs)."""
    keyword = "ct_commit"
    category = CONNTRACK
    reason = CT
    braces: bool = True

    @classmethod
    def parse(cls, p):
        if p.tok.is_punct(";"):
            return cls((), False)
        return super().parse(p)

    def format(self) -> str:
        return super().format() if self.braces else "ct_commit;"


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
