"""The controller's main loop: local OVS DB + Southbound in, eBPF datapath state out.

Each iteration:
  1. read the local config (system-id, ovn-remote, encap) and VIFs (iface-id Interfaces);
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
import time
from dataclasses import dataclass
from pathlib import Path

import ovs.poller

from ..db.local_ovs import LocalOvs
from ..db.southbound import Southbound
from ..punt.event import inject_header
from ..punt.handler import PuntHandler
from . import desired as D
from .pipeline import PipelineBuilder
from datapath.chassis import ChassisDatapath, Group, Local, Patch, Remote, Tunnel

log = logging.getLogger("ovnbpf.controller")


def device_holding(ip):
    """The device in this namespace that carries `ip` (the underlay uplink)."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=2):
            if a.get_attr("IFA_ADDRESS") == ip:
                return ipr.get_links(a["index"])[0].get_attr("IFLA_IFNAME")
    return None


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
    /sys is the root namespace's)."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


@dataclass
class Counters:
    iterations: int = 0
    recompiles: int = 0
    map_updates: int = 0
    claims: int = 0
    nb_cfg: int = 0


class Controller:
    def __init__(self, ovs_db, pin_dir=None, uplink=None, status_file=None, run_dir=None):
        if ovs_db.startswith("unix:") and not Path(ovs_db[5:]).exists():
            raise RuntimeError(f"the local OVS DB socket {ovs_db[5:]} does not exist "
                               "(is ovsdb-server running, and is --ovs-db right?)")
        self.ovs = LocalOvs(ovs_db)
        self.ovs_db = ovs_db
        self.pin_dir = pin_dir
        self.uplink = uplink
        self.status_file = Path(status_file) if status_file else None
        self.run_dir = run_dir
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
        self.punts = PuntHandler()             # bound to each step's snapshot and cookies
        self.punt_events: list[bytes] = []
        self.punt_status = {}

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

    def start(self):
        self._wait(self.ovs.synced, f"the local OVS DB {self.ovs_db}")
        self.cfg = self.ovs.config()
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
        self._wait(self.sb.connected, f"the Southbound at {self.cfg.remote}")
        log.info("connected to the Southbound")
        self.sb.register_chassis(self.cfg.encap_type, self.cfg.encap_ip,
                                 hostname=self.cfg.hostname or self.cfg.system_id)
        pin_dir = self.pin_dir or f"/sys/fs/bpf/ovnbpf/{self.cfg.system_id}"
        self.pin_dir = pin_dir
        self.datapath = ChassisDatapath(pin_dir)
        uplink = self.uplink or device_holding(self.cfg.encap_ip)
        if uplink is None:
            raise RuntimeError(f"no device here carries the encap IP {self.cfg.encap_ip}")
        self.datapath.attach_uplink(uplink)
        log.info("datapath pinned at %s, underlay %s", pin_dir, uplink)
        self.datapath.open_punts(self.punt_events.append)
        run_dir = Path(self.run_dir or f"/run/ovnbpf/{self.cfg.system_id}")
        self.pipeline = PipelineBuilder(self.datapath, run_dir / "pipelines")

    # ---- one iteration ---------------------------------------------------------------

    def _report(self, problems):
        for uuid, reason in problems:
            if (uuid, reason) not in self.reported:
                self.reported.add((uuid, reason))
                log.warning("row %s: %s", uuid, reason)

    def seqnos(self):
        return (self.ovs.idl.change_seqno, self.sb.idl.change_seqno)

    def step(self):
        self.counters.iterations += 1
        # what this step reads; changes that arrive while it runs (our own commits process
        # server messages too) leave the seqnos different, so the loop steps again
        self.seen = self.seqnos()
        cfg = self.ovs.config()
        present = device_names()
        devices = {v.iface_id: v.name for v in cfg.vifs if v.name in present}
        state = self.sb.snapshot()
        want = D.compute(state, cfg.system_id, devices, self.ids)
        self.sb.set_local(want.local_datapaths, set(devices))
        self._report(want.problems)

        me = self.ids.ids.get(cfg.system_id, 0)
        self.datapath.set_config(me, cfg.encap_ip)
        for dev in sorted(set(want.vifs) - set(self.attached)):
            self.attached[dev] = self.datapath.attach_vif(dev)
            log.info("VIF %s attached (ifindex %d)", dev, self.attached[dev])
        for dev in sorted(set(self.attached) - set(want.vifs)):
            if dev in present:
                self.datapath.detach_vif(dev)
            del self.attached[dev]
            log.info("VIF %s detached", dev)

        compiled = self.pipeline.compile(state, cfg.system_id, want)
        self._report(compiled.problems)
        self.unresolved = False
        self.datapath.set_tunnels({cid: self._tunnel(ip) for cid, ip in want.tunnels.items()})
        self.datapath.set_lports({k: self._lport(v) for k, v in want.lports.items()})
        self.datapath.set_vifs({self.attached[dev]: key for dev, key in want.vifs.items()})
        self.datapath.set_mcast({k: Group(g.local_ports, g.remote_chassis, g.wire_key)
                                 for k, g in want.mcast.items()})
        self.punts.update(state, compiled.cookies)
        if self.pipeline.install(compiled):
            self.counters.recompiles += 1
            log.info("pipeline %s installed: %s", compiled.shape_hash[:12],
                     self.pipeline.last_install)
        else:
            self.counters.map_updates += 1

        if want.claims != self.claims:
            self.sb.set_claims(want.claims)
            self.claims = want.claims
            self.counters.claims += 1
            log.info("claimed %s", ", ".join(sorted(want.claims)) or "nothing")
        if state.nb_cfg != self.acked:
            self.sb.ack_nb_cfg(state.nb_cfg)
            self.acked = state.nb_cfg
            self.counters.nb_cfg = state.nb_cfg
        self._write_status(cfg, state, want, compiled)

    def _write_status(self, cfg, state, want, compiled):
        """What `ovnbpf ctl` shows besides the live counters it reads from the maps."""
        dp_names = {d.uuid: d.name for d in state.datapaths}
        self.status = {
            "chassis": cfg.system_id, "pid": os.getpid(), "pin_dir": self.pin_dir,
            "sb": {"remote": cfg.remote, "connected": self.sb.connected(),
                   "rx_bytes": self.sb.rx_bytes(), "connections": self.sb.connections},
            "counters": dict(vars(self.counters)),
            "pipeline": {"shape_hash": self.pipeline.active_hash,
                         "coverage": {k: v for k, v in compiled.coverage.items()
                                      if k != "unsupported"},
                         "not_compiled": compiled.coverage.get("unsupported", []),
                         "cookies": {str(c): u for c, u in compiled.cookies.items()},
                         **self.pipeline.last_install},
            "local_datapaths": sorted(dp_names.get(u, u) for u in want.local_datapaths),
            "vifs": {dev: list(k) for dev, k in sorted(want.vifs.items())},
            "tunnels": {str(cid): ip for cid, ip in sorted(want.tunnels.items())},
            "chassis_ids": dict(sorted(self.ids.ids.items())),
            "problems": [{"uuid": u, "reason": r} for u, r in want.problems + compiled.problems],
            "punt": self.punt_status,
        }
        if self.status_file:
            tmp = self.status_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.status, indent=1, default=str))
            tmp.replace(self.status_file)

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
            if self.status_file:
                tmp = self.status_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.status, indent=1, default=str))
                tmp.replace(self.status_file)

    def _lport(self, where):
        if isinstance(where, D.Local):
            return Local(self.attached[where.device])
        if isinstance(where, D.Remote):
            return Remote(where.chassis_id)
        return Patch(where.peer_dp, where.peer_port)

    def _tunnel(self, ip):
        """bpf_fib_lookup finds the next hop once the kernel knows the neighbour; until
        then the datapath uses the MAC we give here, so resolve it now."""
        mac = self.neigh.get(ip) or neighbour_mac(ip)
        if mac:
            self.neigh[ip] = mac
        else:
            self.unresolved = True
        return Tunnel(ip, dmac=mac)

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
        while not self.stopping:
            self.ovs.run()
            self.sb.run()
            try:
                self.serve_punts()
            except Exception:   # noqa: BLE001 - the slow path must not take the chassis down
                log.exception("punt handling failed")
            if self.seqnos() != self.seen and self.sb.connected():
                try:
                    self.step()
                except Exception:   # one bad iteration must not take the chassis down
                    log.exception("iteration failed; retrying in a second")
                    self.seen = None
                    self._block(1000)
                if self.unresolved:
                    self.seen = None
                    self._block(100)
                continue
            self._block(1000)
        log.info("exiting (programs and maps stay loaded)")

    def close(self):
        for s in (self.sb, self.ovs):
            if s:
                s.close()
