"""The Southbound view follows whatever northd reshapes (issue 13): real ovsdb-server and
ovn-northd, a chassis registered with ovn-sbctl, `Southbound` driven as the controller
drives it. After each NB change the replica's flows must equal what the server has for
the local datapaths (an unconditional one-shot fetch: controller/db/viewcheck.py)."""
import time

import pytest

from controller.db import viewcheck
from controller.db.southbound import Southbound
from controller.local_datapaths import related_datapaths

from tests.controller.test_southbound import raft_central  # noqa: F401 - a fixture

pytestmark = pytest.mark.root


def _base(central):
    """ls1 (our VIF p1) - lr1 - ls2, and ls3 that no port of ours reaches."""
    central.nbctl(
        "ls-add", "ls1", "--", "ls-add", "ls2", "--", "ls-add", "ls3",
        "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:01:01 10.0.1.11",
        "--", "lsp-add", "ls2", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:02:01 10.0.2.11",
        "--", "lsp-add", "ls3", "p3", "--", "lsp-set-addresses", "p3", "0a:00:00:00:03:01 10.0.3.11",
        "--", "lr-add", "lr1",
        "--", "lrp-add", "lr1", "lrp-ls1", "02:00:00:00:01:01", "10.0.1.1/24",
        "--", "lrp-add", "lr1", "lrp-ls2", "02:00:00:00:02:01", "10.0.2.1/24",
        "--", "lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router",
        "--", "lsp-set-addresses", "ls1-lr1", "router",
        "--", "lsp-set-options", "ls1-lr1", "router-port=lrp-ls1",
        "--", "lsp-add", "ls2", "ls2-lr1", "--", "lsp-set-type", "ls2-lr1", "router",
        "--", "lsp-set-addresses", "ls2-lr1", "router",
        "--", "lsp-set-options", "ls2-lr1", "router-port=lrp-ls2")
    central.nbctl("--wait=sb", "sync")
    central.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    central.sbctl("lsp-bind", "p1", "hv1")


class Chassis:
    """A Southbound session stepped as the controller steps it: local datapaths from
    its VIFs and the patch ports in view, conditions set each iteration."""

    def __init__(self, central, vifs=("p1",), remote=None):
        self.central = central
        self.vifs = set(vifs)
        self.sb = Southbound(remote or central.sb_remote, "hv1")
        self.sb.run_until(self.sb.connected, what="connection")

    def step(self):
        self.sb.run()
        snap = self.sb.snapshot()
        self.sb.set_local(related_datapaths(snap.ports, self.vifs), self.vifs)
        return snap

    def follow(self, timeout=20.0):
        """Step until the view is settled and equals the server's flows for our
        datapaths; returns (flows in view, the last difference found)."""
        self.central.nbctl("--wait=sb", "sync")
        deadline = time.monotonic() + timeout
        while True:
            snap = self.step()
            if self.sb.conditions_settled() and self.sb.local_datapaths:
                diff = viewcheck.check(self.sb)
                if not diff:
                    return len(snap.flows), diff
            if time.monotonic() > deadline:
                return len(snap.flows), diff
            self.sb.wait(50)

    def close(self):
        self.sb.close()


@pytest.fixture
def chassis(ovn_central):
    _base(ovn_central)
    c = Chassis(ovn_central)
    try:
        yield c
    finally:
        c.close()


def _dp_names(c):
    names = {d.uuid: d.name for d in c.sb.snapshot().datapaths}
    return sorted(names.get(u, u) for u in c.sb.local_datapaths)


# every NB change that makes northd reshape its datapath groups, then its undoing
RESHAPES = [
    ("ls-add", ["ls-add", "lsx"]),
    ("lr-add", ["lr-add", "lrx"]),
    ("switch with an LB and an ACL elsewhere",
     ["ls-add", "lsy", "--", "lb-add", "lby", "10.9.9.9:80", "10.0.3.11:80", "tcp",
      "--", "ls-lb-add", "lsy", "lby", "--", "acl-add", "lsy", "to-lport", "1001", "tcp", "drop"]),
    ("LB on a remote switch", ["ls-lb-add", "ls3", "lby"]),
    ("LB on our switch", ["ls-lb-add", "ls1", "lby"]),
    ("ACL on our switch", ["acl-add", "ls1", "from-lport", "1002", "udp", "drop"]),
    ("our switch leaves the LB", ["ls-lb-del", "ls1", "lby"]),
    ("ls-del", ["ls-del", "lsx"]),
    ("lr-del", ["lr-del", "lrx"]),
    ("switch with LB and ACL deleted", ["ls-del", "lsy", "--", "lb-del", "lby"]),
    ("our ACL deleted", ["acl-del", "ls1", "from-lport", "1002", "udp"]),
    ("ten switches", [a for i in range(10) for a in ("--", "ls-add", f"lsz{i}")][1:]),
    ("ten switches deleted", [a for i in range(10) for a in ("--", "ls-del", f"lsz{i}")][1:]),
]


def test_the_view_equals_the_server_after_every_reshape(chassis, ovn_central, capsys):
    n, diff = chassis.follow()
    assert not diff, f"initial view: {diff.describe()}"
    assert _dp_names(chassis) == ["lr1", "ls1", "ls2"]
    lines = [f"initial: {n} flows in view"]
    for what, cmd in RESHAPES:
        ovn_central.nbctl(*cmd)
        n, diff = chassis.follow()
        lines.append(f"{what}: {n} flows in view, reshapes {chassis.sb.reshapes}")
        assert not diff, f"after {what}: {diff.describe()}"
    with capsys.disabled():
        print("\n[figure] " + "\n[figure] ".join(lines))


def test_a_new_local_datapath_brings_its_groups_and_their_flows(chassis, ovn_central):
    """A VIF on ls3 adds a datapath: its groups come with the answer, their flows with
    the next one; the view is unsettled until both are here."""
    n1, diff = chassis.follow()
    assert not diff
    ovn_central.sbctl("lsp-bind", "p3", "hv1")
    chassis.vifs.add("p3")
    chassis.step()
    assert not chassis.sb.conditions_settled()
    n2, diff = chassis.follow()
    assert not diff, diff.describe()
    assert _dp_names(chassis) == ["lr1", "ls1", "ls2", "ls3"] and n2 > n1
    chassis.vifs.discard("p3")
    n3, diff = chassis.follow()
    assert not diff, diff.describe()
    assert n3 == n1


def test_unchanged_groups_send_no_condition_change(chassis, ovn_central):
    """A change that reshapes nothing of ours (a port on a switch we do not serve) sends
    no monitor_cond_change: the conditions are stable, not rebuilt on every change."""
    chassis.follow()
    seqno, reshapes = chassis.sb.idl.cond_seqno, chassis.sb.reshapes
    ovn_central.nbctl("lsp-add", "ls3", "p3b", "--", "lsp-set-addresses", "p3b",
                      "0a:00:00:00:03:02 10.0.3.12")
    n, diff = chassis.follow()
    assert not diff
    assert (chassis.sb.idl.cond_seqno, chassis.sb.reshapes) == (seqno, reshapes)
    assert not chassis.sb.idl.cond_changed


def test_the_run_time_check_finds_a_hole_and_repairs_it(chassis, ovn_central):
    """A view that lost flows (here: the flows' condition cut back to the datapaths
    alone, as the bug left it) is found by ViewCheck, counted once, repaired by a full
    resync; a correct view is never counted."""
    chassis.follow()
    check = viewcheck.ViewCheck(chassis.sb, interval_s=0.2, confirm_s=0.2)

    def poll_until(pred, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not pred():
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {check.status()}"
            chassis.step()
            check.poll()
            chassis.sb.wait(50)
    poll_until(lambda: check.checks >= 2, "two clean checks")
    assert check.mismatches == 0
    sabotage = [["logical_datapath", "==", ["uuid", u]] for u in sorted(chassis.sb.local_datapaths)]
    chassis.sb.idl.cond_change("Logical_Flow", sabotage)
    resyncs = chassis.sb.full_resyncs
    poll_until(lambda: check.repairs == 1, "the repair")
    assert check.mismatches == 1 and check.last_mismatch["missing"] > 0
    poll_until(lambda: chassis.sb.conditions_settled() and chassis.sb.full_resyncs > resyncs
               and not viewcheck.check(chassis.sb), "the repaired view")
    checks = check.checks
    poll_until(lambda: check.checks >= checks + 2, "clean checks after the repair")
    assert check.mismatches == 1


def test_a_raft_member_answers_the_check_and_the_view_follows(raft_central):  # noqa: F811
    """A clustered SB: the check asks the member the replica follows (any member serves
    the selects); reshapes there are followed as on a single server."""
    _base(raft_central)
    member = f"unix:{raft_central.rundir}/sb2.sock"
    c = Chassis(raft_central, remote=member)
    try:
        n, diff = c.follow()
        assert not diff and c.sb.member() == member
        for _, cmd in RESHAPES[:3]:
            raft_central.nbctl(*cmd)
            n2, diff = c.follow()
            assert not diff, diff.describe()
            assert n2 == n
    finally:
        c.close()
