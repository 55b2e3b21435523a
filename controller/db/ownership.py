"""Who owns this chassis' Southbound rows (Chassis, Encap, Chassis_Private).

OVN lets anyone with the system-id rewrite a chassis' rows, and a second controller
started with a copied system-id silently takes the chassis over: peers tunnel to it and
the real chassis never writes its Encap back. ovnbpf controllers therefore keep an owner
record in their Chassis_Private row's external_ids:

  ovnbpf-owner        a token per controller (kept in its run dir, so a restart on the
                      same host is the same owner)
  ovnbpf-owner-encap  the encap IP the owner serves
  ovnbpf-owner-host   the owner's hostname (for the logs of the others)
  ovnbpf-heartbeat    a counter the owner bumps every HEARTBEAT_S
  ovnbpf-contender    "token encap host counter": a second controller with the same
                      system-id that stands by (bumped every HEARTBEAT_S as well)

Liveness is judged by each reader on its own clock (a counter that has not moved for
STALE_S is stale), so no two hosts need synchronised clocks. Only controllers with the
same system-id read this record: Chassis_Private is monitored for our own row only
(southbound.py), so nobody else hears a heartbeat (with N chassis, each would hear N/5
a second).

What peers go by is the owner's Chassis row, external_ids:ovnbpf-owner-encap
(rows.OWNER_ENCAP), written with its Encap by Southbound._write_chassis and so changed only
when its encap changes (or a standby takes over). A writer without an owner record
(ovn-controller, ovn-sbctl) rewrites the Encap and leaves the key: peers keep tunnelling
to the owner's IP and report the disagreement (desired.py). A clean stop clears the key
while our Encap agrees with it (release()), so a chassis replaced by one that does not
run ovnbpf is followed by its Encap as OVN does.

The rules:
  - a newcomer that finds another owner's record stands by: it writes none of the rows
    (no Chassis, Encap, claims or nb_cfg ack), logs an ERROR naming the owner, announces
    itself as contender, and takes over only when the owner's heartbeat is stale;
  - the owner logs an ERROR for every contender it sees, and drops a stale contender;
  - the owner whose Chassis/Encap rows were rewritten by a writer that does not keep the
    record (ovn-controller, ovn-sbctl, an older ovnbpf) logs an ERROR naming what the
    rows now say and writes its own back, with backoff (1 s doubling to 60 s);
  - an owner whose record was replaced by another live owner (one that judged us gone)
    stands by in turn rather than fight.
"""
from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from .rows import OWNER_ENCAP

log = logging.getLogger("ovnbpf.controller")

OWNER, ENCAP, HOST, BEAT, CONTENDER = ("ovnbpf-owner", "ovnbpf-owner-encap", "ovnbpf-owner-host",
                                       "ovnbpf-heartbeat", "ovnbpf-contender")
HEARTBEAT_S = 5.0
STALE_S = 15.0          # three missed heartbeats
BACKOFF_S = (1.0, 60.0)


def load_token(run_dir) -> str:
    """This controller's owner token: the one kept in run_dir, or a new one kept there."""
    path = Path(run_dir) / "owner-token"
    try:
        token = path.read_text().strip()
        if token:
            return token
    except OSError:
        pass
    token = secrets.token_hex(8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token + "\n")
    except OSError as e:         # still works; a restart will be a newcomer
        log.warning("cannot keep the owner token in %s: %s", path, e)
    return token


class _Watch:
    """A counter's last value and when (on our clock) it last moved."""

    def __init__(self):
        self.key, self.value, self.since = None, None, 0.0

    def see(self, key, value, now):
        if (key, value) != (self.key, self.value):
            self.key, self.value, self.since = key, value, now
        return now - self.since


class Ownership:
    def __init__(self, sb, token, clock=time.monotonic):
        self.sb = sb
        self.token = token
        self.clock = clock
        self.role = None               # "owner" | "standby" (None until start())
        self.beat = 0
        self.next_beat = 0.0
        self.owner_watch = _Watch()    # the other owner's heartbeat, while we stand by
        self.contender_watch = _Watch()
        self.contenders_logged = set()
        self.backoff = BACKOFF_S[0]
        self.next_reassert = None
        self.last_fight = 0.0
        self.other = None              # {"token", "encap", "host"} of the last other writer
        self.counters = {"refused_takeover": 0, "contenders_seen": 0, "overwrites_seen": 0,
                         "reasserts": 0, "took_over": 0, "stood_down": 0}
        self.want = None               # (encap_type, encap_ip, hostname) we write

    # ---- what the rows say -------------------------------------------------------------

    def _private(self):
        return self.sb._own_private()

    def _chassis(self):
        return self.sb._own_chassis()

    def _record(self):
        p = self._private()
        return dict(p.external_ids) if p is not None else {}

    def owner_ids(self):
        """Our record, for Southbound._write_chassis (encap and host added there)."""
        return {OWNER: self.token, BEAT: str(self.beat)}

    # ---- start-up ----------------------------------------------------------------------

    def start(self, encap_type, encap_ip, hostname) -> bool:
        """Decide at start: True = we own the rows (register them), False = stand by."""
        self.want = (encap_type, encap_ip, hostname)
        rec = self._record()
        other = rec.get(OWNER)
        now = self.clock()
        try:
            self.beat = int(rec.get(BEAT, "0")) if other == self.token else 0
        except ValueError:
            self.beat = 0
        if other and other != self.token and (rec.get(ENCAP), rec.get(HOST)) == (encap_ip, hostname):
            # our own record from before our run dir was lost (a reboot empties /run): the
            # same encap IP and hostname cannot be another live host
            log.info("chassis %s: the owner record names our encap %s and host %s: ours "
                     "from an earlier run", self.sb.chassis_name, encap_ip, hostname)
            other = None
        if other and other != self.token:
            self.role = "standby"
            self.other = {"token": other, "encap": rec.get(ENCAP), "host": rec.get(HOST)}
            self.owner_watch.see(other, rec.get(BEAT), now)
            self.counters["refused_takeover"] += 1
            log.error("chassis %s is owned by another ovnbpf controller (encap %s, host %s, "
                      "token %s): not taking its Chassis/Encap rows over; standing by until "
                      "its heartbeat stops for %.0f s. Two hosts share this system-id?",
                      self.sb.chassis_name, self.other["encap"], self.other["host"], other,
                      STALE_S)
            self.next_beat = now        # announce ourselves at once
            return False
        self.role = "owner"
        self.sb.owner_ids = self.owner_ids()
        self.next_beat = now + HEARTBEAT_S
        return True

    def owner(self) -> bool:
        return self.role == "owner"

    # ---- each loop -------------------------------------------------------------------

    def run(self, encap_type, encap_ip, hostname) -> bool:
        """Check the rows and keep the heartbeat. True when our role changed or we wrote
        our rows again (the caller re-checks claims and acks)."""
        if self.role is None or not self.sb.connected():
            return False
        self.want = (encap_type, encap_ip, hostname)
        now = self.clock()
        if self.role == "standby":
            return self._standby(now)
        return self._owner(now)

    def _standby(self, now):
        rec = self._record()
        other = rec.get(OWNER)
        if other == self.token:         # somebody restored our record (or we did)
            self.role = "owner"
            return True
        silent = self.owner_watch.see(other, rec.get(BEAT), now) if other else STALE_S
        if silent >= STALE_S:
            log.error("chassis %s: the owner (encap %s, host %s) has not beaten for %.0f s: "
                      "taking the Chassis/Encap rows back (encap %s, host %s)",
                      self.sb.chassis_name, rec.get(ENCAP), rec.get(HOST), silent,
                      self.want[1], self.want[2])
            self.counters["took_over"] += 1
            self.role = "owner"
            self.beat += 1
            self._register()
            self.next_beat = now + HEARTBEAT_S
            return True
        if now >= self.next_beat:
            self.beat += 1
            self._set_keys({CONTENDER: f"{self.token} {self.want[1]} {self.want[2]} {self.beat}"})
            self.next_beat = now + HEARTBEAT_S
        return False

    def _owner(self, now):
        rec = self._record()
        other = rec.get(OWNER)
        changed = False
        if other and other != self.token:
            # another controller keeping the record took the rows: it judged us gone.
            # Fighting would flap the peers' tunnels: stand by and watch its heartbeat.
            self.role = "standby"
            self.other = {"token": other, "encap": rec.get(ENCAP), "host": rec.get(HOST)}
            self.owner_watch = _Watch()
            self.owner_watch.see(other, rec.get(BEAT), now)
            self.counters["stood_down"] += 1
            log.error("chassis %s: another ovnbpf controller (encap %s, host %s, token %s) "
                      "took our Chassis/Encap rows over; standing by (it thought we were "
                      "gone): two hosts share this system-id?", self.sb.chassis_name,
                      self.other["encap"], self.other["host"], other)
            return True
        wrong = self._overwritten(rec)
        if wrong:
            if self.next_reassert is None:
                self.counters["overwrites_seen"] += 1
                self.next_reassert = now + self.backoff
                log.error("chassis %s: our Chassis/Encap rows were rewritten by a writer that "
                          "keeps no owner record (%s); writing ours back in %.0f s",
                          self.sb.chassis_name, wrong, self.backoff)
            elif now >= self.next_reassert:
                self.counters["reasserts"] += 1
                log.error("chassis %s: writing our Chassis/Encap rows back (encap %s, host "
                          "%s; they said %s), attempt %d", self.sb.chassis_name, self.want[1],
                          self.want[2], wrong, self.counters["reasserts"])
                self.beat += 1
                self._register()
                self.next_beat = now + HEARTBEAT_S
                self.backoff = min(self.backoff * 2, BACKOFF_S[1])
                self.next_reassert = None
                changed = True
        elif now - self.last_fight > BACKOFF_S[1]:
            self.backoff = BACKOFF_S[0]    # our rows held for a while: forget the fight
        if wrong:
            self.last_fight = now
        self._contender(rec, now)
        if now >= self.next_beat and self._private() is not None:
            self.beat += 1
            self.sb.owner_ids = self.owner_ids()
            self._set_keys({**self.owner_ids(), ENCAP: self.want[1], HOST: self.want[2]})
            self.next_beat = now + HEARTBEAT_S
        return changed

    def _overwritten(self, rec):
        """What differs in our rows from what we wrote, in words ("" = nothing)."""
        ch = self._chassis()
        if ch is None:
            return ""                      # gone: the step registers it again
        encap_type, encap_ip, hostname = self.want
        encaps = [(e.type, e.ip) for e in ch.encaps]
        diffs = []
        if encaps != [(encap_type, encap_ip)]:
            diffs.append("encap " + (", ".join(f"{t} {ip}" for t, ip in encaps) or "none"))
        if ch.hostname != hostname:
            diffs.append(f"hostname {ch.hostname}")
        if diffs:
            self.other = {"token": None, "encap": encaps[0][1] if encaps else None,
                          "host": ch.hostname}
        if ch.external_ids.get(OWNER_ENCAP) != encap_ip:      # what peers tunnel to
            diffs.append(f"{OWNER_ENCAP} {ch.external_ids.get(OWNER_ENCAP) or 'none'}")
        return ", ".join(diffs)

    def _contender(self, rec, now):
        c = rec.get(CONTENDER)
        if not c:
            if self.contenders_logged:     # its record was removed by someone else
                log.warning("chassis %s: the contender record is gone",
                            self.sb.chassis_name)
                self.contenders_logged.clear()
            return
        token, encap, host, beat = (c.split() + ["?"] * 4)[:4]
        silent = self.contender_watch.see(token, beat, now)
        if token not in self.contenders_logged:
            self.contenders_logged.add(token)
            self.counters["contenders_seen"] += 1
            self.other = {"token": token, "encap": encap, "host": host}
            log.error("chassis %s: another ovnbpf controller with our system-id (encap %s, "
                      "host %s, token %s) is running; it stands by and does not take our "
                      "rows. Two hosts share this system-id?", self.sb.chassis_name, encap,
                      host, token)
        elif silent >= STALE_S:
            log.warning("chassis %s: the contender at %s (host %s) has gone (silent %.0f s)",
                        self.sb.chassis_name, encap, host, silent)
            self.contenders_logged.discard(token)
            self._del_key(CONTENDER)

    # ---- writes ------------------------------------------------------------------------

    def _register(self):
        self.sb.owner_ids = self.owner_ids()
        encap_type, encap_ip, hostname = self.want
        self.sb.register_chassis(encap_type, encap_ip, hostname=hostname)

    def _set_keys(self, keys):
        def build(txn):
            p = self._private()
            if p is not None:
                for key, value in keys.items():
                    p.setkey("external_ids", key, value)
        # one kind per key set: the next heartbeat replaces one not yet written
        self.sb.write("owner " + ",".join(sorted(keys)), "chassis ownership record", build)

    def _del_key(self, key):
        def build(txn):
            p = self._private()
            if p is not None:
                p.delkey("external_ids", key)
        self.sb.write(f"owner-del {key}", "chassis ownership record", build)

    def release(self) -> bool:
        """A clean stop: clear our Chassis row's owner-encap record, but only while our
        Encap agrees with it, so peers lose nothing now and follow the Encap as OVN does
        if this chassis is replaced by one without ovnbpf. A restart writes it again (the
        Chassis_Private record stays: the restart is the same owner). True if cleared."""
        if self.role != "owner" or self.want is None or not self.sb.connected():
            return False
        ch = self._chassis()
        encap_type, encap_ip, _ = self.want
        if (ch is None or ch.external_ids.get(OWNER_ENCAP) != encap_ip
                or [(e.type, e.ip) for e in ch.encaps] != [(encap_type, encap_ip)]):
            return False        # overwritten: peers must keep tunnelling to us

        def build(txn):
            c = self._chassis()
            if c is not None:
                c.delkey("external_ids", OWNER_ENCAP)
        what = f"Chassis {OWNER_ENCAP}"
        self.sb.write("owner-encap", what, build, timeout=2.0)
        self.sb.flush(timeout=2.0, what=what)     # stopping: worth a short wait
        return True

    # ---- status --------------------------------------------------------------------------

    def status(self):
        return {"role": self.role, "token": self.token, "heartbeat": self.beat,
                "other": self.other, **self.counters}
