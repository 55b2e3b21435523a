"""Carries a soak plan (topologies/lab/soak.py) out against a running lab and measures it.

Three threads beside the pings: the churn (each change one real ovn-nbctl transaction, at
its planned time), the faults (one at a time: inject, hold, recover, then wait for every
chassis to catch up with the NB: that moment ends the fault's window), and a sampler
(every second: RSS and open fds of each chassis' daemons from /proc, and an ovnbpf
chassis' status file: compile counters, flows in view, and whether the SB connection it
reports exists: its established TCP sockets, from `ss` in its namespace).

Traffic: one `ping -D -O` per flow, at 1/interval pps, started before the churn and
stopped after it: a same-switch pair on one chassis, a same-switch pair across chassis, a
routed pair across chassis (when the lab has a router). Each packet's send time is placed
in a fault window or outside all of them (soak.attribute).
"""
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from controller.incremental import CHANGE_PATH, NOT_CHANGE_PATHS

from . import soak, topology
from .central import SB_PORT
from .proc import CommandError, alive, read_pidfile, run, wait_for

SYNC_TIMEOUT = 30      # seconds a fault's recovery may take to reach every chassis
WARMUP = 5             # seconds after its fault window a restarted process' RSS/fds count


BASES = {"ovnbpf": ("ebpf", {}), "ovs": ("two-chassis", {}), "mixed": ("mixed", {})}


def soak_topology(kind, out_dir, name, sb_cluster=3):
    """The lab a soak runs in: two chassis of `kind` (ovnbpf: ebpf.yaml, ovs: the
    two-chassis reference; mixed: mixed.yaml), a Raft SB of `sb_cluster` members."""
    base, kinds = BASES[kind]
    path = topology.variant(base, out_dir, name, kinds)
    data = yaml.safe_load(path.read_text())
    data["sb_cluster"] = sb_cluster
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass(frozen=True)
class Flow:
    name: str
    src: str            # VM
    dst_ip: str


def traffic_flows(topo):
    """Same-switch same-chassis, same-switch cross-chassis, routed cross-chassis pairs."""
    vms = list(topo.vms)
    flows = []
    picks = (("local", lambda a, b: a.switch == b.switch and a.chassis == b.chassis),
             ("cross", lambda a, b: a.switch == b.switch and a.chassis != b.chassis),
             ("routed", lambda a, b: a.switch != b.switch and a.chassis != b.chassis
              and topo.routers))
    for label, ok in picks:
        pair = next(((a, b) for a in vms for b in vms if a is not b and ok(a, b)), None)
        if pair:
            flows.append(Flow(f"{label} {pair[0].name}->{pair[1].name}", pair[0].name,
                              str(pair[1].ip.ip)))
    return flows


class Soak:
    def __init__(self, lab, plan, out_dir, interval=0.02, log=print):
        self.lab = lab
        self.plan = plan
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.interval = interval
        self.log = log
        lp = lab.plan()
        self.topo = lp.topo
        self.nodes = {n.name: n for n in lab.nodes()}
        self.central = lab.central()
        self.flows = traffic_flows(self.topo)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.applied = []        # (change, epoch applied, error or None)
        self.windows = []        # (fault, soak.Window, note or None)
        self.samples = []        # dict per sample
        self.errors = []         # harness errors (a thread died)
        self.freezes = []        # (fault, SIGSTOP time, SIGCONT time)
        self.end_note = None     # the chassis did not catch up at the end
        self.t0 = None

    # ---- the run ---------------------------------------------------------------------------

    def run(self):
        pings = {}
        threads = []
        try:
            for f in self.flows:
                pings[f.name] = self._start_ping(f)
            self.t0 = time.time() + 2.0          # traffic first, then churn and faults
            for target in (self._sampler, self._churn, self._faults):
                t = threading.Thread(target=self._guard, args=(target,), daemon=True)
                t.start()
                threads.append(t)
            for t in threads[1:]:
                t.join()
            time.sleep(max(0.0, self.t0 + self.plan.duration - time.time()))
            try:
                self._sync()
            except (CommandError, subprocess.TimeoutExpired) as e:
                self.end_note = ("chassis did not catch up with the NB within "
                                 f"{SYNC_TIMEOUT} s: {str(e).strip().splitlines()[-1][:200]}")
            time.sleep(2.0)                     # a quiet tail, with traffic
        finally:
            self.stop.set()
            stopped = time.time()
            for proc in pings.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc in pings.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for t in threads:
                t.join(timeout=10)
        return self._figures(stopped - 1.5)     # the last 1.5 s may still be in flight

    def _guard(self, target):
        try:
            target()
        except Exception as e:   # noqa: BLE001 - reported as a harness error, never hidden
            self.errors.append(f"{target.__name__}: {type(e).__name__}: {e}")
            self.log(f"[soak] {target.__name__} failed: {e}")

    def _at(self, offset):
        """Sleep until t0 + offset (or the stop)."""
        delay = self.t0 + offset - time.time()
        if delay > 0:
            self.stop.wait(delay)
        return not self.stop.is_set()

    def _rel(self, epoch):
        return round(epoch - self.t0, 2)

    # ---- traffic ---------------------------------------------------------------------------

    def _start_ping(self, flow):
        out = open(self.out / f"ping-{flow.src}-{flow.dst_ip}.txt", "w")
        ns = self.lab.plan().vm_netns(flow.src)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-D", "-O", "-i",
                                 str(self.interval), "-W", "1", flow.dst_ip],
                                stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return proc

    # ---- churn -----------------------------------------------------------------------------

    def _churn(self):
        with open(self.out / "changes.log", "w") as changes_log:
            for change in self.plan.changes:
                if not self._at(change.at):
                    return
                t = time.time()
                try:
                    self.central.nbctl(*change.argv, timeout=30)
                    err = None
                except (CommandError, subprocess.TimeoutExpired) as e:
                    err = str(e).strip().splitlines()[-1][:300]
                with self.lock:
                    self.applied.append((change, t, err))
                line = f"+{self._rel(t):7.2f}s {change.describe()}" + (f" -> FAILED: {err}" if err else "")
                changes_log.write(line + "\n")
                changes_log.flush()

    # ---- faults ----------------------------------------------------------------------------

    def _faults(self):
        for fault in self.plan.faults:
            if not self._at(fault.at):
                return
            start = time.time()
            note = None
            self.log(f"[soak] +{self._rel(start):.1f}s {fault.describe()}")
            try:
                getattr(self, f"_{fault.kind}")(fault)
                self._sync()
            except (CommandError, TimeoutError, subprocess.TimeoutExpired) as e:
                note = f"recovery not confirmed: {str(e).strip().splitlines()[-1][:300]}"
            end = time.time()
            self.log(f"[soak] +{self._rel(end):.1f}s {fault.describe()} over"
                     + (f": {note}" if note else ""))
            with self.lock:
                self.windows.append((fault, soak.Window(fault.describe(), start, end), note))

    def _sync(self):
        """Every chassis has caught up with the NB as it is now."""
        self.central.nbctl("--wait=hv", f"--timeout={SYNC_TIMEOUT}", "sync",
                           timeout=SYNC_TIMEOUT + 10)

    def _controller_kill(self, fault):
        node = self.nodes[fault.target]
        daemon = "ovnbpf-controller" if node.kind == "ovnbpf" else "ovn-controller"
        pid = read_pidfile(node.pidfile(daemon))
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not alive(pid), timeout=10, what=f"{daemon} {pid} to die")
        node.pidfile(daemon).unlink(missing_ok=True)
        time.sleep(fault.hold)
        if node.kind == "ovnbpf":
            node.start_controller()
            new = read_pidfile(node.pidfile(daemon))
            wait_for(lambda: (s := _status(node)) and s.get("pid") == new
                     and s["sb"]["connected"], timeout=SYNC_TIMEOUT, interval=0.1,
                     what=f"the restarted controller of {node.name} to report")
        else:
            node.start_ovn_controller()

    def _controller_start_sb_down(self, fault):
        """Freeze the SB, kill -9 the controller, start it again while the SB still does
        not answer, and let the SB answer only after `hold` seconds: the new controller
        must keep trying (ovn-controller does) and then take over."""
        node = self.nodes[fault.target]
        daemon = "ovnbpf-controller" if node.kind == "ovnbpf" else "ovn-controller"
        pids = [read_pidfile(self.central.rundir / f"{n}.pid") for n in self._sb_names()]
        started = {}

        def start():             # --detach returns once the controller is up: maybe late
            try:
                node.start_controller() if node.kind == "ovnbpf" else node.start_ovn_controller()
                started["ok"] = True
            except (CommandError, subprocess.TimeoutExpired) as e:
                started["error"] = str(e).strip().splitlines()[-1][:300]

        stopped = time.time()
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            pid = read_pidfile(node.pidfile(daemon))
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid), timeout=10, what=f"{daemon} {pid} to die")
            node.pidfile(daemon).unlink(missing_ok=True)
            starter = threading.Thread(target=start, daemon=True)
            starter.start()
            time.sleep(fault.hold)
        finally:
            for p in pids:
                os.kill(p, signal.SIGCONT)
            with self.lock:
                self.freezes.append((fault, stopped, time.time()))
        starter.join(timeout=SYNC_TIMEOUT + 60)
        if "error" in started:
            raise CommandError([f"{daemon} start"], 1, f"the controller started while the SB "
                               f"did not answer gave up: {started['error']}")
        new = read_pidfile(node.pidfile(daemon))
        if node.kind == "ovnbpf":
            wait_for(lambda: (s := _status(node)) and s.get("pid") == new
                     and s["sb"]["connected"], timeout=SYNC_TIMEOUT, interval=0.1,
                     what=f"the restarted controller of {node.name} to report")

    def _member_used(self, node):
        """The SB member (sbN) `node`'s controller is connected to, from its sockets."""
        out = run(["ss", "-Htn", "state", "established"], netns=node.netns)
        ports = {int(m.group(1)) for m in re.finditer(r":(\d+)\s*$", out, re.M)}
        for i in range(self.topo.sb_cluster):
            if SB_PORT + i in ports:
                return f"sb{i + 1}"
        return "sb1"

    def _sb_restart(self, fault):
        if self.topo.sb_cluster == 1:
            name = "sb"
        else:
            name = self._member_used(self.nodes[sorted(self.nodes)[0]])
        self.central.kill_member(name)
        time.sleep(fault.hold)
        self.central.start_sb_member(name)
        if self.topo.sb_cluster > 1:
            self._wait_rejoined(name)

    def _sb_names(self):
        return ["sb"] if self.topo.sb_cluster == 1 else \
            [f"sb{i}" for i in range(1, self.topo.sb_cluster + 1)]

    def _sb_freeze(self, fault):
        pids = [read_pidfile(self.central.rundir / f"{n}.pid") for n in self._sb_names()]
        stopped = time.time()
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(fault.hold)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            with self.lock:
                self.freezes.append((fault, stopped, time.time()))

    def _sb_outage(self, fault):
        names = self._sb_names()
        for name in names:
            self.central.kill_member(name)
        time.sleep(fault.hold)
        for name in names:
            self.central.start_sb_member(name)
        if self.topo.sb_cluster > 1:
            for name in names:
                self._wait_rejoined(name)

    def _northd_stop(self, fault):
        self.central.stop_northd()
        time.sleep(fault.hold)
        self.central.start_northd()

    def _raft_leader_kill(self, fault):
        leader = wait_for(self.central.cluster_leader, timeout=15, interval=0.1, what="a leader")
        self.central.kill_member(leader)
        wait_for(lambda: self.central.cluster_leader() not in (None, leader), timeout=15,
                 interval=0.1, what="a new leader")
        time.sleep(fault.hold)
        self.central.start_sb_member(leader)
        self._wait_rejoined(leader)

    def _wait_rejoined(self, name):
        def rejoined():
            try:
                out = run(["ovs-appctl", "-t", f"{self.central.rundir}/{name}.ctl",
                           "cluster/status", "OVN_Southbound"], timeout=5)
            except (CommandError, subprocess.TimeoutExpired):
                return False
            return "Role: follower" in out or "Role: leader" in out
        wait_for(rejoined, timeout=SYNC_TIMEOUT, interval=0.1, what=f"{name} to rejoin the cluster")

    # ---- sampling --------------------------------------------------------------------------

    def _sampler(self):
        while not self.stop.is_set():
            t = time.time()
            for node in self.nodes.values():
                for daemon in node.daemon_names():
                    if daemon == "ovsdb-server":
                        continue
                    pid = read_pidfile(node.pidfile(daemon))
                    rss, fds = _proc(pid)
                    if rss is None:
                        continue
                    sample = {"t": t, "proc": f"{node.name}/{daemon}", "pid": pid,
                              "rss_kib": rss, "fds": fds}
                    if daemon == "ovnbpf-controller":
                        st = _status(node)
                        if not (st and st.get("pid") == pid):
                            continue      # still starting: its RSS and fds are not settled
                        p = st.get("pipeline", {})
                        sample.update(compiles=p.get("compiles"),
                                      flows=p.get("coverage", {}).get("total"),
                                      connected=st["sb"]["connected"],
                                      member=st["sb"].get("member"),
                                      sockets=_sb_sockets(node))
                    with self.lock:
                        self.samples.append(sample)
            self.stop.wait(1.0)

    # ---- figures ---------------------------------------------------------------------------

    def _figures(self, until):
        windows = [w for _, w, _ in self.windows]
        faults = {f.describe(): {"kind": f.kind, "target": f.target,
                                 "start_s": self._rel(w.start), "end_s": self._rel(w.end),
                                 "note": note, "sent": {}, "lost": {}}
                  for f, w, note in self.windows}
        traffic = {}
        for flow in self.flows:
            path = self.out / f"ping-{flow.src}-{flow.dst_ip}.txt"
            packets, transmitted = soak.parse_ping(path.read_text(), self.interval)
            phases, bursts = soak.attribute(packets, windows, until)
            for fig, w in zip(faults.values(), windows):
                fig["sent"][flow.name], fig["lost"][flow.name] = phases[w.name]
            traffic[flow.name] = {
                "sent": sum(p[0] for p in phases.values()),
                "lost": sum(p[1] for p in phases.values()),
                "outside": {"sent": phases["outside"][0], "lost": phases["outside"][1]},
                "bursts": [self._burst(b) for b in bursts[:10]],
                "bursts_total": len(bursts)}
        applied = sorted(self.applied, key=lambda a: a[1])
        failed = [a for a in applied if a[2]]
        return {
            "kind": ",".join(sorted({n.kind for n in self.nodes.values()})),
            "lab": self.lab.name, "seed": self.plan.seed, "duration_s": self.plan.duration,
            "pps_per_flow": round(1 / self.interval),
            "changes": {"planned": len(self.plan.changes), "applied": len(applied) - len(failed),
                        "failed": len(failed),
                        "by_op": dict(sorted(Counter(c.op for c, _, e in applied if not e).items())),
                        "failures": [f"{c.describe()}: {e}" for c, _, e in failed[:5]],
                        "log": str(self.out / "changes.log")},
            "faults": faults,
            "traffic": traffic,
            "processes": self._processes(),
            "compiles": self._compiles(),
            "logs": self._logs(),
            "status_lies": self._status_lies(),
            "end_of_soak": self.end_note,
            "harness_errors": list(self.errors),
        }

    def _burst(self, burst):
        first, last, count, carried = burst
        before = [c for c, t, _ in sorted(self.applied, key=lambda a: a[1]) if t <= first]
        culprit = f"; last change before it {before[-1].describe()[:160]}" if before else ""
        if carried:
            culprit = f"; the loss of {carried} goes on after its window" + culprit
        return f"+{self._rel(first):.2f}..+{self._rel(last):.2f} s: {count} lost{culprit}"

    def _processes(self):
        out = {}
        by_proc = {}
        for s in self.samples:
            by_proc.setdefault(s["proc"], []).append(s)
        for name, samples in sorted(by_proc.items()):
            # per process incarnation: a restarted controller starts a new series
            runs = {}
            for s in samples:
                runs.setdefault(s["pid"], []).append(s)
            first_pid = samples[0]["pid"]
            # a process (re)started during the soak counts from the end of the fault window
            # it started in (start-up: programs loaded, maps opened), plus WARMUP seconds
            settled = {pid: r if pid == first_pid else
                       [s for s in r if s["t"] >= self._settled_at(r[0]["t"])]
                       for pid, r in runs.items()}
            longest = max(settled.values(), key=len) or samples
            rss = [s["rss_kib"] for s in longest]
            fds = [s["fds"] for s in longest]
            step = max(1, len(longest) // 10)
            out[name] = {
                "pids": list(runs),
                "over_time": [f"+{self._rel(s['t']):.0f}s pid {s['pid']} "
                              f"rss {s['rss_kib'] / 1024:.1f} MiB fds {s['fds']}"
                              for s in samples[::step] + samples[-1:]],
                "longest_run": {"pid": longest[0]["pid"], "samples": len(longest),
                                "rss_mib_first_last_third": _mib(soak.thirds(rss)),
                                "fds_first_last_third": soak.thirds(fds)},
                "problems": soak.growth_problems(f"{name} (pid {longest[0]['pid']})", rss, fds)}
        return out

    def _status_lies(self):
        """Spans where an ovnbpf chassis' status file said it was connected to an SB
        member while it had no established TCP connection to it (or the reverse), for
        longer than soak.STATUS_GRACE seconds: [(chassis, first, last, what)]."""
        spans = {}
        out = []
        # a frozen SB keeps its sockets established: judged apart, below
        frozen = [(a, b + soak.STATUS_GRACE) for _, a, b in self.freezes]
        for s in self.samples:
            if "sockets" not in s or any(a <= s["t"] <= b for a, b in frozen):
                continue
            hv = s["proc"].split("/")[0]
            member = (s.get("member") or "").split(":", 1)[-1]     # tcp:IP:PORT -> IP:PORT
            actual = member in s["sockets"]
            if s["connected"] == actual:
                span = spans.pop(hv, None)
                if span and span[1] - span[0] > soak.STATUS_GRACE:
                    out.append((hv, *span))
                continue
            what = (f"connected: {str(s['connected']).lower()} to {s.get('member')}, "
                    f"established: {', '.join(sorted(s['sockets'])) or 'none'}")
            span = spans.get(hv)
            if span and span[3] != s["connected"]:      # the other way round: a new span
                if span[1] - span[0] > soak.STATUS_GRACE:
                    out.append((hv, *span))
                span = None
            spans[hv] = (span[0] if span else s["t"], s["t"], span[2] if span else what,
                         s["connected"])
        out.extend((hv, *span) for hv, span in spans.items() if span[1] - span[0] > soak.STATUS_GRACE)
        lies = [{"chassis": hv, "from_s": self._rel(a), "to_s": self._rel(b), "said": what,
                 "during": self._during(a, b)} for hv, a, b, what, _ in out]
        # a frozen SB: the sockets stay up, but the status must say disconnected once the
        # inactivity probe has had its time
        for fault, stopped, resumed in self.freezes:
            for hv in sorted({s["proc"].split("/")[0] for s in self.samples if "sockets" in s}):
                said = [s for s in self.samples if "sockets" in s and s["proc"].startswith(hv + "/")
                        and stopped + soak.FREEZE_DETECT <= s["t"] <= resumed - 0.5]
                wrong = [s for s in said if s["connected"]]
                if wrong:
                    lies.append({"chassis": hv, "from_s": self._rel(wrong[0]["t"]),
                                 "to_s": self._rel(wrong[-1]["t"]),
                                 "said": f"connected: true to {wrong[0].get('member')} in "
                                         f"{len(wrong)} of {len(said)} samples more than "
                                         f"{soak.FREEZE_DETECT:.0f} s into a frozen SB",
                                 "during": fault.describe()})
        return lies

    def _during(self, a, b):
        names = [w.name for _, w, _ in self.windows if w.start - soak.BEFORE <= b and a <= w.end + soak.AFTER]
        return ", ".join(names) or "outside fault windows"

    def _settled_at(self, started):
        ends = [w.end for _, w, _ in self.windows if w.start <= started <= w.end + soak.AFTER]
        return max(ends, default=started) + WARMUP

    def _compiles(self):
        out = {}
        last = {}
        for s in self.samples:
            if not s.get("compiles"):
                continue
            hv = s["proc"].split("/")[0]
            fig = out.setdefault(hv, {"full": 0, "delta": 0, "full_by_reason": Counter(),
                                      "full_by_kind": Counter(), "change_path_reasons": [],
                                      "flows_in_view": []})
            c = s["compiles"]
            prev = last.get(hv)
            base = prev[1] if prev and prev[0] == s["pid"] else {"full": 0, "delta": 0}
            fig["full"] += c["full"] - base["full"]
            fig["delta"] += c["delta"] - base["delta"]
            if c["full"] > base["full"]:
                # the status file keeps only the last reason: several full compiles between
                # two samples are all put down to it
                fig["full_by_reason"][c.get("last_full")] += c["full"] - base["full"]
            # by kind (incremental.NOT_CHANGE_PATHS) the status counts every one of them
            kinds, before = c.get("full_by_kind") or {}, base.get("full_by_kind") or {}
            for kind, n in kinds.items():
                if n > before.get(kind, 0):
                    fig["full_by_kind"][kind] += n - before.get(kind, 0)
                    if kind == CHANGE_PATH:
                        why = (c.get("last_full_by_kind") or {}).get(kind)
                        if why not in fig["change_path_reasons"]:
                            fig["change_path_reasons"].append(why)
            last[hv] = (s["pid"], c)
            if s.get("flows") is not None:
                fig["flows_in_view"].append(s["flows"])
        for fig in out.values():
            flows = fig.pop("flows_in_view")
            fig["full_by_reason"] = dict(fig["full_by_reason"])
            fig["full_by_kind"] = dict(fig["full_by_kind"])
            fig["flows_in_view"] = ({"first": flows[0], "min": min(flows), "max": max(flows),
                                     "last": flows[-1]} if flows else {})
        return out

    def _logs(self):
        out = {}
        for node in self.nodes.values():
            daemon = "ovnbpf-controller" if node.kind == "ovnbpf" else "ovn-controller"
            path = node.rundir / f"{daemon}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            problems = soak.log_problems(text)
            out[node.name] = {"log": str(path), "kind": node.kind,
                              "warn_or_above": soak.warn_lines(text),
                              "without_uuid": len(problems),
                              "examples": [f"{line[:200]}" + (f" (+{n - 1} lines)" if n > 1 else "")
                                           for line, n in _distinct(problems)[:5]]}
        return out


def _distinct(problems):
    seen, out = set(), []
    for line, n in problems:
        key = re.sub(r"\d+", "N", line)[:80]
        if key not in seen:
            seen.add(key)
            out.append((line, n))
    return out


def _mib(pair):
    return None if pair is None else tuple(round(v / 1024, 1) for v in pair)


def _proc(pid):
    """(RSS KiB, open fds) of a live pid, or (None, None)."""
    if not pid:
        return None, None
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None, None


def _sb_sockets(node):
    """IP:PORT of the SB members `node` has an established TCP connection to."""
    try:
        out = run(["ss", "-Htn", "state", "established"], netns=node.netns, timeout=5)
    except (CommandError, subprocess.TimeoutExpired):
        return set()
    peers = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            ip, _, port = fields[3].rpartition(":")
            if port.isdigit() and SB_PORT <= int(port) < SB_PORT + 10:
                peers.add(f"{ip}:{port}")
    return peers


def _status(node):
    try:
        return json.loads(node.status_file.read_text())
    except (OSError, ValueError):
        return None


def judge(fig, fault_bound=0, check_logs=True):
    """What a soak run violated, each naming the phase, fault and figures. fault_bound:
    packets a flow may lose within one fault window (None: not judged)."""
    out = []
    ch = fig["changes"]
    if ch["failed"]:
        out.append(f"churn: {ch['failed']} of {ch['planned']} NB changes failed (the soak's "
                   f"own model is wrong), first: {ch['failures'][0]}")
    if ch["applied"] + ch["failed"] < ch["planned"]:
        out.append(f"churn: only {ch['applied'] + ch['failed']} of {ch['planned']} changes ran")
    for flow, t in fig["traffic"].items():
        o = t["outside"]
        if o["lost"]:
            out.append(f"phase outside fault windows: {flow} lost {o['lost']} of {o['sent']} "
                       f"packets in {t['bursts_total']} bursts; first: {t['bursts'][0]}")
        if t["sent"] == 0:
            out.append(f"traffic: {flow} sent nothing")
    for name, f in fig["faults"].items():
        where = f"{name} [+{f['start_s']}..+{f['end_s']} s]"
        if f["note"]:
            out.append(f"{where}: {f['note']}")
        if fault_bound is None:
            continue
        for flow, lost in f["lost"].items():
            if lost > fault_bound:
                out.append(f"{where}: {flow} lost {lost} of {f['sent'][flow]} packets "
                           f"(bound {fault_bound})")
    for name, p in fig["processes"].items():
        out.extend(f"resources: {msg}" for msg in p["problems"])
    if check_logs:
        for hv, lg in fig["logs"].items():
            if lg["kind"] == "ovnbpf" and lg["without_uuid"]:
                out.append(f"log of {hv} ({lg['log']}): {lg['without_uuid']} of "
                           f"{lg['warn_or_above']} WARN/ERR entries name no UUID or object, "
                           f"e.g. {lg['examples'][0]}")
    for hv, c in fig.get("compiles", {}).items():
        n = c.get("full_by_kind", {}).get(CHANGE_PATH)
        if n:
            out.append(f"compiles of {hv}: {n} full compile(s) on a change path (a delta "
                       f"expected; allowed kinds: {', '.join(NOT_CHANGE_PATHS)}), reasons: "
                       + "; ".join(map(str, c["change_path_reasons"][:5])))
    for lie in fig.get("status_lies", []):
        out.append(f"status of {lie['chassis']} (+{lie['from_s']}..+{lie['to_s']} s, "
                   f"{lie['during']}): said {lie['said']}")
    if fig.get("end_of_soak"):
        out.append(f"end of soak: {fig['end_of_soak']}")
    out.extend(f"harness: {e}" for e in fig["harness_errors"])
    return out
