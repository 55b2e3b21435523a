"""One class per action kind of the Logical_Flow actions column.

Each class knows its own syntax (`parse`, `format`) and what it needs from the datapath
(`category`, `reason`): compiled into BPF, needs conntrack, needs a punt to the controller
(packet-generating or learning actions), or unsupported. Emitting C for the compiled ones
lives in emit_c.py and works from the same classes.

Actions that read or write a field (`reg0 = ip4.dst;`) are classified further by the
fields they touch (a ct_* field means conntrack), see classify.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .ast import FieldRef
from .formatter import format_operand
from .lexer import END, ID

__all__ = [
    "COMPILED", "CONNTRACK", "PUNT", "UNSUPPORTED", "Action", "Assign", "Exchange",
    "DecTtl", "Next", "Output", "Drop", "Nested", "ResultCall", "Call", "Keyword",
    "RawArgs", "parse_action", "ACTIONS", "RESULT_ACTIONS", "walk_actions",
]

COMPILED = "compiled"
CONNTRACK = "needs-conntrack"
PUNT = "needs-punt"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class RawArgs:
    """Arguments kept as written, for actions whose argument syntax is their own
    (`ct_lb_mark(backends=10.0.0.2:80; hash_fields="ip_src")`, `log(name="x")`)."""
    text: str


class Action:
    keyword: ClassVar[str] = ""
    category: ClassVar[str] = COMPILED
    reason: ClassVar[str] = ""
    # Punted actions that take the packet away (icmp4 {}, handle_svc_check) rather than
    # sending the controller a copy and going on (put_arp).
    consumes_packet: ClassVar[bool] = False
    # Consuming actions that OVN runs as pause-and-resume (put_dhcp_opts): the controller
    # changes the packet, writes the result, runs the flow's remaining actions and resumes.
    pauses: ClassVar[bool] = False

    def format(self) -> str:
        raise NotImplementedError

    def nested(self) -> tuple:
        return ()


def _parse_args(p) -> tuple:
    """`( a, b, ... )` as operands, or as RawArgs if they are not plain operands."""
    open_tok = p.expect("(")
    start = p.pos
    depth = 1
    while depth:
        tok = p.tok
        if tok.kind == END:
            raise p.error("expected ')' to close the arguments", tok)
        if tok.is_punct("("):
            depth += 1
        elif tok.is_punct(")"):
            depth -= 1
        if depth:
            p.advance()
    end_tok = p.advance()  # the closing ')'
    tokens = p.tokens[start:p.pos - 1]
    if not tokens:
        return ()
    # Try the plain form: operand (',' operand)*.
    saved = p.pos
    p.pos = start
    operands = []
    try:
        while p.pos < saved - 1:
            operands.append(p.parse_operand())
            if p.pos < saved - 1:
                p.expect(",")
        if p.pos == saved - 1:
            p.pos = saved
            return tuple(operands)
    except ValueError:
        pass
    p.pos = saved
    raw = p.text[open_tok.col:end_tok.col - 1].strip()
    return (RawArgs(raw),)


def _format_args(args: tuple) -> str:
    return ", ".join(a.text if isinstance(a, RawArgs) else format_operand(a) for a in args)


# ---- field actions ---------------------------------------------------------------

@dataclass(frozen=True)
class Assign(Action):
    """`dst = src;` where src is a constant or a field."""
    dst: FieldRef
    src: object

    def format(self) -> str:
        return f"{format_operand(self.dst)} = {format_operand(self.src)};"


@dataclass(frozen=True)
class Exchange(Action):
    """`a <-> b;`"""
    a: FieldRef
    b: FieldRef

    def format(self) -> str:
        return f"{format_operand(self.a)} <-> {format_operand(self.b)};"


@dataclass(frozen=True)
class DecTtl(Action):
    """`ip.ttl--;`: decrement, and stop processing the packet if it reaches 0."""

    def format(self) -> str:
        return "ip.ttl--;"


# ---- control flow ----------------------------------------------------------------

@dataclass(frozen=True)
class Next(Action):
    keyword: ClassVar[str] = "next"
    pipeline: str | None = None
    table: int | None = None
    named: bool = False          # written as next(table=N) rather than next(N)

    @classmethod
    def parse(cls, p):
        if not p.accept("("):
            return cls()
        if p.tok.kind != ID:
            table = p.expect_int()
            p.expect(")")
            return cls(None, table, False)
        pipeline = table = None
        while not p.accept(")"):
            key_tok = p.tok
            key = p.expect_id("'pipeline' or 'table'")
            p.expect("=")
            if key == "pipeline":
                pipeline = p.expect_id("ingress or egress")
                if pipeline not in ("ingress", "egress"):
                    raise p.error("pipeline must be ingress or egress", key_tok)
            elif key == "table":
                table = p.expect_int()
            else:
                raise p.error("expected 'pipeline' or 'table'", key_tok)
            p.accept(",")
        return cls(pipeline, table, True)

    def format(self) -> str:
        if self.pipeline is None and self.table is None:
            return "next;"
        if not self.named:
            return f"next({self.table});"
        parts = []
        if self.pipeline is not None:
            parts.append(f"pipeline={self.pipeline}")
        if self.table is not None:
            parts.append(f"table={self.table}")
        return f"next({', '.join(parts)});"


@dataclass(frozen=True)
class _Bare(Action):
    """An action that is just its keyword: `output;`."""

    @classmethod
    def parse(cls, p):
        return cls()

    def format(self) -> str:
        return f"{self.keyword};"


class Output(_Bare):
    keyword = "output"


class Drop(_Bare):
    keyword = "drop"


# ---- keyword actions with optional arguments: `ct_next;`, `ct_dnat(10.0.0.1);` ----------

@dataclass(frozen=True)
class Keyword(Action):
    args: tuple = ()
    with_parens: bool = False

    @classmethod
    def parse(cls, p):
        if p.tok.is_punct("("):
            return cls(_parse_args(p), True)
        return cls()

    def format(self) -> str:
        if not self.with_parens:
            return f"{self.keyword};"
        return f"{self.keyword}({_format_args(self.args)});"


def _keyword(name: str, category: str, reason: str = "", consumes_packet: bool = False) -> type:
    cls_name = "".join(part.title() for part in name.split("_"))
    return type(cls_name, (Keyword,), {"keyword": name, "category": category, "reason": reason,
                                        "consumes_packet": consumes_packet, "__module__": __name__})


_CT = "connection tracking"
CtClear = _keyword("ct_clear", COMPILED, "no-op: the datapath keeps no conntrack state")
KEYWORD_ACTIONS = [
    CtClear,
    *(_keyword(n, CONNTRACK, _CT) for n in (
        "ct_next", "ct_lb", "ct_lb_mark", "ct_dnat", "ct_snat", "ct_dnat_in_czone",
        "ct_snat_in_czone", "ct_commit_nat", "ct_snat_to_vip", "ct_commit_to_zone",
        "ct_mark_ecmp_reply_port")),
    _keyword("handle_dhcpv6_reply", PUNT, "DHCPv6 reply handled by the controller", True),
    _keyword("trigger_event", PUNT, "controller event"),
    _keyword("igmp", PUNT, "IGMP snooping by the controller"),
    _keyword("mld", PUNT, "MLD snooping by the controller"),
    _keyword("set_queue", UNSUPPORTED, "QoS queues are not implemented"),
    _keyword("set_meter", UNSUPPORTED, "meters are not implemented"),
    _keyword("log", UNSUPPORTED, "ACL logging is not implemented"),
    _keyword("fwd_group", UNSUPPORTED, "forwarding groups are not implemented"),
    _keyword("commit_ecmp_nh", CONNTRACK, _CT),
    _keyword("commit_lb_aff", CONNTRACK, _CT),
    _keyword("sample", UNSUPPORTED, "sampling is not implemented"),
    _keyword("mac_cache_use", UNSUPPORTED, "MAC cache is not implemented"),
]


# ---- function calls: `put_arp(inport, arp.spa, arp.sha);` ---------------------------

@dataclass(frozen=True)
class Call(Action):
    args: tuple = ()

    @classmethod
    def parse(cls, p):
        return cls(_parse_args(p))

    def format(self) -> str:
        return f"{self.keyword}({_format_args(self.args)});"


def _call(name: str, category: str, reason: str = "", consumes_packet: bool = False) -> type:
    cls_name = "".join(part.title() for part in name.split("_"))
    return type(cls_name, (Call,), {"keyword": name, "category": category, "reason": reason,
                                     "consumes_packet": consumes_packet, "__module__": __name__})


CALL_ACTIONS = [
    # MAC_Binding lookups: a datapath map lookup that sets eth.dst.
    _call("get_arp", COMPILED, "MAC binding map lookup"),
    _call("get_nd", COMPILED, "MAC binding map lookup"),
    _call("put_arp", PUNT, "learns a MAC binding (controller writes MAC_Binding)"),
    _call("put_nd", PUNT, "learns a MAC binding (controller writes MAC_Binding)"),
    _call("put_fdb", PUNT, "learns an FDB entry (controller writes FDB)"),
    _call("handle_svc_check", PUNT, "service monitor reply handled by the controller", True),
    _call("bind_vport", PUNT, "virtual port binding by the controller"),
    _call("push", UNSUPPORTED, "push/pop stack is not implemented"),
    _call("pop", UNSUPPORTED, "push/pop stack is not implemented"),
]


# ---- `dst = function(args);` -----------------------------------------------------------

@dataclass(frozen=True)
class ResultCall(Action):
    dst: FieldRef = None
    args: tuple = ()

    @classmethod
    def parse_after_assign(cls, p, dst: FieldRef):
        p.advance()  # the function name
        return cls(dst, _parse_args(p))

    def format(self) -> str:
        return f"{format_operand(self.dst)} = {self.keyword}({_format_args(self.args)});"


def _result(name: str, category: str, reason: str = "", pauses: bool = False) -> type:
    cls_name = "".join(part.title() for part in name.split("_")) + "Result"
    return type(cls_name, (ResultCall,), {"keyword": name, "category": category,
                                           "reason": reason, "consumes_packet": pauses,
                                           "pauses": pauses, "__module__": __name__})


RESULT_ACTIONS_LIST = [
    _result("check_in_port_sec", COMPILED, "port security map lookup"),
    _result("check_out_port_sec", COMPILED, "port security map lookup"),
    _result("lookup_arp", COMPILED, "MAC binding map lookup"),
    _result("lookup_nd", COMPILED, "MAC binding map lookup"),
    _result("lookup_arp_ip", COMPILED, "MAC binding map lookup"),
    _result("lookup_nd_ip", COMPILED, "MAC binding map lookup"),
    _result("get_fdb", COMPILED, "FDB map lookup"),
    _result("lookup_fdb", COMPILED, "FDB map lookup"),
    _result("put_dhcp_opts", PUNT, "DHCPv4 answered by the controller (packet paused and "
            "resumed)", pauses=True),
    _result("put_dhcpv6_opts", PUNT, "DHCPv6 answered by the controller (packet paused and "
            "resumed)", pauses=True),
    _result("put_nd_ra_opts", PUNT, "router advertisements are not implemented"),
    _result("dns_lookup", PUNT, "DNS answered by the controller from the SB DNS table (packet "
            "paused and resumed)", pauses=True),
    _result("chk_lb_hairpin", CONNTRACK, _CT),
    _result("chk_lb_hairpin_reply", CONNTRACK, _CT),
    _result("chk_lb_aff", CONNTRACK, _CT),
    _result("ct_snat_to_vip", CONNTRACK, _CT),
    _result("check_pkt_larger", UNSUPPORTED, "packet length is not in the flow ABI"),
    _result("select", UNSUPPORTED, "select (ECMP hashing) is not implemented"),
]
RESULT_ACTIONS: dict[str, type] = {c.keyword: c for c in RESULT_ACTIONS_LIST}


# ---- nested actions: `arp { ... };`, `clone { ... };` ----------------------------------

@dataclass(frozen=True)
class Nested(Action):
    actions: tuple = ()

    @classmethod
    def parse(cls, p):
        p.expect("{")
        actions = p.parse_action_list("}")
        p.expect("}")
        return cls(actions)

    def nested(self) -> tuple:
        return self.actions

    def format(self) -> str:
        inner = " ".join(a.format() for a in self.actions)
        return f"{self.keyword} {{ {inner} }};" if inner else f"{self.keyword} {{ }};"


def _nested(name: str, category: str, reason: str = "") -> type:
    cls_name = "".join(part.title() for part in name.split("_")) + "Block"
    return type(cls_name, (Nested,), {"keyword": name, "category": category,
                                       "reason": reason, "consumes_packet": category == PUNT,
                                       "__module__": __name__})


_GEN = "generates a packet"
NESTED_ACTIONS = [
    # lower.py turns northd's `clone { outport = P; output; }; outport = G; output;` into a
    # synthetic multicast group; any other clone stays unsupported.
    _nested("clone", UNSUPPORTED, "only `clone { outport = P; output; }; outport = G; output;` "
            "is lowered (to a synthetic multicast group)"),
    _nested("arp", PUNT, f"{_GEN} (ARP request)"),
    _nested("nd_ns", PUNT, f"{_GEN} (neighbour solicitation)"),
    _nested("nd_na", PUNT, f"{_GEN} (neighbour advertisement)"),
    _nested("nd_na_router", PUNT, f"{_GEN} (neighbour advertisement)"),
    _nested("icmp4", PUNT, f"{_GEN} (ICMPv4 error)"),
    _nested("icmp4_error", PUNT, f"{_GEN} (ICMPv4 error)"),
    _nested("icmp6", PUNT, f"{_GEN} (ICMPv6 error)"),
    _nested("icmp6_error", PUNT, f"{_GEN} (ICMPv6 error)"),
    _nested("tcp_reset", PUNT, f"{_GEN} (TCP RST)"),
    _nested("sctp_abort", PUNT, f"{_GEN} (SCTP ABORT)"),
    _nested("reject", PUNT, f"{_GEN} (reject)"),
    _nested("ct_commit", CONNTRACK, _CT),
]


ACTIONS: dict[str, type] = {
    c.keyword: c for c in (Next, Output, Drop, *KEYWORD_ACTIONS, *CALL_ACTIONS, *NESTED_ACTIONS)
}


def parse_action(p) -> Action:
    """Parse one action and its terminating ';'."""
    tok = p.tok
    if tok.kind != ID:
        raise p.error("expected an action")
    nxt = p.peek()
    if tok.text in ACTIONS and not nxt.is_punct("=", "<->", "--", "["):
        cls = ACTIONS[tok.text]
        p.advance()
        if issubclass(cls, Nested) and not p.tok.is_punct("{"):
            raise p.error(f"expected '{{' after {tok.text}")
        if issubclass(cls, Call) and not p.tok.is_punct("("):
            raise p.error(f"expected '(' after {tok.text}")
        action = cls.parse(p)
    elif nxt.is_punct("=", "<->", "--", "["):
        dst = p.parse_field_ref()
        if p.accept("--"):
            if dst != FieldRef("ip.ttl"):
                raise p.error("only ip.ttl can be decremented", tok)
            action = DecTtl()
        elif p.accept("<->"):
            if p.tok.kind != ID:
                raise p.error("expected a field to exchange with")
            action = Exchange(dst, p.parse_field_ref())
        else:
            p.expect("=")
            if p.tok.kind == ID and p.peek().is_punct("("):
                fn = p.tok.text
                if fn not in RESULT_ACTIONS:
                    raise p.error(f"unknown function {fn!r}")
                action = RESULT_ACTIONS[fn].parse_after_assign(p, dst)
            else:
                action = Assign(dst, p.parse_operand())
    else:
        raise p.error(f"unknown action {tok.text!r}")
    p.expect(";")
    return action


def walk_actions(actions):
    """Every action, nested ones included, depth first."""
    for action in actions:
        yield action
        yield from walk_actions(action.nested())
