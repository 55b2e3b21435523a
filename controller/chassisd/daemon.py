"""The controller's main loop: local OVS DB + Southbound in, eBPF datapath state out.

Each iteration:
  1. read the local config (system-id, ovn-remote, encap) and VIFs (iface-id Interfaces);
     changes to the config are followed between iterations (reconfig.py);
  2. snapshot the Southbound; narrow its monitor conditions to the related datapaths;
  3. claim/release Port_Bindings for our VIFs;
  4. desired state (desired.py) -> datapath maps, as diffs;
  5. the pipeline: if the flow *shapes* changed, compile + load a new generation and swap
     it in (hitless); otherwise only its map entries change;
  6. ack nb_cfg so `ovn-nbctl --wait=hv` returns.

Between iterations it serves the punt path (controller/punt, OVN's pinctrl): events from
the active pipeline's perf buffer (its fds are in the poller) go through the PuntHandler;
generated packets are injected back (xdp_inject.c, live frames) and learned neighbours
become MAC_Binding rows. Its counters are in the status file under "punt".

A change that only touches ports, MACs, chassis or group members never recompiles (the
`recompiles` counter proves it). Programs and maps outlive this process: killing it leaves
the chassis forwarding; a restart adopts the pinned maps and replaces the programs
atomically.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import ovs.poller

from ..db.local_ovs import LocalOvs
from ..db.ownership import Ownership, load_token
from ..db.sbhealth import SessionHealth
from ..db.southbound import Southbound, SouthboundError, ssl_diagnose
from ..db.viewcheck import ViewCheck, summary
from ..punt.event import inject_header
from ..punt.handler import PuntHandler
from . import desired as D
from .failures import StepFailures
from .pipeline import PipelineBuilder
from .netdev import device_holding
from .reconfig import Reconfig
from .heartbeat import Heartbeat
from .napi import NapiWatch
from ..blackholes import datapath_lines
from datapath.chassis import ChassisDatapath, Group, Local, Patch, Remote, Tunnel

log = logging.getLogger("ovnbpf.controller")


def neighbour_mac(ip, wait_s=0.3):
    """The kernel's MAC for `ip`; if it has none yet, make it ARP (a datagram to the
    discard port) and wait briefly. None if still unresolved (fib lookup retries later)."""
    import socket
    from pyroute2 import IPRoute

    def lookup():
        with IPRoute() as ipr:
            for n in ipr.get_neighbours(family=2, dst=ip):
                mac = n.get_attr("NDA_LLADDR")
                if mac and n["state"] not in (0x01, 0x20):     # not INCOMPLETE / FAILED
                    return mac
        return None

    mac = lookup()
    if mac is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.sendto(b"", (ip, 9))
            except OSError:
                return None
        deadline = time.monotonic() + wait_s
        while mac is None and time.monotonic() < deadline:
            time.sleep(0.01)
            mac = lookup()
    return mac


def device_names():
    """Devices of this namespace, by netlink (not /sys/class/net: under Mininet a host's
    /sys is the root namespace's). libc's if_nameindex asks netlink, without the cost of
    a pyroute2 socket per call (this runs every step)."""
    import socket
    return {name for _, name in socket.if_nameindex()}


@dataclass
class Counters:
    iterations: int = 0
    recompiles: int = 0
    map_updates: int = 0
    claims: int = 0
    nb_cfg: int = 0
    unsettled: int = 0      # steps that waited for the SB to answer new monitor conditions
    sb_writes_deferred: int = 0   # our SB writes the server did not take (retried)


class Controller:
    def __init__(self, ovs_db, pin_dir=None, uplink=None, status_file=None, run_dir=None,
                 egress_on="egress", punt_rate=(1000, 100), view_check_s=60.0,
                 sb_wait_warn_s=30.0, limits=None):
        if ovs_db.startswith("unix:") and not Path(ovs_db[5:]).exists():
            raise RuntimeError(f"the local OVS DB socket {ovs_db[5:]} does not exist "
                               "(is ovsdb-server running, and is --ovs-db right?)")
        self.ovs = LocalOvs(ovs_db)
        self.ovs_db = ovs_db
        self.limits = limits          # controller/limits.py (None: the defaults)
        self.pin_dir = pin_dir
        self.uplink = uplink
        self.status_file = Path(status_file) if status_file else None
        self.run_dir = run_dir
        self.egress_on = egress_on             # which chassis runs egress (bpf/lib/split.h)
        self.punt_rate = punt_rate             # (per second per CPU, burst): the punt meter
        self.status = {}
        self.sb = None
        self.cfg = None
        self.datapath = None
        self.ids = D.ChassisIds()
        self.pipeline = None
        self.counters = Counters()
        self.attached: dict[str, int] = {}     # VIF device -> ifindex
        self.claims = None
        self.acked = None
        self.reported = set()
        self.neigh: dict[str, str] = {}        # tunnel IP -> MAC, once resolved
        self.unresolved = False                # a tunnel's MAC is unknown: step again soon
        self.stopping = False
        self.sb_problem = None                 # why the Southbound is unreachable, if known
        self.sb_down_since = None
        self.next_probe = 0.0
        self.punts = PuntHandler()             # bound to each step's snapshot and cookies
        self.punt_events: list[bytes] = []
        self.punt_status = {}
        self.status_pending = None             # when the status changed, unwritten since
        self.reconfig = None                   # follows the local config (reconfig.py)
        self.view_check_s = view_check_s       # how often the SB view is checked (0: never)
        self.viewcheck = None
        self.failures = StepFailures(log)       # a traceback per distinct failure, once
        self.unwritten = {}                    # SB write -> why the server did not take it
        self.identity = None                   # who owns our SB rows (db/ownership.py)
        self.sb_health = None                  # the SB session's attempts/reasons (sbhealth.py)
        self.sb_wait_warn_s = sb_wait_warn_s   # start-up: say we still wait after this long
        self.status_lock = threading.RLock()
        self.heartbeat = None                  # rewrites the status file while the loop is busy
        self.vif_napi = NapiWatch()            # VIFs that cannot receive redirected frames

    # ---- startup ---------------------------------------------------------------------

    def _wait(self, predicate, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.ovs.run()
            if self.sb:
                self.sb.run()
            self._block(50)

    def start(self, waiting=None):
        """waiting(): called once the local config is checked, before the (unbounded) wait
        for the Southbound: `--detach` returns there, as ovn-controller's does."""
        self._wait(self.ovs.synced, f"the local OVS DB {self.ovs_db}")
        self.cfg = self.ovs.config()
        from ..db import fastjson
        if fastjson.active() != "C":
            log.warning("OVSDB JSON is parsed in Python (no ovs._json: install "
                        "python3-openvswitch): every SB update costs several times more")
        log.info("chassis %s: ovn-remote %s, encap %s %s", self.cfg.system_id, self.cfg.remote,
                 self.cfg.encap_type, self.cfg.encap_ip)
        if self.cfg.ssl:
            import ovs.stream
            key, cert, ca = self.cfg.ssl
            ovs.stream.Stream.ssl_set_private_key_file(key)
            ovs.stream.Stream.ssl_set_certificate_file(cert)
            ovs.stream.Stream.ssl_set_ca_cert_file(ca)
        self.sb = Southbound(self.cfg.remote, self.cfg.system_id,
                             probe_interval_ms=self.cfg.probe_interval_ms)
        self.viewcheck = ViewCheck(self.sb, interval_s=self.view_check_s)
        self.sb.sends_egress_done = self.egress_on == "ingress"
        self.sb_health = SessionHealth(self.sb)
        self.sb_wait_from = time.monotonic()
        self.heartbeat = Heartbeat(self._heartbeat)
        pin_dir = self.pin_dir or f"/sys/fs/bpf/ovnbpf/{self.cfg.system_id}"
        self.pin_dir = pin_dir
        uplink = self.uplink or device_holding(self.cfg.encap_ip)
        if uplink is None:
            raise RuntimeError(f"no device here carries the encap IP {self.cfg.encap_ip}")
        if waiting is not None:
            waiting()
        # nothing is attached before the SB answers: a controller that cannot reach its SB
        # (a wrong CA, a second instance) must not take the uplink from one that forwards
        self._wait_southbound()
        log.info("connected to the Southbound at %s", self.sb.member())
        self.sb_health.connected_again()
        run_dir = Path(self.run_dir or f"/run/ovnbpf/{self.cfg.system_id}")
        self.identity = Ownership(self.sb, load_token(run_dir))
        if self.identity.start(self.cfg.encap_type, self.cfg.encap_ip,
                               self.cfg.hostname or self.cfg.system_id):
            self.sb.register_chassis(self.cfg.encap_type, self.cfg.encap_ip,
                                     hostname=self.cfg.hostname or self.cfg.system_id)

        def load():      # builds the entry programs (clang: seconds): keep the SB alive
            datapath = ChassisDatapath(pin_dir)
            datapath.set_egress_on(self.egress_on)
            datapath.set_punt_rate(*self.punt_rate)
            datapath.attach_uplink(uplink)
            return datapath
        self.datapath = self._serving(load)
        log.info("datapath pinned at %s, underlay %s, egress on the %s chassis", pin_dir,
                 uplink, "sending" if self.egress_on == "ingress" else "receiving")
        self.datapath.open_punts(self.punt_events.append)
        self.pipeline = PipelineBuilder(self.datapath, run_dir / "pipelines",
                                        **({"limits": self.limits} if self.limits else {}))
        self.reconfig = Reconfig(self, uplink)
        self._writes_in_background()

    def _writes_in_background(self):
        """From here on nothing waits for the Southbound: our writes are transactions the
        loop checks on its next turns (db/sbwrites.py). One the server does not take yet
        ("try again") is retried from fresh state and reported as _sb_unwritten; one it
        refuses is logged once and forgotten, so the next step writes it anew."""
        self.sb.wait_writes = False
        self.sb.writes.on_deferred = self._sb_unwritten
        self.sb.writes.on_written = lambda what: self.unwritten.pop(what, None)

        def failed(what, reason):
            self.claims = self.acked = None
        self.sb.writes.on_failed = failed

    def _wait_southbound(self):
        """Wait for the first Southbound connection as long as it takes (ovn-controller
        does too), the IDL retrying with its backoff. Why it does not come is in the log
        (each new reason once, with the attempt count: sbhealth.py) and the status file;
        a failing ssl: remote is diagnosed; a new ovn-remote in the local DB is followed."""
        warn_at = self.sb_wait_from + self.sb_wait_warn_s
        self.sb_down_since = time.monotonic()
        self.next_probe = self.sb_down_since + 1.0
        self._save_status()
        while not self.sb.connected():
            self._diagnose()
            if warn_at is not None and time.monotonic() > warn_at:
                warn_at = None
                log.warning("no Southbound after %.0f s at %s (%s); still trying, the "
                            "datapath keeps what it has", self.sb_wait_warn_s, self.cfg.remote,
                            self.sb_problem or self.sb_health.reason or "no answer yet")
            if self.ovs.run():
                self._follow_remote()
            self.sb.run()
            self._block(50)
        self.sb_down_since = None
        self.sb_problem = None

    def _follow_remote(self):
        """Start-up only (Reconfig follows the config afterwards): a new ovn-remote or
        probe interval in the local DB is where we try next."""
        try:
            cfg = self.ovs.config()
        except Exception:   # noqa: BLE001 - an invalid config keeps the last good one
            return
        if (cfg.remote, cfg.probe_interval_ms) != (self.cfg.remote, self.cfg.probe_interval_ms):
            log.info("ovn-remote is now %s: trying it", cfg.remote)
            self.cfg = cfg
            self.sb.set_remote(cfg.remote, cfg.probe_interval_ms)

    def _diagnose(self):
        """While the Southbound is unreachable: every few seconds, find out why (the IDL
        only retries) and log each new reason once."""
        if not self.cfg.ssl or time.monotonic() < self.next_probe:
            return
        self.next_probe = time.monotonic() + 5.0
        problem = ssl_diagnose(self.cfg.remote, *self.cfg.ssl)
        if problem and problem != self.sb_problem:
            log.error("cannot connect to the Southbound: %s", problem)
        self.sb_problem = problem
        self._save_status()

    def _sb_status(self):
        return {"remote": self.cfg.remote if self.cfg else None,
                "member": self.sb.member() if self.sb else None,
                "connected": bool(self.sb and self.sb.connected()),
                "rx_bytes": self.sb.rx_bytes() if self.sb else 0,
                "connections": self.sb.connections if self.sb else 0,
                "sync_bytes": list(self.sb.sync_bytes) if self.sb else [],
                "full_resyncs": self.sb.full_resyncs if self.sb else 0,
                "reshapes": self.sb.reshapes if self.sb else 0,
                # our transactions: in flight, waiting, done, retried (db/sbwrites.py)
                "writes": self.sb.writes.status() if self.sb else None,
                "view_check": self.viewcheck.status() if self.viewcheck else None,
                "problem": self.sb_problem,
                # state, last message, attempts and the last failure's reason (sbhealth.py)
                **(self.sb_health.status() if self.sb_health else {})}

    def _save_status(self):
        with self.status_lock:
            if not self.status:
                self.status = {"chassis": self.cfg.system_id if self.cfg else None,
                               "pid": os.getpid(), "pin_dir": self.pin_dir}
            self.status["sb"] = self._sb_status()
            self.status["counters"] = dict(vars(self.counters))
            self.status["config"] = self.reconfig.status() if self.reconfig else None
            self.status["identity"] = self.identity.status() if self.identity else None
            self.status["vif_napi"] = self.vif_napi.status()
            self._flush_status()

    def _heartbeat(self):
        """From the heartbeat thread, each second: the SB part of the status file stays
        true while the loop waits, steps, or blocks in a transaction the SB does not
        answer."""
        if self.sb is not None:
            self._save_status()

    STATUS_STALE_S = 1.0     # a busy loop still writes the status file this often

    def _flush_status(self):
        """Write the status file now (a few ms of JSON: the loop calls this when idle,
        so it never delays programming a change that is waiting)."""
        with self.status_lock:      # the heartbeat thread writes it too
            self.status_pending = None
            for key, value in self.status.items():
                if callable(value):                 # a part made only when written
                    self.status[key] = value()
            self.status["written_at"] = round(time.time(), 3)
            if self.status_file:
                tmp = self.status_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.status, indent=1, default=str))
                tmp.replace(self.status_file)

    def _connection_changed(self, connected):
        """The Southbound went away or came back. The datapath keeps forwarding on what
        it has meanwhile; on return, our writes (chassis, claims, nb_cfg ack) are checked
        again, since the server may have lost or refused what we last wrote."""
        if not connected:
            self.sb_down_since = time.monotonic()
            self.next_probe = self.sb_down_since + 1.0
            if not self.sb_health.loss_logged:      # sbhealth logs it when detected
                log.warning("lost the Southbound connection (%s); the datapath keeps "
                            "forwarding with the state it has", self.sb.member())
        else:
            down = time.monotonic() - (self.sb_down_since or time.monotonic())
            full = self.sb.full_resyncs > self.resyncs_seen
            log.info("reconnected to the Southbound at %s after %.1f s: resync %d bytes (%s)",
                     self.sb.member(), down, self.sb.sync_bytes[-1] if self.sb.sync_bytes else 0,
                     "the server had no history for our last transaction: full contents again"
                     if full else "monitor_cond_since resumed from our last transaction")
            self.sb_down_since = None
            self.sb_problem = None
            self.sb_health.connected_again()
            self.claims = None
            self.acked = None
        self.resyncs_seen = self.sb.full_resyncs
        self._save_status()

    def _serving(self, fn, grace=0.0):
        """Run fn() (a pipeline build: clang for seconds, the GIL released) in a thread
        while this one keeps both DB sessions alive. A loop blocked that long misses the
        server's inactivity probe (5 s) and the SB drops us, costing a full resync. The
        step works on a frozen snapshot, so updates that arrive meanwhile only make the
        loop step again afterwards."""
        import threading
        box = {}

        def work():
            try:
                box["result"] = fn()
            except BaseException as e:     # re-raised in the caller's thread
                box["error"] = e
        t = threading.Thread(target=work, name="pipeline-build", daemon=True)
        t.start()
        t.join(grace)       # work that is quick costs no polling round
        while t.is_alive():
            self.ovs.run()
            self.sb.run()
            poller = ovs.poller.Poller()
            self.ovs.idl.wait(poller)
            self.sb.idl.wait(poller)
            poller.timer_wait(20)
            poller.block()
            t.join(0)
        if "error" in box:
            raise box["error"]
        return box["result"]

    # ---- one iteration ---------------------------------------------------------------

    def _report(self, problems):
        for uuid, reason in problems:
            if (uuid, reason) not in self.reported:
                self.reported.add((uuid, reason))
                log.warning("row %s: %s", uuid, reason)

    def _report_blackholes(self, missing):
        # per datapath, in OVN's terms, each time it changes (controller/blackholes.py)
        lines = datapath_lines(missing, name_flows=3)
        if lines != getattr(self, "_blackholes", []):
            for line in lines:
                log.warning("%s", line)
            if not lines and getattr(self, "_blackholes", []):
                log.info("every flow of the local datapaths is compiled again")
            self._blackholes = lines

    def seqnos(self):
        # cond_seqno: an acknowledged condition change may bring no row, yet it settles
        # the view the step waits for
        return (self.ovs.idl.change_seqno, self.sb.idl.change_seqno, self.sb.idl.cond_seqno)

    def _lap(self, phase):
        now = time.perf_counter()
        self.timings[phase] = round((now - self._t) * 1000, 2)
        self._t = now

    def step(self):
        self.counters.iterations += 1
        self.timings = {"rx": getattr(self, "rx_ms", 0.0)}
        self._t = t0 = time.perf_counter()
        # what this step reads; changes that arrive while it runs (our own commits process
        # server messages too) leave the seqnos different, so the loop steps again
        self.seen = self.seqnos()
        next_cfg = self.ovs.next_cfg()     # what `ovs-vsctl` waits for; acked once applied
        cfg = self.reconfig.current()      # the last good config (re-read on a local DB change)
        present = device_names()
        devices = {v.iface_id: v.name for v in cfg.vifs if v.name in present}
        self._lap("config")
        state = self.sb.snapshot()
        self._lap("snapshot")
        want = D.compute(state, cfg.system_id, devices, self.ids)
        owner = self.identity is None or self.identity.owner()   # standing by: write nothing
        self.sb.set_local(want.local_datapaths, set(devices))
        self._lap("desired")
        self._report(want.problems)
        if (owner and not any(c.name == cfg.system_id for c in state.chassis)
                and not self.sb.writing("chassis")):
            # our Chassis row is gone (deleted, or the SB came back from an older DB)
            log.warning("our Chassis row is missing from the Southbound: registering again")
            self.sb.register_chassis(cfg.encap_type, cfg.encap_ip,
                                     hostname=cfg.hostname or cfg.system_id)
            self.claims = None

        me = self.ids.ids.get(cfg.system_id, 0)
        self.datapath.set_config(me, cfg.encap_ip)
        # a VIF's program goes on as soon as it is plugged (an iface-id Interface whose
        # device exists), before its logical port exists: binding it later is a map update
        # only. Until then its packets are dropped as an unknown VIF, as OVS drops an
        # unbound port's.
        plugged = set(devices.values())
        for dev in sorted(plugged - set(self.attached)):
            self.attached[dev] = self.datapath.attach_vif(dev)
            log.info("VIF %s attached (ifindex %d)", dev, self.attached[dev])
        for dev in sorted(set(self.attached) - plugged):
            if dev in present:
                self.datapath.detach_vif(dev)
            del self.attached[dev]
            log.info("VIF %s detached", dev)
        self.ovs.ack_cfg(next_cfg)         # the local DB's change is applied (ovs-vswitchd's cur_cfg)

        self._lap("vifs")
        if not self.sb.conditions_settled():
            # the server has not yet answered our latest monitor conditions: this snapshot
            # may lack our ports or our datapaths' flows (right after a restart it has
            # none). Program nothing, claim and release nothing; the answer steps again.
            self.counters.unsettled += 1
            log.debug("step %d: monitor conditions not yet acknowledged, datapath left as is",
                      self.counters.iterations)
            return
        # a full compile of a big snapshot (100,000-member sets) takes seconds: the DB
        # sessions stay served meanwhile
        compiled = self._serving(lambda: self.pipeline.compile(state, cfg.system_id, want),
                                 grace=0.05)
        self._report(compiled.problems)
        self._report_blackholes(compiled.coverage.get("unsupported", []))
        self._lap("compile")
        self.unresolved = False
        self.datapath.set_tunnels({cid: self._tunnel(ip, cid in want.egress_done,
                                                     cid in want.egress_done_trusted)
                                   for cid, ip in want.tunnels.items()})
        self.datapath.set_lports({k: self._lport(v) for k, v in want.lports.items()})
        self.datapath.set_vifs({self.attached[dev]: key for dev, key in want.vifs.items()})
        self.datapath.set_mcast({k: Group(g.local_ports, g.remote_chassis, g.wire_key)
                                 for k, g in want.mcast.items()})
        self._lap("maps")
        self.punts.update(state, compiled.cookies)
        if self.pipeline.install(compiled, serve=self._serving):
            self.counters.recompiles += 1
            log.info("pipeline %s installed: %s", compiled.shape_hash[:12],
                     self.pipeline.last_install)
        else:
            self.counters.map_updates += 1
        self._lap("install")
        if not self.pipeline.verify():
            # a templated analysis was wrong: the entries just written may be too; compile
            # again from real analyses at once (the loop steps again)
            log.error("a templated lflow analysis differed from the real one; compiling in full")
            self.seen = None
        self._lap("verify")

        if owner and want.claims != self.claims and self._sb_write(
                "port claims", lambda: self.sb.set_claims(want.claims)):
            self.claims = want.claims
            self.counters.claims += 1
            log.info("claimed %s", ", ".join(sorted(want.claims)) or "nothing")
        self._lap("claims")
        if owner and state.nb_cfg != self.acked and self._sb_write(
                "nb_cfg ack", lambda: self.sb.ack_nb_cfg(state.nb_cfg)):
            self.acked = state.nb_cfg
            self.counters.nb_cfg = state.nb_cfg
        self._lap("ack")
        self._write_status(cfg, state, want, compiled)
        self._lap("status")
        total = (time.perf_counter() - t0) * 1000
        # where a step's time goes (also in the status file as last_step_ms); a slow one
        # is worth a line at the default level
        log.log(logging.INFO if total >= 200 else logging.DEBUG, "step %d: %.1f ms (%s)",
                self.counters.iterations, total,
                ", ".join(f"{k} {v}" for k, v in self.timings.items()))

    def _write_status(self, cfg, state, want, compiled):
        """What `ovnbpf ctl` shows besides the live counters it reads from the maps."""
        dp_names = {d.uuid: d.name for d in state.datapaths}
        self.status = {
            "chassis": cfg.system_id, "pid": os.getpid(), "pin_dir": self.pin_dir,
            "sb": self._sb_status(),
            "config": self.reconfig.status(),
            "identity": self.identity.status(),
            "vif_napi": self.vif_napi.status(),
            "counters": dict(vars(self.counters)),
            "last_step_ms": dict(self.timings),
            # made when the file is written (the loop's idle time): O(flows) of JSON
            "pipeline": lambda hash=self.pipeline.active_hash, install=self.pipeline.last_install,
            compiles=self.pipeline.incremental.status(): {
                "shape_hash": hash,
                "coverage": {k: v for k, v in compiled.coverage.items() if k != "unsupported"},
                "not_compiled": compiled.coverage.get("unsupported", []),
                "cookies": {str(c): u for c, u in compiled.cookies.items()},
                # what ctl names beside each lflow's hits: stage, priority, match
                "lflows": dict(compiled.lflow_labels),
                # full compile_state() runs vs changes applied as deltas, and why the last
                # full one was needed (controller/incremental.py)
                "compiles": compiles,
                **install},
            "local_datapaths": sorted(dp_names.get(u, u) for u in want.local_datapaths),
            "view": self._view_summary,        # made when written, as "pipeline"
            "vifs": {dev: list(k) for dev, k in sorted(want.vifs.items())},
            "tunnels": {str(cid): ip for cid, ip in sorted(want.tunnels.items())},
            "egress_on": self.egress_on,
            "punt_rate": {"per_second_per_cpu": self.punt_rate[0], "burst": self.punt_rate[1]},
            "egress_done_peers": sorted(want.egress_done),
            "egress_done_trusted": sorted(want.egress_done_trusted),
            "chassis_ids": dict(sorted(self.ids.ids.items())),
            "problems": [{"uuid": u, "reason": r} for u, r in want.problems + compiled.problems],
            "step_failures": self.failures.status(),
            "punt": self.punt_status,
        }
        if self.status_pending is None:
            self.status_pending = time.monotonic()

    # ---- the punt path ---------------------------------------------------------------------

    def serve_punts(self):
        """Handle every waiting punt event: inject what the actions generate, learn MACs."""
        if self.datapath is None:
            return
        self.datapath.poll_punts()
        if not self.punt_events:
            return
        events, self.punt_events[:] = list(self.punt_events), []
        bindings = []
        for data in events:
            r = self.punts.handle_bytes(data)
            bindings += r.bindings
            for inj in r.injections:
                try:
                    self.datapath.inject(inject_header(inj.stage, inj.resume, inj.table, inj.meta)
                                         + inj.frame)
                    self.punts.counters["injected"] += 1
                except OSError as e:
                    self.punts.counters["inject_failed"] += 1
                    log.warning("inject of %s (lflow %s) failed: %s", inj.keyword, inj.lflow, e)
        if bindings:
            try:
                self.sb.put_mac_bindings(bindings)
                self.punts.counters["mac_bindings_written"] += len(bindings)
            except Exception as e:   # noqa: BLE001 - the SB may be away; learning retries on the next copy
                self.punts.counters["mac_binding_write_failed"] += 1
                log.warning("MAC_Binding write failed: %s", e)
        self.punt_status = {"handled": dict(sorted(self.punts.counters.items())),
                            "perf_lost": self.datapath.punts_lost}
        if self.status:
            self.status["punt"] = self.punt_status
            if self.status_pending is None:
                self.status_pending = time.monotonic()

    def _lport(self, where):
        if isinstance(where, D.Local):
            return Local(self.attached[where.device])
        if isinstance(where, D.Remote):
            return Remote(where.chassis_id)
        return Patch(where.peer_dp, where.peer_port)

    def _tunnel(self, ip, egress_mark=False, trust=False):
        """bpf_fib_lookup finds the next hop once the kernel knows the neighbour; until
        then the datapath uses the MAC we give here, so resolve it now."""
        mac = self.neigh.get(ip) or neighbour_mac(ip)
        if mac:
            self.neigh[ip] = mac
        else:
            self.unresolved = True
        return Tunnel(ip, dmac=mac, egress_mark=egress_mark, trust_egress_done=trust)

    def _sb_write(self, what, write) -> bool:
        """An SB write of ours (claims, nb_cfg ack), queued: it returns at once
        (db/sbwrites.py). One the server does not take now (it is away, frozen or electing
        a Raft leader: "try again") is no failure of the chassis: said once at INFO
        (_sb_unwritten, from the writes' hook), counted, and retried."""
        try:
            write()
        except SouthboundError as e:
            self._sb_unwritten(what, e)
            self.seen = None
            return False
        self.unwritten.pop(what, None)
        return True

    def _sb_unwritten(self, what, error):
        self.counters.sb_writes_deferred += 1
        if self.unwritten.get(what) != str(error):
            self.unwritten[what] = str(error)
            log.info("%s of chassis %s not written yet (%s); retrying", what,
                     self.sb.chassis_name, error)

    def _identity_run(self):
        """Defend our SB rows (db/ownership.py); True when the step must run again."""
        if self.identity is None or not self.sb.connected():
            return False
        cfg = self.reconfig.current()
        try:
            wrote = self.identity.run(cfg.encap_type, cfg.encap_ip,
                                      cfg.hostname or cfg.system_id)
        except SouthboundError as e:     # the SB away or electing: the next beat retries
            self._sb_unwritten("chassis ownership record", e)
            return False
        except Exception as e:   # noqa: BLE001 - a failed check is retried on the next beat
            self.failures.failed(e)
            return False
        if wrote:
            self.claims = self.acked = None
        now = self.identity.status()
        if self.status and self.status.get("identity") != now:   # counters, role: shown soon
            self.status["identity"] = now
            if self.status_pending is None:
                self.status_pending = time.monotonic()
        return wrote

    def _release_identity(self):
        """A clean stop: peers may stop vouching for our encap (Ownership.release)."""
        try:
            if self.identity is not None and self.identity.release():
                log.info("cleared our Chassis' owner-encap record (our Encap agrees with it)")
        except Exception as e:   # noqa: BLE001 - stopping anyway; a restart writes it again
            log.warning("could not clear our Chassis' owner-encap record: %s", e)

    # ---- loop ------------------------------------------------------------------------

    def _block(self, timeout_ms):
        poller = ovs.poller.Poller()
        self.ovs.idl.wait(poller)
        if self.sb:
            self.sb.idl.wait(poller)
        if self.datapath is not None:
            for fd in self.datapath.punt_fds():
                poller.fd_wait(fd, ovs.poller.POLLIN)
        poller.timer_wait(timeout_ms)
        poller.block()

    def run_forever(self):
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        self.seen = None
        connected = True
        self.resyncs_seen = self.sb.full_resyncs
        while not self.stopping:
            t = time.perf_counter()
            self.ovs.run()
            self.sb.run()
            self.rx_ms = round((time.perf_counter() - t) * 1000, 2)  # reading DB updates
            if self.reconfig.run():    # a local config change was applied: step again
                self.seen = None
            if self._identity_run():   # our rows written again, or our role changed
                self.seen = None
            try:
                self.serve_punts()
            except Exception:   # noqa: BLE001 - the slow path must not take the chassis down
                log.exception("punt handling failed")
            if self.sb.connected() != connected:
                connected = self.sb.connected()
                self._connection_changed(connected)
            if not connected:
                self._diagnose()
            if self.seqnos() != self.seen and connected:
                try:
                    self.step()
                    self.failures.succeeded()
                except Exception as e:   # one bad iteration must not take the chassis down
                    self.failures.failed(e)
                    if not self.status:
                        self._save_status()
                    self.status["step_failures"] = self.failures.status()
                    self._flush_status()        # the status file keeps telling
                    self.seen = None
                    self._block(1000)
                if self.unresolved:
                    self.seen = None
                    self._block(100)
                if (self.status_pending is not None
                        and time.monotonic() - self.status_pending > self.STATUS_STALE_S):
                    self._flush_status()
                continue
            if connected:
                self._check_view()
            if connected and self.pipeline.compaction_due():
                self.seen = None        # idle: rebuild without the shapes no flow fills
                continue
            try:
                if self.vif_napi.run(self.attached):     # a VIF that cannot receive: say so
                    self._save_status()
            except Exception:   # noqa: BLE001 - a check must not take the chassis down
                log.exception("VIF NAPI check failed")
            if self.status_pending is not None:
                self._flush_status()
            self._block(1000 if connected else 200)
        self._release_identity()
        log.info("exiting (programs and maps stay loaded)")

    def _check_view(self):
        """When idle: the SB view against the server (controller/db/viewcheck.py)."""
        before = self.viewcheck.status()
        try:
            self.viewcheck.poll()
        except Exception:   # noqa: BLE001 - a check must not take the chassis down
            log.exception("Southbound view check failed")
        if self.viewcheck.status() != before:
            self.status["view"] = self._view_summary
            self._save_status()

    def _view_summary(self):
        return summary(self.sb)

    def close(self):
        if self.heartbeat is not None:
            self.heartbeat.stop()
        for s in (self.sb, self.ovs):
            if s:
                s.close()
