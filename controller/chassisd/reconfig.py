"""Following the local Open_vSwitch DB at run time, as ovn-controller does.

The controller reads its config (controller/db/local_ovs.py) at start; this module follows
later changes to it without touching the loaded datapath:

  ovn-remote, SSL table      -> point the Southbound session at the new remote(s) and
                                reconnect (the replica stays; the resync is counted as any
                                reconnect's). While the current session works, the new
                                remote must answer first (the TLS handshake with the new
                                files, then an echo): a refused one is logged and the
                                session stays where it is.
  ovn-remote-probe-interval  -> the live session's inactivity probe
  ovn-encap-ip/-type, hostname -> our Chassis' Encap row (and hostname) in the SB, the
                                datapath's source IP (the step's set_config) and, when
                                the IP lives on another device, the underlay uplink
  system-id                  -> a new Chassis (+ Encap, Chassis_Private) under the new
                                name, our ports moved to it, the old rows deleted

A value that cannot be applied (a key missing, an encap other than geneve, an encap IP no
device here holds, a remote that does not answer) is logged once and shown in the status
file; the last good config stays in effect and forwarding goes on. `plan()` is the pure
part (old config, new config -> changes), unit-tested without a DB.
"""
from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass, replace

from ..db.local_ovs import ConfigError
from ..db.southbound import ssl_diagnose
from .netdev import device_holding

log = logging.getLogger("ovnbpf.controller")

RETRY_S = 5.0            # a refused or deferred change is tried again this often
CHECK_WAIT_S = 0.2       # the loop waits this long for a new remote's answer, at most once


# ---- what changed -> what to do (pure) ---------------------------------------------------

SESSION, PROBE, RENAME, CHASSIS = "session", "probe", "rename", "chassis"


@dataclass(frozen=True)
class Change:
    kind: str            # SESSION | PROBE | RENAME | CHASSIS, applied in that order
    what: str            # for the log: "ovn-remote tcp:a -> unix:b"


def members(remote):
    """ovn-remote -> its members as a set (order does not matter: a reorder is no change)."""
    return frozenset(m.strip() for m in remote.split(",") if m.strip())


def plan(old, new):
    """The changes that take the active config `old` to `new` (both ChassisConfig):
    SESSION (remote or SSL files; it also sets the probe interval), PROBE (only the
    interval), RENAME (system-id; it also writes encap and hostname), CHASSIS (encap or
    hostname). VIFs are not config: every step reads them."""
    out = []
    if members(old.remote) != members(new.remote) or old.ssl != new.ssl:
        parts = []
        if members(old.remote) != members(new.remote):
            parts.append(f"ovn-remote {old.remote} -> {new.remote}")
        if old.ssl != new.ssl:
            parts.append(f"SSL table {', '.join(old.ssl) or 'empty'} -> "
                         f"{', '.join(new.ssl) or 'empty'}")
        out.append(Change(SESSION, "; ".join(parts)))
    elif old.probe_interval_ms != new.probe_interval_ms:
        out.append(Change(PROBE, f"ovn-remote-probe-interval {old.probe_interval_ms} -> "
                                 f"{new.probe_interval_ms}"))
    chassis = [f"{k} {a} -> {b}" for k, a, b in (
        ("ovn-encap-type", old.encap_type, new.encap_type),
        ("ovn-encap-ip", old.encap_ip, new.encap_ip),
        ("hostname", old.hostname, new.hostname)) if a != b]
    if old.system_id != new.system_id:
        out.append(Change(RENAME, "; ".join([f"system-id {old.system_id} -> {new.system_id}"]
                                            + chassis)))
    elif chassis:
        out.append(Change(CHASSIS, "; ".join(chassis)))
    return out


def applied(active, new, kind):
    """`active` with the fields a change of `kind` sets taken from `new`."""
    if kind == SESSION:
        return replace(active, remote=new.remote, ssl=new.ssl,
                       probe_interval_ms=new.probe_interval_ms)
    if kind == PROBE:
        return replace(active, probe_interval_ms=new.probe_interval_ms)
    chassis = replace(active, encap_type=new.encap_type, encap_ip=new.encap_ip,
                      hostname=new.hostname)
    return replace(chassis, system_id=new.system_id) if kind == RENAME else chassis


# ---- does a remote answer? ---------------------------------------------------------------

def _echo(member, timeout):
    """None if the unix:/tcp: OVSDB server at `member` answers an echo, else why not."""
    kind, _, where = member.partition(":")
    try:
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(where)
        elif kind == "tcp":
            host, _, port = where.rpartition(":")
            s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        else:
            return f"{member}: not a remote we can check (unix:, tcp:, ssl:)"
        with s:
            s.sendall(json.dumps({"method": "echo", "params": [], "id": 0}).encode())
            if not s.recv(4096):
                return f"{member}: the server closed the connection"
        return None
    except (OSError, ValueError) as e:
        return f"{member}: {getattr(e, 'strerror', None) or e}"


def check_remote(remote, ssl=(), timeout=2.0):
    """None if at least one member of `remote` answers (ssl: members with the SSL table's
    key, certificate and CA, both ways), else every member's reason in one line."""
    problems = []
    for member in sorted(members(remote)):
        if member.startswith("ssl:"):
            problem = ssl_diagnose(member, *ssl, timeout=timeout) if ssl else \
                f"{member}: the SSL table is empty"
        else:
            problem = _echo(member, timeout)
        if problem is None:
            return None
        problems.append(problem)
    return "; ".join(problems) or "no remote"


# ---- applying them -----------------------------------------------------------------------

class Refused(Exception):
    """The new value cannot be applied: the last good one stays."""


class Deferred(Exception):
    """Not yet: the change needs the Southbound, which is away (applied on return), or
    the new remote is still being checked. `soon`: look again on the next iteration."""

    def __init__(self, why, soon=False):
        super().__init__(why)
        self.soon = soon


class _Check:
    """check_remote() in a thread: a remote that drops packets takes seconds to time out,
    and the loop keeps stepping and serving punts meanwhile."""

    def __init__(self, remote, ssl):
        import threading
        self.target = (remote, ssl)
        self.result = None
        self.thread = threading.Thread(target=self._run, name="remote-check", daemon=True)
        self.thread.start()

    def _run(self):
        self.result = check_remote(*self.target)

    def done(self):
        return not self.thread.is_alive()


class Reconfig:
    """Follows the local OVS DB for the Controller `ctl` (daemon.py): `run()` every loop
    iteration (cheap when nothing changed), `current()` for the step's config."""

    def __init__(self, ctl, uplink):
        self.ctl = ctl
        self.active = ctl.cfg            # the config in effect (the last good one)
        self.uplink = uplink             # the underlay device the datapath decapsulates on
        self.pinned_uplink = bool(ctl.uplink)   # --uplink given: the encap IP does not move it
        self.seqno = None                # the first run() diffs: start() read the config
                                         # seconds ago (before the entry programs' build)
        self.problem = None              # why the newest local config is not (all) in effect
        self.waiting = []                # kinds of change not applied yet
        self.retry_at = 0.0
        self.changes = 0                 # changes applied since start
        self.last = []                   # the latest few: {"change", "result"}
        self.check = None                # _Check of a new remote, while it runs
        self._current, self._current_key = None, None

    def current(self):
        """The config a step uses: the active one with the VIFs of now. Read again only
        when the local DB or the active config changed (a step reads it every time)."""
        key = (self.ctl.ovs.idl.change_seqno, id(self.active))
        if key != self._current_key:
            self._current = replace(self.active, vifs=self.ctl.ovs.vifs())
            self._current_key = key
        return self._current

    def status(self):
        a = self.active
        return {"system_id": a.system_id, "remote": a.remote, "ssl": list(a.ssl),
                "probe_interval_ms": a.probe_interval_ms, "encap_type": a.encap_type,
                "encap_ip": a.encap_ip, "hostname": a.hostname, "uplink": self.uplink,
                "problem": self.problem, "waiting": list(self.waiting),
                "changes": self.changes, "last": list(self.last)}

    def run(self):
        """Apply what changed in the local config since last time. True if anything was
        applied (the caller steps again)."""
        seqno = self.ctl.ovs.idl.change_seqno
        if seqno == self.seqno and not (self.waiting and time.monotonic() >= self.retry_at):
            return False
        self.seqno = seqno
        try:
            new = self.ctl.ovs.config()
        except ConfigError as e:
            self._problem(f"the local config is invalid: {e}")
            self.waiting = []
            return False
        did = False
        problems = []
        self.waiting = []
        retry = RETRY_S
        for change in plan(self.active, new):
            try:
                self._apply(change, new)
            except Deferred as e:
                self.waiting.append(change.kind)
                if e.soon:
                    retry = 0.0
                else:
                    problems.append(str(e))
                continue
            except Refused as e:
                self.waiting.append(change.kind)
                problems.append(f"{change.what}: refused: {e}")
                self._record(change, f"refused: {e}")
                continue
            except Exception as e:   # noqa: BLE001 - e.g. an SB transaction that failed
                log.exception("local config: %s failed", change.what)
                self.waiting.append(change.kind)
                problems.append(f"{change.what}: failed: {e}")
                self._record(change, f"failed: {e}")
                continue
            self.active = applied(self.active, new, change.kind)
            self.ctl.cfg = self.active
            self.changes += 1
            self._record(change, "applied")
            did = True
        self.retry_at = time.monotonic() + retry
        if problems or retry:
            # (while a new remote is being checked, what was said before still stands)
            self._problem("; ".join(problems) or None)
        if did:
            self.ctl._save_status()
        return did

    def _record(self, change, result):
        entry = {"change": change.what, "result": result}
        if not self.last or self.last[-1] != entry:      # a retry refused again: once
            self.last = (self.last + [entry])[-5:]

    def _problem(self, problem):
        if problem and problem != self.problem:
            log.error("local config: %s; the last good config stays in effect (%s)",
                      problem, self._describe())
        elif self.problem and not problem:
            log.info("local config: all changes applied")
        changed = problem != self.problem
        self.problem = problem
        if changed:
            self.ctl._save_status()

    def _describe(self):
        a = self.active
        return (f"system-id {a.system_id}, ovn-remote {a.remote}, encap {a.encap_type} "
                f"{a.encap_ip}")

    def _apply(self, change, new):
        sb = self.ctl.sb
        if change.kind == SESSION:
            if sb.connected():
                # a session that works is not given up for one that does not
                if self.check is None or self.check.target != (new.remote, new.ssl):
                    self.check = _Check(new.remote, new.ssl)
                    # a server that answers does so in milliseconds: switch in this
                    # iteration; a slow one is looked at again on the next ones
                    self.check.thread.join(CHECK_WAIT_S)
                if not self.check.done():
                    raise Deferred("checking that the new remote answers", soon=True)
                problem, self.check = self.check.result, None
                if problem:
                    raise Refused(f"{problem}; staying connected to {sb.member()}")
            if new.ssl:
                import ovs.stream
                key, cert, ca = new.ssl
                ovs.stream.Stream.ssl_set_private_key_file(key)
                ovs.stream.Stream.ssl_set_certificate_file(cert)
                ovs.stream.Stream.ssl_set_ca_cert_file(ca)
            log.info("local config: %s: reconnecting the Southbound (the datapath keeps "
                     "forwarding)", change.what)
            sb.set_remote(new.remote, new.probe_interval_ms)
            self.ctl.sb_problem = None
            return
        if change.kind == PROBE:
            sb.set_probe_interval(new.probe_interval_ms)
            log.info("local config: %s: the Southbound session probes every %d ms",
                     change.what, sb.probe_interval())
            return
        # RENAME / CHASSIS write our Chassis rows: they need the Southbound
        if not sb.connected():
            raise Deferred(f"{change.what}: waiting for the Southbound connection")
        identity = getattr(self.ctl, "identity", None)
        if identity is not None and not identity.owner():
            # another controller owns these rows (db/ownership.py): write none of them
            raise Deferred(f"{change.what}: standing by, another controller owns our rows")
        device = self._uplink_for(new.encap_ip)
        if change.kind == RENAME:
            sb.rename_chassis(new.system_id, new.encap_type, new.encap_ip,
                              hostname=new.hostname or new.system_id)
            log.info("local config: %s: registered chassis %s, moved our ports to it and "
                     "removed chassis %s", change.what, new.system_id, self.active.system_id)
        else:
            sb.register_chassis(new.encap_type, new.encap_ip,
                                hostname=new.hostname or new.system_id)
            log.info("local config: %s: our Chassis' Encap row updated", change.what)
        if device != self.uplink:
            self.ctl.datapath.attach_uplink(device)
            try:
                self.ctl.datapath.detach_uplink(self.uplink)
            except (ValueError, OSError) as e:
                log.warning("detaching the old underlay %s: %s", self.uplink, e)
            log.info("underlay moved from %s to %s", self.uplink, device)
            self.uplink = device
        # the step writes the datapath's own id and source IP (set_config), and the
        # tunnels with it; claims and the nb_cfg ack are checked again (new rows)
        self.ctl.claims = None
        self.ctl.acked = None

    def _uplink_for(self, encap_ip):
        if self.pinned_uplink:
            return self.uplink
        device = device_holding(encap_ip)
        if device is None:
            raise Refused(f"no device here carries the encap IP {encap_ip}")
        return device
