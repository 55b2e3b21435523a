"""`ovnbpf bench ct`: what conntrack (bpf/lib/ct.h) costs per packet, through
BPF_PROG_TEST_RUN of the real entry program (xdp_vif) and two hand-written pipelines that
differ only in conntrack: tests/datapath/pipelines/punt_pipeline.h (output by eth.dst, nothing else) and
tests/datapath/pipelines/ct_pipeline.h (ct_next in ingress and egress, commit of new connections).

Figures (ns per packet, the kernel's own test-run timing; compare only within one run):
  floor         the same packet through the pipeline without conntrack
  established   a packet of a known connection: two lookups (the zones of both ports)
  new           a new connection: two lookups + two commits (single runs over distinct
                tuples, so each one is new), beside established packets run singly too
and the table's memory (bytes_memlock of the preallocated LRU map) per 100k entries.
Runs in a namespace of its own; everything it makes is removed."""
from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess

from . import testrun
from .chassis import ChassisDatapath, Local, current_cpu
from .standin import standin

DP = 1


def _udp(src: int, sport: int, dport: int) -> bytes:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    ips = {1: "10.0.1.11", 2: "10.0.1.12"}
    return bytes(Ether(src=f"0a:00:00:00:01:0{src}", dst=f"0a:00:00:00:01:0{3 - src}")
                 / IP(src=ips[src], dst=ips[3 - src]) / UDP(sport=sport, dport=dport)
                 / (b"x" * 18))


def _run(dp, port, frame, repeat=1):
    dp.set_vifs({1: (DP, port)})
    return testrun.run(dp.prog_fd("vif"), frame, repeat=repeat, ingress_ifindex=1)


def add_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=200000,
                        help="test-run repetitions per steady figure (default 200000)")
    parser.add_argument("--new", type=int, default=2000,
                        help="new connections timed one by one (default 2000)")


def run(repeat: int = 200000, new: int = 2000) -> dict:
    tag = f"hctb-{secrets.token_hex(3)}"
    ns = tag
    subprocess.run(["ip", "netns", "add", ns], check=True)
    pin = f"/sys/fs/bpf/{tag}"
    dp = None
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {current_cpu()})
    try:
        dp = ChassisDatapath(pin, netns=ns)
        dp.set_config(1, "172.31.250.11")
        dp.set_lports({(DP, 1): Local(1), (DP, 2): Local(1)})
        out = {}
        dp.install_pipeline(standin("punt_pipeline.h"), {})
        fwd = _udp(1, 5000, 53)
        out["floor_ns"] = _run(dp, 1, fwd, repeat).duration_ns
        dp.install_pipeline(standin("ct_pipeline.h"), {})
        _run(dp, 1, fwd)                       # commits in both zones
        _run(dp, 2, _udp(2, 53, 5000))         # the reply: established from now on
        out["established_ns"] = _run(dp, 1, fwd, repeat).duration_ns
        # single runs carry test-run's fixed cost: the established packet, run the same
        # way, is the floor to read them against
        single = [_run(dp, 1, fwd).duration_ns for _ in range(new)]
        times = [_run(dp, 1, _udp(1, 10000 + i, 53)).duration_ns for i in range(new)]
        out["established_single_run_ns_median"] = statistics.median(single)
        out["new_single_run_ns_median"] = statistics.median(times)
        out["new_single_run_ns_p90"] = sorted(times)[int(len(times) * 0.9)]
        show = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "pinned",
                                          f"{pin}/ovnbpf_ct_v1"], check=True,
                                         capture_output=True, text=True).stdout)
        out["table"] = {"type": show["type"], "max_entries": show["max_entries"],
                        "bytes_key": show["bytes_key"], "bytes_value": show["bytes_value"],
                        "bytes_memlock": show.get("bytes_memlock"),
                        "bytes_per_100k_entries": (show["bytes_memlock"] * 100000
                                                   // show["max_entries"]
                                                   if show.get("bytes_memlock") else None)}
        out["ct_stats"] = {k: v for k, v in dp.counters()["stats"].items() if k.startswith("ct_")}
        out["cost_of_two_lookups_ns"] = out["established_ns"] - out["floor_ns"]
        return out
    finally:
        os.sched_setaffinity(0, allowed)
        if dp is not None:
            dp.close()
        subprocess.run(["ip", "netns", "del", ns])


def bench(args) -> dict:
    return run(getattr(args, "repeat", 200000) or 200000, getattr(args, "new", 2000) or 2000)
