"""Conntrack in the kernel (bpf/lib/ct.h) through BPF_PROG_TEST_RUN, with a hand-written
security group in miniature (tests/datapath/pipelines/ct_pipeline.h: port 1 may open connections, port 2
may only answer; zones per port as OVN has them). Each case is a packet entering from
port 1 or 2 and whether it is delivered; the state machine's effects are read back from
the pinned conntrack table and its counters."""
from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import Ether

from .conftest import needs_bpf
from .netns import Lab, gro_on

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

HEADER = Path(__file__).resolve().parent / "pipelines" / "ct_pipeline.h"
DP = 1
MAC = {1: "0a:00:00:00:01:01", 2: "0a:00:00:00:01:02"}
IP4 = {1: "10.0.1.11", 2: "10.0.1.12"}
IP6 = {1: "fd00::11", 2: "fd00::12"}
CT_MAX = 65536                      # OVNBPF_CT_MAX
KEY = struct.Struct("<IHBBQQQQHHI")       # struct ovnbpf_ct_key
VAL = struct.Struct("<QIBBBBQQ")          # struct ovnbpf_ct_val
TCP_STATE = {1: "SYN_SENT", 2: "SYN_RECV", 3: "EST", 4: "FIN_WAIT", 5: "CLOSING", 6: "CLOSE"}


@pytest.fixture(scope="module")
def chassis():
    from datapath.chassis import ChassisDatapath, Local
    lab = Lab()
    dp = None
    try:
        hv = lab.ns("hv")
        vms = {v: lab.ns(f"vm{v}") for v in (1, 2)}
        for v in (1, 2):
            lab.veth(f"vif{v}", hv, "eth0", vms[v], mac_b=MAC[v])
            gro_on(vms[v], "eth0")
        dp = ChassisDatapath(f"/sys/fs/bpf/{lab.tag}-hv", netns=hv)
        dp.set_config(1, "172.31.250.11")
        ifx = {v: dp.attach_vif(f"vif{v}") for v in (1, 2)}
        dp.set_lports({(DP, 1): Local(ifx[1]), (DP, 2): Local(ifx[2])})
        dp.install_pipeline(HEADER, {})
        yield dp, ifx
    finally:
        if dp is not None:
            dp.close()
        lab.close()


def send(chassis, port, pkt) -> bool:
    """Run pkt as if it came from `port` (test-run's ingress device, lo, stands in for
    its VIF): True if delivered to the other port, False if the pipeline dropped it."""
    from datapath import testrun
    from datapath.chassis import current_cpu
    dp, ifx = chassis
    dp.set_vifs({ifx[1]: (DP, 1), ifx[2]: (DP, 2), 1: (DP, port)})
    allowed = os.sched_getaffinity(0)
    cpu = current_cpu()
    os.sched_setaffinity(0, {cpu})
    try:
        testrun.run(dp.prog_fd("vif"), bytes(pkt), ingress_ifindex=1)
        out = dp.last_output(cpu)
    finally:
        os.sched_setaffinity(0, allowed)
    if out["type"] == "local":
        assert out["ifindex"] == ifx[3 - port]
        return True
    assert out["type"] == "drop" and out["reason"] == "POLICY", out
    return False


def v4(src, l4):
    return Ether(src=MAC[src], dst=MAC[3 - src]) / IP(src=IP4[src], dst=IP4[3 - src]) / l4


def v6(src, l4):
    return Ether(src=MAC[src], dst=MAC[3 - src]) / IPv6(src=IP6[src], dst=IP6[3 - src]) / l4


def tcp(src, flags, sport=40000, dport=80):
    if src == 2:
        sport, dport = dport, sport
    return v4(src, TCP(sport=sport, dport=dport, flags=flags))


def _pin(chassis, name):
    return os.path.join(chassis[0].pin_dir, name)


def table(chassis) -> dict:
    """The conntrack table: {(zone port, proto, a port, b port): (tcp state, flags, mark)}."""
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", _pin(chassis, "ovnbpf_ct_v1")],
                         capture_output=True, text=True, check=True).stdout
    got = {}
    for e in json.loads(out):
        k = KEY.unpack(bytes(int(b, 16) for b in e["key"]))
        v = VAL.unpack(bytes(int(b, 16) for b in e["value"]))
        got[(k[1], k[2], k[8], k[9])] = (TCP_STATE.get(v[3], v[3]), v[4], v[1])
    return got


def age(chassis, seconds_ago=10**6):
    """Make every entry look idle since long ago (its timeout has passed)."""
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", _pin(chassis, "ovnbpf_ct_v1")],
                         capture_output=True, text=True, check=True).stdout
    for e in json.loads(out):
        v = bytearray(int(b, 16) for b in e["value"])
        v[0:8] = struct.pack("<Q", 1)
        subprocess.run(["bpftool", "map", "update", "pinned", _pin(chassis, "ovnbpf_ct_v1"),
                        "key", "hex", *e["key"], "value", "hex", *[f"{b:02x}" for b in v]],
                       check=True, capture_output=True)


def flush(chassis):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", _pin(chassis, "ovnbpf_ct_v1")],
                         capture_output=True, text=True, check=True).stdout
    for e in json.loads(out):
        subprocess.run(["bpftool", "map", "delete", "pinned", _pin(chassis, "ovnbpf_ct_v1"),
                        "key", "hex", *e["key"]], check=True, capture_output=True)


def ct_stats(chassis) -> dict:
    return {k: v for k, v in chassis[0].counters()["stats"].items() if k.startswith("ct_")}


@pytest.fixture
def ct(chassis):
    flush(chassis)
    return chassis


def test_tcp_handshake_data_and_close(ct):
    assert send(ct, 1, tcp(1, "S"))                    # new from 1: committed in zones 1, 2
    assert table(ct)[(1, 6, 40000, 80)] == ("SYN_SENT", 0, 7)
    assert table(ct)[(2, 6, 40000, 80)][0] == "SYN_SENT"
    assert send(ct, 2, tcp(2, "SA"))                   # the answer: ct.est|ct.rpl in zone 2
    assert table(ct)[(1, 6, 40000, 80)][0] == "SYN_RECV"
    assert send(ct, 1, tcp(1, "A"))
    assert send(ct, 2, tcp(2, "PA"))                   # data both ways
    assert send(ct, 1, tcp(1, "PA"))
    assert {v[0] for v in table(ct).values()} == {"EST"}
    assert send(ct, 1, tcp(1, "FA"))
    assert send(ct, 2, tcp(2, "FA"))
    assert send(ct, 1, tcp(1, "A"))
    assert {v[0] for v in table(ct).values()} == {"CLOSING"}
    assert send(ct, 1, tcp(1, "S"))                    # the same tuple opens again
    assert {v[0] for v in table(ct).values()} == {"SYN_SENT"}


def test_tcp_packets_that_no_connection_allows_are_dropped(ct):
    assert not send(ct, 2, tcp(2, "S", sport=5555, dport=22))     # new from 2: the ACL's no
    assert not send(ct, 1, tcp(1, "SA", sport=40001))              # SYN+ACK cannot start one
    assert not send(ct, 1, tcp(1, "R", sport=40002))               # nor can RST
    assert not send(ct, 1, tcp(1, "F", sport=40003))               # FIN without ACK: invalid
    assert table(ct) == {}
    assert send(ct, 1, tcp(1, "S"))
    assert not send(ct, 1, tcp(1, "A"))               # an ACK before any SYN+ACK
    assert not send(ct, 1, tcp(1, "SA"))              # SYN+ACK in the originator's direction
    assert send(ct, 2, tcp(2, "R"))                   # refused: the connection closes
    assert {v[0] for v in table(ct).values()} == {"CLOSE"}
    assert not send(ct, 2, tcp(2, "A"))               # nothing but a new SYN after RST


def test_udp_replies_pass_new_flows_from_the_answering_side_do_not(ct):
    assert send(ct, 1, v4(1, UDP(sport=5000, dport=53)))
    assert send(ct, 2, v4(2, UDP(sport=53, dport=5000)))           # the reply
    assert table(ct)[(1, 17, 5000, 53)][1] & 1                     # SEEN_REPLY
    assert not send(ct, 2, v4(2, UDP(sport=53, dport=5001)))        # new from 2


def test_icmp_echo_by_identifier_and_icmpv6(ct):
    assert send(ct, 1, v4(1, ICMP(type=8, id=77)))
    assert send(ct, 2, v4(2, ICMP(type=0, id=77)))
    assert not send(ct, 2, v4(2, ICMP(type=0, id=78)))     # a reply nobody asked for
    assert not send(ct, 2, v4(2, ICMP(type=8, id=79)))     # a request from 2: new, denied
    # errors are not related to their connection (a gap): each is new, judged by the ACLs
    # (from 1: allowed; from 2: denied) and never committed
    assert send(ct, 1, v4(1, ICMP(type=3, code=3)))
    assert not send(ct, 2, v4(2, ICMP(type=3, code=3)))
    assert all(k[1] != 1 or k[2] in (77, 79) for k in table(ct))
    assert send(ct, 1, v6(1, ICMPv6EchoRequest(id=5)))
    assert send(ct, 2, v6(2, ICMPv6EchoReply(id=5)))
    assert not send(ct, 2, v6(2, ICMPv6EchoReply(id=6)))
    assert (1, 58, 5, 5) in table(ct) and (2, 1, 77, 77) in table(ct)


def test_ipv6_tcp(ct):
    assert send(ct, 1, v6(1, TCP(sport=40000, dport=80, flags="S")))
    assert send(ct, 2, v6(2, TCP(sport=80, dport=40000, flags="SA")))
    assert not send(ct, 2, v6(2, TCP(sport=81, dport=40000, flags="S")))


def test_an_idle_connection_expires_at_lookup(ct):
    assert send(ct, 1, v4(1, UDP(sport=5000, dport=53)))
    before = ct_stats(ct)
    age(ct)
    assert not send(ct, 2, v4(2, UDP(sport=53, dport=5000)))       # a "reply" too late: new
    assert ct_stats(ct)["ct_expired"] == before["ct_expired"] + 1
    assert (2, 17, 5000, 53) not in table(ct)


def test_a_full_table_counts_overflow(ct):
    before = ct_stats(ct)
    live = _pin(ct, "ovnbpf_ct_live")
    subprocess.run(["bpftool", "map", "update", "pinned", live, "key", "0", "0", "0", "0",
                    "value", *[str(b) for b in struct.pack("<Q", CT_MAX)]], check=True)
    try:
        assert send(ct, 1, v4(1, UDP(sport=6000, dport=53)))       # still tracked (LRU)
    finally:
        subprocess.run(["bpftool", "map", "update", "pinned", live, "key", "0", "0", "0", "0",
                        "value", "0", "0", "0", "0", "0", "0", "0", "0"], check=True)
    after = ct_stats(ct)
    assert after["ct_overflow"] == before["ct_overflow"] + 2       # zone 1 and zone 2
    assert after["ct_created"] == before["ct_created"] + 2
