"""Our SB writes as non-blocking transactions (controller/db/sbwrites.py), against a real
ovsdb-server + ovn-northd: one transaction in flight, writes meanwhile merged into the next,
"try again" kept and rebuilt from fresh state, an error logged once and counted."""
import logging

import pytest

from controller.db.southbound import Southbound, SouthboundError

from tests.controller.test_southbound import _topology

pytestmark = pytest.mark.root


def _sb(central):
    sb = Southbound(central.sb_remote, "hv1")
    sb.run_until(sb.connected, what="connection")
    sb.register_chassis("geneve", "192.0.2.11")        # waits: wait_writes is on
    sb.set_local(ifaces={"p1a", "p1b"})
    sb.run_until(lambda: sb.conditions_settled() and sb.snapshot().port_named("p1b"),
                 what="the ports")
    sb.wait_writes = False                              # as the daemon's loop
    return sb


def _bound(central, port):
    return central.sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                         f"logical_port={port}").strip() != ""


def test_writes_while_one_is_in_flight_go_merged_in_the_next(ovn_central):
    _topology(ovn_central)
    sb = _sb(ovn_central)
    try:
        w = sb.writes
        before = w.counters["transactions"]
        sb.set_claims({"p1a"})              # sent at once; nobody reads the answer yet
        assert w.status()["in_flight"] == ["port claims"]
        sb.ack_nb_cfg(0)
        sb.set_claims({"p1a", "p1b"})       # replaces the waiting one, not the one sent
        assert w.status()["in_flight"] == ["port claims"]
        assert w.status()["pending"] == ["nb_cfg ack", "port claims"]
        assert w.counters["transactions"] == before + 1, "one transaction in flight at most"
        sb.flush()
        assert w.counters["transactions"] == before + 2 and w.counters["merged"] == 1
        assert _bound(ovn_central, "p1a") and _bound(ovn_central, "p1b")
        assert not w.busy() and w.counters["errors"] == 0
    finally:
        sb.close()


def test_try_again_keeps_the_write_and_builds_it_again(ovn_central):
    """The session drops with our claim in flight: the IDL answers "try again"; the write
    is kept, reported (the daemon's deferral hook), and goes again on the new session."""
    _topology(ovn_central)
    sb = _sb(ovn_central)
    deferred, written = [], []
    sb.writes.on_deferred = lambda what, why: deferred.append((what, why))
    sb.writes.on_written = written.append
    try:
        sb.set_claims({"p1a"})
        sb.idl.force_reconnect()
        sb.flush()
        assert deferred and deferred[0][0] == "port claims" and "try again" in deferred[0][1]
        assert sb.writes.counters["try_again"] >= 1 and written == ["port claims"]
        assert _bound(ovn_central, "p1a")
    finally:
        sb.close()


def test_an_error_is_logged_once_counted_and_dropped(ovn_central, caplog):
    """A write the server refuses (a bare second Chassis row: an integrity violation)
    costs itself only: one ERROR line with the server's reason, counted, not retried; the
    next write goes through."""
    _topology(ovn_central)
    sb = _sb(ovn_central)
    failed = []
    sb.writes.on_failed = lambda what, why: failed.append(what)

    def twin(txn):
        row = txn.insert(sb.idl.tables["Chassis"])
        row.name = "hv1"
    try:
        with caplog.at_level(logging.ERROR, logger="ovnbpf.controller"):
            sb.write("twin", "a twin Chassis row", twin)
            sb.flush()
        assert failed == ["a twin Chassis row"]
        assert sb.writes.counters["errors"] == 1
        lines = [r.getMessage() for r in caplog.records if "twin" in r.getMessage()]
        assert len(lines) == 1 and "violation" in lines[0] and "Chassis" in lines[0], lines
        sb.set_claims({"p1a"})
        sb.flush()
        assert _bound(ovn_central, "p1a") and sb.writes.counters["errors"] == 1
        sb.wait_writes = True               # tools and tests: the failure is raised
        with pytest.raises(SouthboundError, match="violation"):
            sb.write("twin", "a twin Chassis row", twin)
    finally:
        sb.close()
