"""Actions the datapath does not implement: declared so a flow using them parses, is
classified `unsupported` with the reason below, and fails closed (a counted drop)."""
from __future__ import annotations

from .base import UNSUPPORTED, Call, Keyword, Nested, ResultCall


class SetQueue(Keyword):
    keyword = "set_queue"
    category = UNSUPPORTED
    reason = "QoS queues are not implemented"


class SetMeter(Keyword):
    keyword = "set_meter"
    category = UNSUPPORTED
    reason = "meters are not implemented"


class Log(Keyword):
    keyword = "log"
    category = UNSUPPORTED
    reason = "ACL logging is not implemented"


class FwdGroup(Keyword):
    keyword = "fwd_group"
    category = UNSUPPORTED
    reason = "forwarding groups are not implemented"


class Sample(Keyword):
    keyword = "sample"
    category = UNSUPPORTED
    reason = "sampling is not implemented"


class MacCacheUse(Keyword):
    keyword = "mac_cache_use"
    category = UNSUPPORTED
    reason = "MAC cache is not implemented"


class Push(Call):
    keyword = "push"
    category = UNSUPPORTED
    reason = "push/pop stack is not implemented"


class Pop(Call):
    keyword = "pop"
    category = UNSUPPORTED
    reason = "push/pop stack is not implemented"


class CloneBlock(Nested):
    # lower.py turns northd's `clone { outport = P; output; }; outport = G; output;` into a
    # synthetic multicast group; any other clone stays unsupported.
    keyword = "clone"
    category = UNSUPPORTED
    reason = ("only `clone { outport = P; output; }; outport = G; output;` "
              "is lowered (to a synthetic multicast group)")


class CheckPktLargerResult(ResultCall):
    keyword = "check_pkt_larger"
    category = UNSUPPORTED
    reason = "packet length is not in the flow ABI"


class SelectResult(ResultCall):
    keyword = "select"
    category = UNSUPPORTED
    reason = "select (ECMP hashing) is not implemented"


class CheckEcmpNhMacResult(ResultCall):
    keyword = "check_ecmp_nh_mac"
    category = UNSUPPORTED
    reason = "ECMP symmetric reply (next-hop MAC table) is not implemented"


class CheckEcmpNhResult(ResultCall):
    keyword = "check_ecmp_nh"
    category = UNSUPPORTED
    reason = "ECMP symmetric reply (next-hop table) is not implemented"
