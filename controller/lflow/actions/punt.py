"""Actions the controller carries out (OVN's pinctrl): the datapath punts the packet, or a
copy of it, with the lflow's cookie; controller/punt/handler.py dispatches on `punt`.

    copies       put_arp / put_nd / put_fdb: the datapath sends a copy and goes on
    generating   arp {}, icmp4 {}, ...: the packet is consumed, the controller builds a
                 new one (punt/packets.py BUILDERS), runs the nested actions, injects it
    replies      handle_*, put_dhcp_opts, dns_lookup, ...: controller protocol work;
                 put_dhcp_opts, put_dhcpv6_opts, dns_lookup pause the packet: the handler
                 turns it into the answer (punt/dhcp.py, dhcp6.py, dns.py), writes the
                 result bit and resumes it at the next table
"""
from __future__ import annotations

from typing import ClassVar

from .base import (GENERATE, LEARN, PAUSE, PUNT, Call, Keyword, Nested, ResultCall, Verdict,
                   ignore, not_handled)

NOT_YET = "not implemented by the punt handler yet"


# ---- copies: learn from the packet, let it go on ----------------------------------------

class CopyToController(Call):
    """The datapath sends the controller a copy (OVNBPF_PUNT_COPY with `copy_kind`,
    which punt/event.py COPY_KINDS maps back to the keyword) and goes on."""
    category = PUNT
    copy_kind: ClassVar[str] = ""

    def lower_c(self, c):
        c.line("OVNBPF_FC_NOCACHE(f);")
        c.line(f"OVNBPF_PUNT_COPY(f, {self.copy_kind}, {c.cookie});")


class PutArp(CopyToController):
    keyword = "put_arp"
    reason = "learns a MAC binding (controller writes MAC_Binding)"
    copy_kind = "OVNBPF_COPY_PUT_ARP"
    punt = LEARN


class PutNd(CopyToController):
    keyword = "put_nd"
    reason = "learns a MAC binding (controller writes MAC_Binding)"
    copy_kind = "OVNBPF_COPY_PUT_ND"
    punt = LEARN


class PutFdb(CopyToController):
    keyword = "put_fdb"
    reason = "learns an FDB entry (controller writes FDB)"
    copy_kind = "OVNBPF_COPY_PUT_FDB"
    punt = not_handled(f"FDB learning is {NOT_YET}")


# ---- generating: the packet is consumed, a new one is built ------------------------------

class Generating(Nested):
    category = PUNT
    consumes_packet = True
    punt = GENERATE


GEN = "generates a packet"


class ArpBlock(Generating):
    keyword = "arp"
    reason = f"{GEN} (ARP request)"


class NdNsBlock(Generating):
    keyword = "nd_ns"
    reason = f"{GEN} (neighbour solicitation)"


class NdNaBlock(Generating):
    keyword = "nd_na"
    reason = f"{GEN} (neighbour advertisement)"


class NdNaRouterBlock(Generating):
    keyword = "nd_na_router"
    reason = f"{GEN} (neighbour advertisement)"


class Icmp4Block(Generating):
    keyword = "icmp4"
    reason = f"{GEN} (ICMPv4 error)"


class Icmp4ErrorBlock(Generating):
    keyword = "icmp4_error"
    reason = f"{GEN} (ICMPv4 error)"


class Icmp6Block(Generating):
    keyword = "icmp6"
    reason = f"{GEN} (ICMPv6 error)"


class Icmp6ErrorBlock(Generating):
    keyword = "icmp6_error"
    reason = f"{GEN} (ICMPv6 error)"


class TcpResetBlock(Generating):
    keyword = "tcp_reset"
    reason = f"{GEN} (TCP RST)"


class SctpAbortBlock(Generating):
    keyword = "sctp_abort"
    reason = f"{GEN} (SCTP ABORT)"


class RejectBlock(Generating):
    keyword = "reject"
    reason = f"{GEN} (reject)"
    punt = not_handled(f"reject (RST or ICMP unreachable by protocol) is {NOT_YET}")


# ---- controller protocol work --------------------------------------------------------------

class HandleDhcpv6Reply(Keyword):
    keyword = "handle_dhcpv6_reply"
    category = PUNT
    reason = "DHCPv6 reply handled by the controller"
    consumes_packet = True
    punt = ignore("no DHCPv6 prefix delegation configured: reply ignored")


class HandleSvcCheck(Call):
    keyword = "handle_svc_check"
    category = PUNT
    reason = "service monitor reply handled by the controller"
    consumes_packet = True
    punt = ignore("no Service_Monitor rows are monitored: reply ignored")


class TriggerEvent(Keyword):
    keyword = "trigger_event"
    category = PUNT
    reason = "controller event"
    punt = not_handled(f"controller events (Controller_Event rows) are {NOT_YET}")


class Igmp(Keyword):
    keyword = "igmp"
    category = PUNT
    reason = "IGMP snooping by the controller"
    punt = not_handled(f"IGMP snooping is {NOT_YET}")


class Mld(Keyword):
    keyword = "mld"
    category = PUNT
    reason = "MLD snooping by the controller"
    punt = not_handled(f"MLD snooping is {NOT_YET}")


class BindVport(Call):
    keyword = "bind_vport"
    category = PUNT
    reason = "virtual port binding by the controller"
    punt = not_handled(f"virtual port binding is {NOT_YET}")


class Pausing(ResultCall):
    """`R = fn(...); next;` run as OVN does, pause and resume: the datapath punts the packet
    (a consuming punt), the handler answers in place and resumes at the next table."""
    category = PUNT
    consumes_packet = True
    pauses = True
    punt = PAUSE

    def evaluate(self, run):
        return Verdict(("punt", self.keyword))     # the controller answers, then resumes


class PutDhcpOptsResult(Pausing):
    keyword = "put_dhcp_opts"
    reason = "DHCPv4 answered by the controller (packet paused and resumed)"


class PutDhcpv6OptsResult(Pausing):
    keyword = "put_dhcpv6_opts"
    reason = "DHCPv6 answered by the controller (packet paused and resumed)"


class PutNdRaOptsResult(ResultCall):
    keyword = "put_nd_ra_opts"
    category = PUNT
    reason = "router advertisement built by the controller"
    punt = not_handled(f"router advertisements are {NOT_YET}")


class DnsLookupResult(Pausing):
    keyword = "dns_lookup"
    reason = "DNS answered by the controller from the SB DNS table (packet paused and resumed)"
