"""Is the Southbound view complete? The replica holds the Logical_Flow rows the monitor
conditions select; this asks the server directly, with plain `transact` selects on a
short-lived connection of its own (no monitor, no condition), which flows the local
datapaths need: those on a local datapath and those whose Logical_DP_Group holds one.
Tests compare the two after every change; the controller does so now and then
(`ViewCheck`), and counts, logs and repairs a difference that stays.
"""
import dataclasses
import errno
import hashlib
import logging
import threading
import time

import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.timeval

log = logging.getLogger("ovnbpf.viewcheck")

DB = "OVN_Southbound"


class FetchError(RuntimeError):
    pass


def _transact(rpc, ops, deadline_ms):
    req = ovs.jsonrpc.Message.create_request("transact", [DB, *ops])
    err = rpc.send(req)
    while not err:
        err, msg = rpc.recv()
        if err == errno.EAGAIN:
            if ovs.timeval.msec() >= deadline_ms:
                raise FetchError("the Southbound did not answer in time")
            rpc.run()
            poller = ovs.poller.Poller()
            rpc.wait(poller)
            rpc.recv_wait(poller)
            poller.timer_wait_until(deadline_ms)
            poller.block()
            err = 0
        elif not err and msg.id == req.id:
            if msg.type == ovs.jsonrpc.Message.T_ERROR:
                raise FetchError(f"transact refused: {msg.error}")
            failed = [r for r in msg.result if not isinstance(r, dict) or "error" in r]
            if failed:
                raise FetchError(f"select failed: {failed[0]}")
            return [{row["_uuid"][1] for row in r["rows"]} for r in msg.result]
    raise FetchError(f"connection failed: {errno.errorcode.get(err, err)}")


def _select(table, column, op, uuid):
    return {"op": "select", "table": table, "where": [[column, op, ["uuid", uuid]]],
            "columns": ["_uuid"]}


def local_flows(remote, datapaths, timeout=5.0) -> frozenset:
    """UUIDs of every Logical_Flow on one of `datapaths` (uuids) or in a group that holds
    one, as the server at `remote` (one member: the one the replica follows) has them
    now. Selects are ANDed, so one per datapath and per group. The groups are asked
    again in the transaction that asks their flows, until that transaction finds the
    groups it asked for: the answer is one consistent state of the database."""
    dps = sorted(datapaths)
    if not dps:
        return frozenset()
    deadline = ovs.timeval.msec() + int(timeout * 1000)
    err, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote),
                                               int(timeout * 1000))
    if err:
        raise FetchError(f"cannot connect to {remote}: {errno.errorcode.get(err, err)}")
    rpc = ovs.jsonrpc.Connection(stream)
    try:
        groups = []
        for _ in range(5):
            ops = ([_select("Logical_Flow", "logical_datapath", "==", u) for u in dps]
                   + [_select("Logical_DP_Group", "datapaths", "includes", u) for u in dps]
                   + [_select("Logical_Flow", "logical_dp_group", "==", g) for g in groups])
            res = _transact(rpc, ops, deadline)
            n = len(dps)
            found = sorted(set().union(*res[n:2 * n]))
            if found == groups:
                return frozenset().union(*res[:n], *res[2 * n:])
            groups = found
        raise FetchError("the datapath groups kept changing under the check")
    finally:
        rpc.close()


def replica_flows(sb) -> frozenset:
    """UUIDs of the Logical_Flow rows in a Southbound session's replica."""
    return frozenset(str(u) for u in sb.idl.tables["Logical_Flow"].rows)


def digest(uuids) -> str:
    """A short fingerprint of a set of row UUIDs (the status file shows the replica's)."""
    return hashlib.sha256("\n".join(sorted(uuids)).encode()).hexdigest()[:16]


def summary(sb) -> dict:
    """The replica's flows for the status file: how many, their fingerprint and the
    datapaths they are for, so a test (or an operator) can compare them with
    local_flows() of the same datapaths without entering the controller."""
    flows = replica_flows(sb)
    return {"flows": len(flows), "digest": digest(flows),
            "datapaths": sorted(sb.local_datapaths), "settled": sb.conditions_settled()}


@dataclasses.dataclass(frozen=True)
class Diff:
    missing: frozenset       # the server has them for our datapaths, the replica not
    extra: frozenset         # the replica has them, no local datapath needs them

    def __bool__(self):
        return bool(self.missing or self.extra)

    def describe(self, few=3):
        def some(s):
            return ", ".join(sorted(s)[:few]) + (", ..." if len(s) > few else "")
        return (f"{len(self.missing)} missing" + (f" ({some(self.missing)})" if self.missing else "")
                + f", {len(self.extra)} extra" + (f" ({some(self.extra)})" if self.extra else ""))


def compare(expected, replica) -> Diff:
    return Diff(frozenset(expected) - frozenset(replica), frozenset(replica) - frozenset(expected))


def check(sb, timeout=5.0) -> Diff:
    """The replica of `sb` against the server it follows, for its local datapaths."""
    return compare(local_flows(sb.member(), sb.local_datapaths, timeout), replica_flows(sb))


class ViewCheck:
    """The controller's check, run from its loop when idle: every `interval_s` seconds,
    and `confirm_s` after a datapath-group change reshaped the conditions. The fetch runs
    in a thread (a slow server never stalls the loop); its answer is compared only if the
    replica did not move meanwhile. A difference counts once it is seen twice in a row
    (the first may be an update still on its way to us): then it is logged with its
    counts and a few UUIDs, and repaired by a full resync of the view. A difference the
    repair does not cure is checked again at doubling delays (up to `interval_s`), not
    resynced in a loop."""

    def __init__(self, sb, interval_s=60.0, confirm_s=1.0, clock=time.monotonic):
        self.sb = sb
        self.interval = interval_s
        self.confirm = confirm_s
        self.clock = clock
        self.checks = self.mismatches = self.repairs = self.errors = 0
        self.last_mismatch = None
        self._due = clock() + interval_s
        self._reshapes = sb.reshapes
        self._running = None          # (thread, result box, seqno, datapaths) of a fetch
        self._suspect = None          # a first difference, waiting to be seen again
        self._after_repair = confirm_s  # when to look again after a repair: doubles

    def status(self):
        return {"interval_s": self.interval, "checks": self.checks,
                "mismatches": self.mismatches, "repairs": self.repairs,
                "errors": self.errors, "last_mismatch": self.last_mismatch}

    def poll(self):
        """One look, from the loop when it has nothing to step: start, or finish, a check."""
        if self.interval <= 0:
            return
        now = self.clock()
        if self.sb.reshapes != self._reshapes:    # the groups moved: check that soon
            self._reshapes = self.sb.reshapes
            self._due = min(self._due, now + self.confirm)
        if self._running is not None:
            if not self._running[0].is_alive():
                self._finish(now)
            return
        if now < self._due or not self.sb.connected() or not self.sb.conditions_settled():
            return
        box = {}
        dps = frozenset(self.sb.local_datapaths)
        member = self.sb.member()
        seqno = self.sb.idl.change_seqno      # before the fetch starts: it may be quick

        def fetch():
            try:
                box["flows"] = local_flows(member, dps)
            except Exception as e:      # noqa: BLE001 - reported by _finish
                box["error"] = e
        t = threading.Thread(target=fetch, name="sb-view-check", daemon=True)
        t.start()
        self._running = (t, box, seqno, dps)

    def _finish(self, now):
        _, box, seqno, dps = self._running
        self._running = None
        if "error" in box:
            self.errors += 1
            log.debug("Southbound view check failed: %s", box["error"])
            self._due = now + self.interval
            return
        if (seqno != self.sb.idl.change_seqno or dps != self.sb.local_datapaths
                or not self.sb.conditions_settled()):
            self._due = now + self.confirm        # the view moved meanwhile: again soon
            return
        self.checks += 1
        diff = compare(box["flows"], replica_flows(self.sb))
        if not diff:
            self._suspect = None
            self._after_repair = self.confirm
            self._due = now + self.interval
            return
        seen = self._suspect
        if seen is None or not (diff.missing & seen.missing or diff.extra & seen.extra):
            self._suspect = diff
            self._due = now + self.confirm
            return
        self._suspect = None
        self.mismatches += 1
        self.last_mismatch = {"missing": len(diff.missing), "extra": len(diff.extra),
                              "missing_uuids": sorted(diff.missing)[:5],
                              "extra_uuids": sorted(diff.extra)[:5], "time": time.time()}
        log.error("the Southbound view differs from the server's flows for the %d local "
                  "datapath(s): %s; fetching the whole view again", len(dps), diff.describe())
        self.sb.resync()
        self.repairs += 1
        self._due = now + self._after_repair
        self._after_repair = min(self._after_repair * 2, max(self.interval, self.confirm))
