"""ViewCheck's decisions, without a server: when it counts a difference, when it does not,
how it backs off; and how `ovnbpf ctl` shows it. (The fetch itself and the repair run
against real ovsdb-server + northd in test_sb_view.py.)"""
from controller.ctl import _view_check
from controller.db import viewcheck


class FakeSb:
    """What ViewCheck reads of a Southbound session."""

    def __init__(self, flows):
        self.flows = set(flows)
        self.local_datapaths = frozenset({"dp1"})
        self.reshapes = 0
        self.resyncs = 0
        self.idl = self

    @property
    def change_seqno(self):
        return len(self.flows)

    @property
    def tables(self):
        return {"Logical_Flow": type("T", (), {"rows": {f: None for f in self.flows}})}

    def member(self):
        return "unix:/nowhere"

    def connected(self):
        return True

    def conditions_settled(self):
        return True

    def resync(self):
        self.resyncs += 1


class Clock:
    t = 0.0

    def __call__(self):
        return self.t


def run_check(check, clock, server, monkeypatch, advance):
    """Advance the clock, then poll until one fetch has started and finished."""
    monkeypatch.setattr(viewcheck, "local_flows", lambda remote, dps: frozenset(server))
    clock.t += advance
    check.poll()
    while check._running is not None:
        check._running[0].join()
        check.poll()


def test_a_difference_counts_when_seen_twice_and_is_repaired(monkeypatch):
    sb, clock = FakeSb({"a", "b"}), Clock()
    check = viewcheck.ViewCheck(sb, interval_s=60, confirm_s=1, clock=clock)
    run_check(check, clock, {"a", "b"}, monkeypatch, 60)
    assert (check.checks, check.mismatches) == (1, 0)
    run_check(check, clock, {"a", "b", "c"}, monkeypatch, 60)    # once: maybe in flight
    assert (check.checks, check.mismatches, sb.resyncs) == (2, 0, 0)
    run_check(check, clock, {"a", "b"}, monkeypatch, 1)          # gone: it was in flight
    assert (check.checks, check.mismatches) == (3, 0)
    run_check(check, clock, {"a", "b", "c"}, monkeypatch, 60)
    run_check(check, clock, {"a", "b", "c"}, monkeypatch, 1)     # seen again: counted
    assert (check.mismatches, check.repairs, sb.resyncs) == (1, 1, 1)
    assert check.last_mismatch["missing"] == 1 and check.last_mismatch["missing_uuids"] == ["c"]
    # a difference the repair does not cure: looked at again at doubling delays
    delays = []
    for _ in range(4):
        due = check._due - clock.t
        delays.append(due)
        run_check(check, clock, {"a", "b", "c"}, monkeypatch, due)
        run_check(check, clock, {"a", "b", "c"}, monkeypatch, check._due - clock.t)
    assert delays == [1, 2, 4, 8]
    assert check.repairs == 5 and sb.resyncs == 5
    assert check._due - clock.t == 16


def test_a_view_that_moved_during_the_fetch_is_not_compared(monkeypatch):
    sb, clock = FakeSb({"a"}), Clock()
    check = viewcheck.ViewCheck(sb, interval_s=60, confirm_s=1, clock=clock)

    def fetch(remote, dps):
        sb.flows.add("b")          # an update arrived while the server answered
        return frozenset({"a", "b", "c"})
    monkeypatch.setattr(viewcheck, "local_flows", fetch)
    clock.t = 60
    check.poll()
    check._running[0].join()
    check.poll()
    assert check.checks == 0 and check._due == 61


def test_a_reshape_brings_the_check_forward(monkeypatch):
    sb, clock = FakeSb({"a"}), Clock()
    check = viewcheck.ViewCheck(sb, interval_s=60, confirm_s=1, clock=clock)
    clock.t = 5
    sb.reshapes = 1
    check.poll()
    assert check._due == 6


def test_ctl_shows_the_view_check():
    v = {"interval_s": 60, "checks": 3, "mismatches": 1, "repairs": 1, "errors": 0,
         "last_mismatch": {"missing": 66, "extra": 0, "missing_uuids": ["u1", "u2"],
                           "extra_uuids": []}}
    assert _view_check(v) == ("; view checked 3 time(s), 1 mismatch(es) (last: 66 missing, "
                              "0 extra, e.g. u1, u2; 1 repaired by resync)")
    assert _view_check({**v, "interval_s": 0}) == "; view check off"
    assert _view_check(None) == ""


def test_diff_describes_counts_and_a_few_uuids():
    d = viewcheck.compare({"a", "b", "c", "d"}, {"a", "x"})
    assert bool(d) and d.describe(few=2) == "3 missing (b, c, ...), 1 extra (x)"
    assert not viewcheck.compare({"a"}, {"a"})
