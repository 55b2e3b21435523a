"""The only place that reads or changes private parts of the ovs Python IDL.

Everything else in controller/db uses the IDL's public API (Idl.run/wait, change_seqno,
cond_change/cond_seqno, condition_state, session_name, force_reconnect, last_id, notify,
Transaction.commit). What follows has no public call in the Python IDL; each use says why
and was checked against python ovs 3.7.1 (`ovs.version.VERSION`).
tests/controller/test_idl_private.py fails loudly when a new ovs release moves one of them.
"""
from __future__ import annotations

import random

import ovs.stream

CHECKED_WITH = "3.7.1"


def session(idl):
    # Idl._session (ovs.jsonrpc.Session): the Python IDL exposes neither its reconnect
    # state machine nor the connection's byte counts (the C IDL has ovsdb_idl_get_...
    # accessors for both; the Python one only session_name())
    return idl._session


def reconnect_fsm(idl):
    """The session's ovs.reconnect.Reconnect: its state, last activity, backoff and probe
    interval (sbhealth.py reports them; the status file shows them)."""
    return session(idl).reconnect


def rpc(idl):
    """The live ovs.jsonrpc.Connection or None (its get_received_bytes() counts what a
    (re)sync cost: no public byte count in the IDL)."""
    return session(idl).rpc


def set_probe_interval(idl, probe_interval_ms):
    # the C IDL has ovsdb_idl_set_probe_interval(); the Python IDL takes the interval only
    # in its constructor. unix: remotes never probe, as in OVS (Session.open_multiple).
    fsm = reconnect_fsm(idl)
    if not ovs.stream.stream_or_pstream_needs_probes(fsm.get_name()):
        fsm.set_probe_interval(0)
    else:
        fsm.set_probe_interval(probe_interval_ms)


def set_remotes(idl, remote):
    # the C IDL has ovsdb_idl_set_remote(); the Python IDL fixes its remotes at
    # construction. Idl._parse_remotes splits "tcp:a,tcp:b" as the constructor does; the
    # session's remotes/next_remote/pick_remote are what Session.open_multiple sets up.
    s = session(idl)
    remotes = idl._parse_remotes(remote)
    random.shuffle(remotes)     # as Session.open_multiple: spread chassis over members
    s.remotes, s.next_remote = remotes, 0
    s.pick_remote()             # the name of the next connection (also while backing off)
    s.reset_backoff()           # each new member gets a try without waiting


def row_table_name(row) -> str:
    # Row._table: Idl.notify() hands over the row only, and a Row has no public attribute
    # naming its table
    return row._table.name
