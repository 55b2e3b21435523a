"""Our Southbound writes as non-blocking transactions, as ovn-controller makes them
(ovsdb_idl_loop): at most one transaction in flight; a write that arrives meanwhile waits
and goes, merged with the others, into the next one; nobody waits for the server.

A write is an intent: a `kind` (one per row set we own: "chassis", "claims", "nb_cfg",
...), what to call it in the log, and `build(txn)` that sets the rows from the replica
as it is when the transaction starts. A later intent of the same kind replaces an earlier
one that has not gone yet. Each run() (after Idl.run()) looks at the transaction in
flight: success ends its intents; "try again" (the server away, electing a leader, or our
replica stale) keeps them, rebuilt from fresh state once the replica changed (or after
RETRY_S); an error is logged once with its reason, counted, and its intents dropped.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import ovs.db.idl

log = logging.getLogger("ovnbpf.controller")

T = ovs.db.idl.Transaction
DONE = (T.SUCCESS, T.UNCHANGED)
RETRY_S = 1.0
FIRST = ("chassis",)        # built first: a claim in the same transaction needs our Chassis


@dataclass(eq=False)
class Intent:
    kind: str
    what: str
    build: Callable            # build(txn) -> token, handed to done() on success
    done: Callable | None = None
    token: object = field(default=None)


class Writes:
    def __init__(self, idl, clock=time.monotonic):
        self.idl = idl
        self.clock = clock
        self.pending: dict[str, Intent] = {}
        self.txn = None                    # the one transaction in flight
        self.included: list[Intent] = []   # the intents it carries
        self.seqno_at_commit = None
        self.retry = None                  # (change_seqno, time) after a "try again"
        self.failed: dict[str, str] = {}   # what -> why its last transaction failed
        self.logged = set()                # (what, reason) of errors said already
        self.counters = {"transactions": 0, "committed": 0, "try_again": 0, "errors": 0,
                         "merged": 0}
        # hooks of the daemon (deferral INFO and counter, forgetting what it wrote)
        self.on_deferred = None            # (what, reason)
        self.on_written = None             # (what)
        self.on_failed = None              # (what, reason)

    def want(self, kind, what, build, done=None):
        if kind in self.pending:
            self.counters["merged"] += 1
            del self.pending[kind]           # the newest goes last, as it was asked last
        self.pending[kind] = Intent(kind, what, build, done)

    def busy(self, kind=None) -> bool:
        """A write (of `kind`) not yet taken by the server."""
        if kind is None:
            return bool(self.pending or self.txn)
        return kind in self.pending or any(i.kind == kind for i in self.included)

    def run(self):
        if self.txn is not None:
            status = self.txn.commit()       # only reads the status of a sent one
            if status == T.INCOMPLETE:
                return
            self._finish(status)
        if not self.pending or self.idl.txn is not None:
            return
        if self.idl.state != self.idl.IDL_S_MONITORING:
            return                           # commit() would say "try again" at once
        if self.retry is not None:
            seqno, at = self.retry
            if self.idl.change_seqno == seqno and self.clock() < at:
                return                       # nothing new to build from yet
        self._start()

    def _start(self):
        txn = T(self.idl)
        order = sorted(self.pending.values(), key=lambda i: i.kind not in FIRST)
        for intent in order:
            try:
                intent.token = intent.build(txn)
            except Exception as e:  # noqa: BLE001 - a bad write costs only itself
                txn.abort()          # an open transaction would make the next Idl.run() assert
                del self.pending[intent.kind]
                self._failed(intent, f"building the transaction failed: {e!r}")
                return               # the others go on the next run()
        txn.add_comment("ovnbpf: " + ", ".join(i.what for i in order))
        self.seqno_at_commit = self.idl.change_seqno
        self.retry = None
        self.counters["transactions"] += 1
        self.txn, self.included = txn, order
        status = txn.commit()
        if status != T.INCOMPLETE:
            self._finish(status)

    def _finish(self, status):
        txn, included = self.txn, self.included
        self.txn, self.included = None, []
        if status in DONE:
            self.counters["committed"] += 1
            for intent in included:
                if self.pending.get(intent.kind) is intent:
                    del self.pending[intent.kind]
                self.failed.pop(intent.what, None)
                if intent.done is not None:
                    intent.done(intent.token)
                if self.on_written is not None:
                    self.on_written(intent.what)
            return
        reason = txn.get_error()
        if status == T.TRY_AGAIN:
            # kept (unless replaced meanwhile): built again from the replica once it moved
            self.counters["try_again"] += 1
            self.retry = (self.seqno_at_commit, self.clock() + RETRY_S)
            for intent in included:
                self.failed[intent.what] = reason
                if self.on_deferred is not None:
                    self.on_deferred(intent.what, f"transaction {reason}")
            return
        for intent in included:
            if self.pending.get(intent.kind) is intent:
                del self.pending[intent.kind]
            self._failed(intent, f"transaction {status}: {reason}")

    def _failed(self, intent, reason):
        self.counters["errors"] += 1
        self.failed[intent.what] = reason
        if (intent.what, reason) not in self.logged:
            self.logged.add((intent.what, reason))
            log.error("Southbound write of %s failed: %s (not retried until it is "
                      "asked again)", intent.what, reason)
        if self.on_failed is not None:
            self.on_failed(intent.what, reason)

    def status(self) -> dict:
        # also read by the status heartbeat thread: copies, taken at once
        pending, included = list(self.pending.values()), list(self.included)
        return {**self.counters, "pending": sorted(i.what for i in pending),
                "in_flight": [i.what for i in included]}
