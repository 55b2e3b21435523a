"""What the Southbound session is doing, as its reconnect state machine sees it.

The Python IDL keeps the truth (attempts, why a connection ended, when a message last
arrived) inside ovs.reconnect.Reconnect and only logs it. SessionHealth hooks the
machine's `disconnected` (every failed attempt and every lost session go through it, on
whatever thread runs the IDL), so a loss is
logged the moment it is detected, each new failure reason once with the attempt count,
and `status()` can say at any time: the state, seconds since the last message, attempts
since the last good session and the last failure's reason.
"""
from __future__ import annotations

import logging
import os
import time

import ovs.reconnect
import ovs.timeval

from . import idl_private

log = logging.getLogger("ovnbpf.controller")

_CONNECTED = ("ACTIVE", "IDLE")


def _reason(state, error, probe_ms):
    """One line for a Reconnect.disconnected(error) seen in `state` (a state name)."""
    if error > 0:
        return os.strerror(error)
    if error == ovs.reconnect.EOF:
        return "connection closed by the server"
    if state == "IDLE":
        return f"no reply to the inactivity probe within {probe_ms / 1000:g} s"
    if state == "CONNECTING":
        return "connection attempt timed out"
    if state == "RECONNECT":
        return "reconnect requested"
    return "connection dropped"


class SessionHealth:
    def __init__(self, sb):
        self.sb = sb
        self.attempts = 0            # failed attempts since the last session that worked
        self.failures = 0            # every lost session or failed attempt, ever
        self.reason = None           # why the last connection ended or failed
        self.reason_at = None        # wall time of that
        self.logged = None           # the reason last logged (each new one is logged once)
        self.loss_logged = False     # the daemon logs the return; we log the loss
        self._hook()

    def _hook(self):
        """Wrap the session's Reconnect.disconnected (instance attribute: set_remote keeps
        the same session and machine, so this holds for the session's life)."""
        fsm = idl_private.reconnect_fsm(self.sb.idl)
        original = fsm.disconnected

        def disconnected(now, error):
            state = fsm.state.name if fsm.state else "VOID"
            if state not in ("BACKOFF", "VOID"):
                self._failed(state, error, fsm)
            return original(now, error)
        fsm.disconnected = disconnected

    def _failed(self, state, error, fsm):
        was_monitoring = self.sb.connected()
        self.failures += 1
        self.reason = _reason(state, error, fsm.get_probe_interval() or 0)
        self.reason_at = time.time()
        if state in _CONNECTED and was_monitoring:
            self.attempts = 0
            self.loss_logged = True
            self.logged = self.reason
            log.warning("lost the Southbound connection (%s): %s; the datapath keeps "
                        "forwarding with the state it has", fsm.get_name(), self.reason)
            return
        self.attempts += 1
        if state in _CONNECTED:        # a TCP session came up but never delivered the DB
            self.reason = f"connected, but the server did not answer ({self.reason})"
        if self.reason != self.logged:
            self.logged = self.reason
            log.warning("cannot reach the Southbound at %s: %s (attempt %d; retrying with "
                        "backoff up to %g s)", fsm.get_name(), self.reason, self.attempts,
                        fsm.get_max_backoff() / 1000)

    def connected_again(self):
        """The session delivers the DB again: the next failure is news."""
        self.attempts = 0
        self.logged = None
        self.loss_logged = False

    def status(self) -> dict:
        fsm = idl_private.reconnect_fsm(self.sb.idl)
        now = ovs.timeval.msec()
        state = fsm.state.name if fsm.state else "VOID"
        monitoring = self.sb.connected()
        if monitoring and state == "IDLE":
            # our inactivity probe is out and unanswered: say so before the machine gives up
            state = "PROBE_UNANSWERED"
        elif state in _CONNECTED and not monitoring:
            state = "SYNCING"
        since_rx = (now - fsm.last_activity) / 1000 if fsm.last_activity else None
        return {"state": state.lower(),
                "last_message_s_ago": round(since_rx, 1) if since_rx is not None else None,
                "last_message_at": round(time.time() - since_rx, 3) if since_rx is not None else None,
                "attempts": self.attempts,
                "failures": self.failures,
                "last_failure": self.reason,
                "last_failure_at": self.reason_at,
                "probe_interval_ms": fsm.get_probe_interval(),
                "backoff_ms": fsm.backoff}
