"""The soak's pure logic (topologies/lab/soak.py): the seeded plan, ping parsing, loss
attribution to fault windows, the log check and the flatness bounds. No root."""
import random
import re

import pytest

from topologies.lab import soak, topology
from topologies.lab.soakrun import judge, traffic_flows

CHASSIS = ["hv1", "hv2"]


def test_same_seed_same_plan_other_seed_other_plan():
    a = soak.make_plan(7, 120, CHASSIS)
    assert a == soak.make_plan(7, 120, CHASSIS)
    assert a.changes != soak.make_plan(8, 120, CHASSIS).changes


@pytest.mark.parametrize("seed", range(20))
def test_churn_never_names_the_labs_own_objects(seed):
    topo = topology.load("ebpf")
    protected = soak.protected_names(topo)
    assert {"ls1", "ls2", "lr1", "lsp-vm1", "lrp-ls1", "ls1-lr1"} <= protected
    plan = soak.make_plan(seed, 300, CHASSIS)
    for change in plan.changes:
        words = set(re.split(r"[\s,=()\"'@$]+", " ".join(change.argv)))
        assert not words & protected, change.describe()
        # every object the churn creates carries the prefix
        if change.op.startswith("add_") and change.op != "add_acl":
            created = [a for a in change.argv if a.split("=")[-1].startswith(soak.PREFIX)]
            assert created, change.describe()


def _replay(plan):
    """Apply the plan to a tiny model of the NB: every reference must exist, every
    removal must find its object (what makes real ovn-nbctl succeed)."""
    ls, lr, lb, aset, pg = set(), set(), set(), set(), set()
    lrp, lsp = {}, {}        # name -> router / switch: removed with it
    acls = set()
    for change in plan.changes:
        cmds, cur = [], []
        for a in change.argv:
            if a == "--":
                cmds.append(cur)
                cur = []
            else:
                cur.append(a)
        cmds.append(cur)
        for cmd in cmds:
            if cmd[0].startswith("--type="):
                kind, cmd = cmd[0][7:], cmd[1:]
            op, args = cmd[0], cmd[1:]
            if op == "ls-add":
                ls.add(args[0])
            elif op == "ls-del":
                ls.remove(args[0])
                lsp = {p: s for p, s in lsp.items() if s != args[0]}
                acls = {a for a in acls if a[1] != args[0]}
            elif op == "lr-add":
                lr.add(args[0])
            elif op == "lr-del":
                lr.remove(args[0])
                lrp = {p: r for p, r in lrp.items() if r != args[0]}
            elif op == "lrp-add":
                assert args[0] in lr
                lrp[args[1]] = args[0]
            elif op == "lrp-del":
                del lrp[args[0]]
            elif op == "lsp-add":
                assert args[0] in ls, change.describe()
                lsp[args[1]] = args[0]
            elif op == "lsp-del":
                del lsp[args[0]]
            elif op.startswith("lsp-set"):
                assert args[0] in lsp
            elif op == "acl-add":
                assert args[0] in (ls if kind == "switch" else pg), change.describe()
                for ref in re.findall(r"\$(\w+)", args[3]):
                    assert ref in aset, change.describe()
                acls.add((kind, args[0], args[1], args[2], args[3]))
            elif op == "acl-del":
                acls.remove((kind, *args))
            elif op == "lb-add":
                lb.add(args[0])
            elif op == "lb-del":
                lb.remove(args[0])
            elif op in ("ls-lb-add", "ls-lb-del"):
                assert args[0] in ls and args[1] in lb
            elif op in ("lr-lb-add", "lr-lb-del"):
                assert args[0] in lr and args[1] in lb
            elif op == "create":
                aset.add(args[1].split("=")[1])
            elif op in ("add", "remove"):
                assert args[1] in aset
            elif op == "destroy":
                assert not any(f"${args[1]} " in a[4] + " " for a in acls), change.describe()
                aset.remove(args[1])
            elif op == "pg-add":
                pg.add(args[0])
                assert set(args[1:]) <= set(lsp)
            elif op == "pg-set-ports":
                assert args[0] in pg and set(args[1:]) <= set(lsp), change.describe()
            elif op == "pg-del":
                pg.remove(args[0])
                acls = {a for a in acls if a[1] != args[0]}
            else:
                raise AssertionError(f"unexpected command {op}")


@pytest.mark.parametrize("seed", range(30))
def test_plan_is_valid_nb_churn(seed):
    _replay(soak.make_plan(seed, 240, CHASSIS))


def test_churn_covers_every_object_kind_and_its_removal():
    ops = {c.op for seed in range(5) for c in soak.make_plan(seed, 240, CHASSIS).changes}
    assert ops == set(soak.OPS)


def test_faults_are_spaced_cycle_through_kinds_and_spare_the_kept_chassis():
    plan = soak.make_plan(3, 80, CHASSIS)   # 80 s: one of each
    kinds = [f.kind for f in plan.faults]
    assert sorted(kinds) == sorted(soak.DEFAULT_KINDS)     # 80 s: one of each
    times = [f.at for f in plan.faults]
    assert all(b - a >= 12 * 0.8 for a, b in zip(times, times[1:]))
    assert all(6 <= t <= 80 - 12 for t in times)
    long = soak.make_plan(3, 900, CHASSIS)
    assert len(long.faults) == (900 - 18) // 12
    assert {f.target for f in long.faults if f.kind == "controller_kill"} == {"hv1"}
    single = soak.make_plan(3, 900, CHASSIS, raft=False)
    assert "raft_leader_kill" not in {f.kind for f in single.faults}


def test_changes_are_timed_at_the_rate_within_the_soak():
    plan = soak.make_plan(1, 60, CHASSIS, rate=2.0)
    assert len(plan.changes) == int(57 * 2.0)
    assert all(1.0 <= c.at < 60 for c in plan.changes)
    assert [c.seq for c in plan.changes] == list(range(1, len(plan.changes) + 1))


# ---- ping parsing and attribution -------------------------------------------------------

def _ping_text(t0, n, lost, interval=0.02):
    lines = ["PING 10.0.1.12 (10.0.1.12) 56(84) bytes of data."]
    for seq in range(1, n + 1):
        sent = t0 + (seq - 1) * interval
        if seq in lost:
            lines.append(f"[{sent + interval:.6f}] no answer yet for icmp_seq={seq}")
        else:
            lines.append(f"[{sent + 0.0002:.6f}] 64 bytes from 10.0.1.12: icmp_seq={seq} "
                         f"ttl=64 time=0.200 ms")
    lines.append(f"--- 10.0.1.12 ping statistics ---")
    lines.append(f"{n} packets transmitted, {n - len(lost)} received")
    return "\n".join(lines)


def test_parse_ping_places_each_packet_and_its_loss():
    text = _ping_text(1000.0, 500, lost=set(range(100, 150)))
    packets, sent = soak.parse_ping(text, 0.02)
    assert sent == 500 and len(packets) == 500
    assert sum(l for _, l in packets) == 50
    t, lost = packets[99]
    assert lost and abs(t - (1000.0 + 99 * 0.02)) < 1e-3
    # lost packets with no line at all (sendmsg errors) are interpolated
    text = "\n".join(l for l in text.splitlines() if "icmp_seq=120" not in l)
    packets, _ = soak.parse_ping(text, 0.02)
    assert packets[119][1] and abs(packets[119][0] - (1000.0 + 119 * 0.02)) < 1e-3


def test_parse_ping_unwraps_sequence_numbers():
    lines = [f"[{100 + i * 0.02:.6f}] 64 bytes from x: icmp_seq={(i + 1) % 65536} ttl=1 time=0.1 ms"
             for i in range(65530, 65545)]
    lines.append("65545 packets transmitted, 65545 received")
    packets, sent = soak.parse_ping("\n".join(lines), 0.02)
    assert sent == 65545
    assert not packets[-1][1] and not packets[65535][1]


def test_attribute_splits_windows_from_the_rest_and_finds_bursts():
    packets = [(float(i), i in (10, 11, 30, 31, 32)) for i in range(50)]
    w = soak.Window("fault #1 x", 29.0, 33.0)
    phases, bursts = soak.attribute(packets, [w], until=45)
    assert phases["fault #1 x"] == [int(33 + soak.AFTER) - int(29 - soak.BEFORE), 3]
    assert phases["outside"][1] == 2 and sum(p[0] for p in phases.values()) == 45
    assert bursts == [(10.0, 11.0, 2, None)]


# ---- logs ---------------------------------------------------------------------------------

LOG = """\
2026-12-03T10:00:00.000Z|00001|daemon|INFO|started
2026-12-03T10:00:01.000Z|00002|daemon|WARN|row 570b684d-66e6-4da0-a1af-def667ad7cd5: bad match
2026-12-03T10:00:02.000Z|00003|daemon|WARN|lost the Southbound connection (tcp:172.31.250.1:6643); the datapath keeps forwarding
2026-12-03T10:00:03.000Z|00004|daemon|ERR|iteration failed; retrying in a second
Traceback (most recent call last):
  File "x.py", line 1, in <module>
RecursionError: maximum recursion depth exceeded
2026-12-03T10:00:04.000Z|00005|daemon|ERR|a templated lflow analysis differed from the real one
2026-12-03T10:00:05.000Z|00006|daemon|ERR|timed out after 30 s waiting for the Southbound at tcp:10.0.0.1:6642
"""


def test_log_check_wants_a_uuid_or_a_listed_exception():
    problems = soak.log_problems(LOG)
    assert problems == [("ERR|iteration failed; retrying in a second", 4),
                        ("ERR|a templated lflow analysis differed from the real one", 1)]
    assert soak.warn_lines(LOG) == 5


# ---- flatness -----------------------------------------------------------------------------

def test_growth_bounds():
    flat = [200_000 + random.Random(i).randrange(5000) for i in range(30)]
    assert soak.growth_problems("p", flat, [70] * 30) == []
    leaking = [200_000 + i * 10_000 for i in range(30)]
    (msg,) = soak.growth_problems("p", leaking, [70 + i for i in range(30)])[:1]
    assert "RSS grew" in msg
    assert any("fds grew" in m for m in soak.growth_problems("p", flat, [70 + 2 * i for i in range(30)]))
    assert soak.growth_problems("p", leaking[:5], [1, 2, 3, 4, 5]) == []   # too few samples


# ---- the verdict ----------------------------------------------------------------------------

def test_judge_names_phase_fault_and_figures():
    fig = {"changes": {"planned": 10, "applied": 10, "failed": 0, "failures": []},
           "traffic": {"cross vm1->vm3": {"sent": 100, "lost": 7, "bursts_total": 1,
                                          "outside": {"sent": 80, "lost": 5},
                                          "bursts": ["+3.00..+3.10 s: 5 lost; last change before it #2 add_switch"]}},
           "faults": {"fault #1 northd_stop (down 3.0 s)": {"start_s": 10, "end_s": 15,
                                                            "note": None, "sent": {"cross vm1->vm3": 20},
                                                            "lost": {"cross vm1->vm3": 2}}},
           "processes": {}, "logs": {}, "harness_errors": []}
    out = judge(fig, fault_bound=0)
    assert out[0].startswith("phase outside fault windows: cross vm1->vm3 lost 5 of 80")
    assert "#2 add_switch" in out[0]
    assert out[1] == ("fault #1 northd_stop (down 3.0 s) [+10..+15 s]: cross vm1->vm3 lost 2 "
                      "of 20 packets (bound 0)")
    assert len(judge(fig, fault_bound=None)) == 1


def test_judge_fails_a_full_compile_on_a_change_path():
    """Before: full compiles by reason were printed, not judged."""
    from controller.incremental import CHANGE_PATH, full_kind
    assert full_kind("first compile") == "start-up"
    assert full_kind("idle with 2 unused shape(s): dropping them") == "forced"
    assert full_kind("a new flow shape (a recompile)") == "shapes"
    assert full_kind("the related datapaths changed") == "scope"
    assert full_kind("port p2 removed or renumbered") == CHANGE_PATH
    assert full_kind("address_sets changed") == CHANGE_PATH
    fig = {"changes": {"planned": 1, "applied": 1, "failed": 0, "failures": []},
           "traffic": {}, "faults": {}, "processes": {}, "logs": {}, "harness_errors": [],
           "compiles": {"hv1": {"full": 3, "delta": 9,
                                "full_by_kind": {"start-up": 1, "shapes": 1, CHANGE_PATH: 1},
                                "change_path_reasons": ["port p2 removed or renumbered"]},
                        "hv2": {"full": 2, "delta": 9,
                                "full_by_kind": {"start-up": 1, "forced": 1},
                                "change_path_reasons": []}}}
    out = judge(fig)
    assert len(out) == 1 and out[0].startswith("compiles of hv1: 1 full compile(s) on a "
                                                "change path")
    assert out[0].endswith("reasons: port p2 removed or renumbered")


def test_traffic_flows_cover_local_cross_and_routed():
    names = [f.name for f in traffic_flows(topology.load("ebpf"))]
    assert names == ["local vm1->vm2", "cross vm1->vm3", "routed vm1->vm5"]


def test_churn_and_faults_can_be_left_out_without_moving_the_other():
    full = soak.make_plan(5, 120, CHASSIS)
    assert soak.make_plan(5, 120, CHASSIS, rate=0).faults == full.faults
    assert soak.make_plan(5, 120, CHASSIS, rate=0).changes == ()
    assert soak.make_plan(5, 120, CHASSIS, kinds=()).changes == full.changes
    assert soak.make_plan(5, 120, CHASSIS, kinds=()).faults == ()


def _runner(samples, windows=(), freezes=()):
    from topologies.lab.soakrun import Soak
    r = object.__new__(Soak)          # only the figures' logic: no lab
    r.samples, r.windows, r.freezes, r.t0 = list(samples), list(windows), list(freezes), 0.0
    return r


def _sb_sample(t, connected, sockets, member="tcp:10.0.0.1:6642", hv="hv1"):
    return {"t": t, "proc": f"{hv}/ovnbpf-controller", "pid": 1, "rss_kib": 1, "fds": 1,
            "connected": connected, "member": member, "sockets": set(sockets)}


def test_status_lies_are_spans_longer_than_the_grace():
    ok = [_sb_sample(t, True, {"10.0.0.1:6642"}) for t in range(10)]
    # a restarted controller says "connected: false" for 8 s while its socket is up
    stale = [_sb_sample(10 + t, False, {"10.0.0.1:6642"}) for t in range(9)]
    short = [_sb_sample(30 + t, True, set()) for t in range(3)]       # 2 s: within grace
    fault = soak.Fault(1, 9.0, "controller_kill", "hv1", 0.1)
    w = soak.Window(fault.describe(), 9.0, 20.0)
    lies = _runner(ok + stale + short, [(fault, w, None)])._status_lies()
    assert lies == [{"chassis": "hv1", "from_s": 10.0, "to_s": 18.0, "during": w.name,
                     "said": "connected: false to tcp:10.0.0.1:6642, established: 10.0.0.1:6642"}]


def test_status_must_say_disconnected_in_a_frozen_sb():
    fault = soak.Fault(1, 0.0, "sb_freeze", None, 15.0)
    frozen = [_sb_sample(t, t < 9, {"10.0.0.1:6642"}) for t in range(16)]
    assert _runner(frozen, freezes=[(fault, 0.0, 15.0)])._status_lies() == []
    # sockets to a frozen server stay established: "connected: false" there is the truth
    assert _runner([_sb_sample(t, False, {"10.0.0.1:6642"}) for t in range(16)],
                   freezes=[(fault, 0.0, 15.0)])._status_lies() == []
    lying = [_sb_sample(t, True, {"10.0.0.1:6642"}) for t in range(16)]
    (lie,) = _runner(lying, freezes=[(fault, 0.0, 15.0)])._status_lies()
    assert lie["during"] == fault.describe() and "connected: true" in lie["said"]


def test_a_long_soak_has_every_fault_kind():
    kinds = {f.kind for f in soak.make_plan(2, 900, CHASSIS).faults}
    assert kinds == set(soak.FAULT_KINDS)
    starts = [f for f in soak.make_plan(2, 900, CHASSIS).faults
              if f.kind == "controller_start_sb_down"]
    assert all(f.target == "hv1" and f.hold >= 35 for f in starts)
