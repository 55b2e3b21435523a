"""Compiled lookups in the datapath's helper maps (bpf: ovnbpf_pipeline.h): port security,
MAC_Binding and FDB. `dst = fn(args);` calls `ovnbpf_<fn>(f, args...)` and stores its
result; `get_arp(P, A);` / `get_nd(P, A);` set eth.dst themselves."""
from __future__ import annotations

from .base import Call, ResultCall, call_helper


class MapLookup(ResultCall):
    """`dst = fn(fields...)`: ovnbpf_<fn>(f, each field's words, hi word first)."""

    def lower_c(self, c):
        args = ", ".join(["f"] + c.arg_words(self.args))
        result = c.fresh("r")
        c.line(f"__u64 {result} = ovnbpf_{self.keyword}({args});")
        c.write(self.dst, [result])


class MacBindingGet(Call):
    """`get_arp(P, A);`: eth.dst from the MAC_Binding map (the helper writes it)."""
    reason = "MAC binding map lookup"

    def lower_c(self, c):
        args = ", ".join(["f"] + c.arg_words(self.args))
        c.line(f"ovnbpf_{self.keyword}({args});")

    def evaluate(self, run):
        call_helper(run, self)


class GetArp(MacBindingGet):
    keyword = "get_arp"


class GetNd(MacBindingGet):
    keyword = "get_nd"


class CheckInPortSecResult(MapLookup):
    keyword = "check_in_port_sec"
    reason = "port security map lookup"


class CheckOutPortSecResult(MapLookup):
    keyword = "check_out_port_sec"
    reason = "port security map lookup"


class LookupArpResult(MapLookup):
    keyword = "lookup_arp"
    reason = "MAC binding map lookup"


class LookupNdResult(MapLookup):
    keyword = "lookup_nd"
    reason = "MAC binding map lookup"


class LookupArpIpResult(MapLookup):
    keyword = "lookup_arp_ip"
    reason = "MAC binding map lookup"


class LookupNdIpResult(MapLookup):
    keyword = "lookup_nd_ip"
    reason = "MAC binding map lookup"


class GetFdbResult(MapLookup):
    keyword = "get_fdb"
    reason = "FDB map lookup"


class LookupFdbResult(MapLookup):
    keyword = "lookup_fdb"
    reason = "FDB map lookup"
