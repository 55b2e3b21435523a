"""`ovnbpf bench scale`: many chassis against one Southbound, measured from both ends.

N lightweight chassis clients follow a real central (NB, SB, northd). Each client is the
product's own DB edge (`controller/db/southbound.py`: the monitor conditions a controller
derives from its VIF's related datapaths, monitor_cond_since, its Chassis, Encap and
Chassis_Private rows, its port claim) without a datapath. The SB is laid out as

  standalone  one ovsdb-server
  raft        a 3-member Raft cluster; clients spread over the members
  relay       one ovsdb-server behind relays (`relay:OVN_Southbound:<sb>`); clients spread
              over the relays

For each layout and N the figures are: the initial sync (server CPU seconds and RSS, bytes
per client, time until every client is synced), the fan-out of a change every chassis
sees (an other_config key of a Chassis row) and of one only a tenant's chassis see (an
ACL on its switch: bytes the others received for it), and the storm after the SB goes
away (standalone: the server restarted on its DB file; raft: the leader killed; relay:
the SB behind the relays restarted): bytes the clients received, time until each has
resumed, server CPU.

The topology is `tenants` routers with two switches each; client i has one VIF port on a
switch of tenant i % tenants, so its related datapaths are its tenant's three. Everything
talks over unix sockets in a temporary directory (Raft members over 127.0.0.1, as the
lab's central), and every process started is stopped by PID.
"""

import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from controller.db.southbound import Southbound
from topologies.lab.central import Central, free_port_base
from topologies.lab.proc import read_pidfile, run, stop_pids, wait_for
from controller.local_datapaths import related_datapaths

HELP = "N chassis clients vs a standalone, Raft or relayed SB: sync, fan-out, storms"
LAYOUTS = ("standalone", "raft", "relay")
MARK_CHASSIS = "bench-mark"      # a Chassis row no client owns: the fan-out probe
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def add_arguments(p):
    p.add_argument("--clients", default="50,100,200",
                   help="comma-separated client counts N (default 50,100,200)")
    p.add_argument("--layouts", default=",".join(LAYOUTS),
                   help=f"comma-separated SB layouts of {', '.join(LAYOUTS)} (default all)")
    p.add_argument("--tenants", type=int, default=0,
                   help="routers with two switches each (default: N / 4, at least 2)")
    p.add_argument("--relays", type=int, default=2, help="relays in the relay layout (2)")
    p.add_argument("--workers", type=int, default=0,
                   help="processes the clients run in (default: 2 per CPU, at most N)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds any one phase may take before the run gives up (300)")


# ---- the clients (run in worker processes) -------------------------------------------------

class Client:
    """One chassis as the SB sees it: conditions, own rows, one claimed port."""

    def __init__(self, name, remote, port, ip):
        self.name, self.port, self.ip = name, port, ip
        self.sb = Southbound(remote, name)
        self.sb.set_local(ifaces={port})
        self.registered = self.claimed = False
        self.synced_at = None          # the first time the view held the port and its flows
        self.resumed_at = None         # the last time a new session was settled again
        self.sessions = 0              # sessions seen settled
        self.seen = {}                 # probe name -> time first seen

    def poll(self, probes):
        changed = self.sb.run()
        if not self.sb.connected():
            return
        if not self.registered:
            self.sb.register_chassis("geneve", self.ip, hostname=self.name)
            self.registered = changed = True
        if not changed and self.sessions == self.sb.connections:
            return
        state = self.sb.snapshot()
        ports = state.ports
        self.sb.set_local(related_datapaths(ports, {self.port}), {self.port})
        mine = state.port_named(self.port)
        if mine is not None and not self.claimed:
            self.sb.set_claims({self.port})
            self.claimed = True
        settled = self.sb.conditions_settled() and mine is not None and any(
            mine.datapath in f.datapaths for f in state.flows)
        now = time.monotonic()
        if settled and self.sessions != self.sb.connections:
            self.sessions = self.sb.connections
            self.resumed_at = now
            if self.synced_at is None:
                self.synced_at = now
        for name, test in probes.items():
            if name not in self.seen and test(state):
                self.seen[name] = now

    def figures(self):
        return {"name": self.name, "synced_at": self.synced_at, "resumed_at": self.resumed_at,
                "rx_bytes": self.sb.rx_bytes(), "sessions": self.sb.connections,
                "member": self.sb.member(),
                "full_resyncs": self.sb.full_resyncs, "seen": dict(self.seen)}


def _probe(kind, value):
    if kind == "chassis":       # other_config:mark=value on the marker chassis
        return lambda s: any(c.name == MARK_CHASSIS and ("mark", value) in c.other_config
                             for c in s.chassis)
    if kind == "flow":          # a flow whose match names value
        return lambda s: any(value in f.match for f in s.flows)
    raise ValueError(kind)


def _worker(conn, specs):
    """Runs its clients until told to stop; answers the parent's commands between polls."""
    import ovs.poller
    clients = [Client(*spec) for spec in specs]
    probes = {}
    while True:
        while conn.poll():
            cmd, *args = conn.recv()
            if cmd == "stop":
                for c in clients:
                    c.sb.close()
                conn.send("stopped")
                return
            if cmd == "probe":
                name, kind, value = args
                probes[name] = _probe(kind, value)
            elif cmd == "figures":
                conn.send([c.figures() for c in clients])
        for c in clients:
            c.poll(probes)
        poller = ovs.poller.Poller()
        for c in clients:
            c.sb.idl.wait(poller)
        poller.fd_wait(conn.fileno(), ovs.poller.POLLIN)
        poller.timer_wait(100)
        poller.block()


class Fleet:
    """N clients in a few worker processes."""

    def __init__(self, remotes, n, tenants, workers):
        specs = [(f"sc{i}", remotes[i % len(remotes)], _port_name(i, tenants),
                  f"192.0.2.{i % 250 + 1}" if i < 250 else f"198.51.100.{i % 250 + 1}")
                 for i in range(n)]
        ctx = mp.get_context("fork")
        self.procs, self.conns = [], []
        for w in range(workers):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(child, specs[w::workers]), daemon=True)
            p.start()
            self.procs.append(p)
            self.conns.append(parent)

    def send(self, *cmd):
        for c in self.conns:
            c.send(cmd)

    def figures(self):
        self.send("figures")
        return [f for c in self.conns for f in c.recv()]

    def wait(self, done, timeout, what, interval=0.2, lagging=None):
        """Poll the clients' figures until done(figures); the last figures. On a timeout
        the error names the clients `lagging(figure)` picks, with their server and
        sessions, so a run that stalls says where."""
        got = {}

        def check():
            got["f"] = self.figures()
            return done(got["f"])
        try:
            wait_for(check, timeout, interval=interval, what=what)
        except TimeoutError as e:
            late = [x for x in got.get("f", ()) if lagging and lagging(x)]
            detail = "; ".join(f"{x['name']} on {x['member']} (sessions {x['sessions']}, "
                               f"{x['rx_bytes']} bytes)" for x in late[:5])
            raise TimeoutError(f"{e}: {len(late)} behind{': ' + detail if detail else ''}") from None
        return got["f"]

    def close(self):
        for c in self.conns:
            try:
                c.send(("stop",))
                c.poll(10) and c.recv()
            except (OSError, EOFError):
                pass
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()


def _port_name(i, tenants):
    return f"t{i % tenants}-p{i}"


# ---- the central ---------------------------------------------------------------------------

class SBLayout:
    """A central with its SB laid out one way: the servers to measure, the clients' remotes."""

    def __init__(self, layout, rundir, relays=2):
        self.layout, self.rundir, self.relay_count = layout, Path(rundir), relays
        cluster = 3 if layout == "raft" else 1
        self.central = Central(self.rundir, sb_cluster=cluster,
                               raft_port_base=free_port_base(cluster) if cluster > 1 else 6643)
        self.relays = [f"relay{i}" for i in range(1, relays + 1)] if layout == "relay" else []

    def start(self):
        self.central.start()
        for r in self.relays:
            run(["ovsdb-server", "--detach", "--no-chdir", f"--pidfile={self.rundir}/{r}.pid",
                 f"--unixctl={self.rundir}/{r}.ctl", f"--remote=punix:{self.rundir}/{r}.sock",
                 "-vconsole:off", "-vfile:info", f"--log-file={self.rundir}/{r}.log",
                 f"relay:OVN_Southbound:unix:{self.rundir}/sb.sock"])
        for r in self.relays:
            run(["ovsdb-client", "wait", f"unix:{self.rundir}/{r}.sock", "OVN_Southbound",
                 "connected"], timeout=30)

    def stop(self):
        stop_pids([read_pidfile(self.rundir / f"{r}.pid") for r in self.relays])
        self.central.stop()

    def remotes(self):
        """The remotes clients are spread over: each relay (one each), the Raft members
        (every client gets all of them, its own first, so a killed member's clients move),
        or the one SB."""
        if self.relays:
            return [f"unix:{self.rundir}/{r}.sock" for r in self.relays]
        members = self.central.sb_remote.split(",")
        return [",".join(members[k:] + members[:k]) for k in range(len(members))]

    def server_names(self):
        return [*self.central._sb_names(), *self.relays]

    def server_pids(self):
        return {n: read_pidfile(self.rundir / f"{n}.pid") for n in self.server_names()}

    def cpu_s(self, since=None):
        """CPU seconds of the SB servers (members and relays) running now; with `since`
        (an earlier cpu_by_pid()), only what they used after it (a restarted server's
        all of its)."""
        now = self.cpu_by_pid()
        since = since or {}
        return sum(cpu - since.get(pid, 0.0) for pid, cpu in now.items())

    def cpu_by_pid(self):
        return {p: _proc_cpu(p) for p in self.server_pids().values() if p}

    def rss_mb(self):
        return round(sum(_proc_rss(p) for p in self.server_pids().values() if p) / 2**20, 1)

    def storm(self):
        """Take the SB away as this layout loses it; -> (what, the member to bring back)."""
        c = self.central
        if self.layout == "standalone":
            c.restart_sb("sb")
            return "the SB restarted on its DB file", None
        if self.layout == "raft":
            leader = c.cluster_leader() or "sb1"
            c.kill_member(leader)
            return f"Raft leader {leader} killed", leader
        c.restart_sb("sb")
        return "the SB behind the relays restarted", None


def _proc_cpu(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _proc_rss(pid):
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def _populate(central, n, tenants):
    """Tenants' routers and switches, one VIF port per client, in one ovn-nbctl call."""
    cmds = []
    for t in range(tenants):
        cmds += [["lr-add", f"t{t}-lr"]]
        for s in range(2):
            ls, lrp = f"t{t}-ls{s}", f"t{t}-lr-ls{s}"
            mac = f"02:aa:{t >> 8:02x}:{t & 255:02x}:{s:02x}:01"
            cmds += [["ls-add", ls],
                     ["lrp-add", f"t{t}-lr", lrp, mac, f"10.{s}.{t % 250}.1/24"],
                     ["lsp-add", ls, f"{ls}-lr"],
                     ["lsp-set-type", f"{ls}-lr", "router"],
                     ["lsp-set-addresses", f"{ls}-lr", "router"],
                     ["lsp-set-options", f"{ls}-lr", f"router-port={lrp}"]]
    for i in range(n):
        t, s = i % tenants, (i // tenants) % 2
        host = i // tenants + 10
        mac = f"02:bb:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01"
        cmds += [["lsp-add", f"t{t}-ls{s}", _port_name(i, tenants)],
                 ["lsp-set-addresses", _port_name(i, tenants),
                  f"{mac} 10.{s}.{t % 250}.{host % 250}"]]
    args = []
    for c in cmds:
        args += ["--", *c]
    central.nbctl(*args[1:], timeout=300)
    central.nbctl("--wait=sb", "sync", timeout=300)
    central.sbctl("chassis-add", MARK_CHASSIS, "geneve", "203.0.113.250")


# ---- one run ---------------------------------------------------------------------------------

def _spread(values):
    values = sorted(values)
    if not values:
        return {}
    return {"min": values[0], "median": values[len(values) // 2], "max": values[-1]}


def measure(layout, n, tenants=0, relays=2, workers=0, timeout=300.0, log=print):
    """One layout, N clients: the figures (see the module's docstring)."""
    tenants = tenants or max(2, n // 4)
    workers = workers or max(1, min(n, 2 * (os.cpu_count() or 1)))
    out = {"layout": layout, "clients": n, "tenants": tenants, "workers": workers}
    with _layout(layout, relays) as sb:
        _populate(sb.central, n, tenants)
        out["sb_rows"] = _row_counts(sb.central)
        cpu0, t0 = sb.cpu_by_pid(), time.monotonic()
        fleet = Fleet(sb.remotes(), n, tenants, workers)
        try:
            log(f"[scale] {layout} N={n}: {workers} workers syncing")
            figs = fleet.wait(lambda f: all(x["synced_at"] for x in f), timeout,
                              f"{n} clients to sync with the {layout} SB",
                              lagging=lambda x: not x["synced_at"])
            out["sync"] = {
                "all_synced_s": round(max(x["synced_at"] for x in figs) - t0, 2),
                "server_cpu_s": round(sb.cpu_s(since=cpu0), 2),
                "server_rss_mb": sb.rss_mb(),
                "kb_per_client": _spread([round(x["rx_bytes"] / 1024, 1) for x in figs]),
            }
            out["fanout"] = _fanout(sb, fleet, n, tenants, timeout)
            out["storm"] = _storm(sb, fleet, n, timeout, log)
        finally:
            fleet.close()
    return out


@contextmanager
def _layout(layout, relays):
    rundir = Path(tempfile.mkdtemp(prefix=f"ovnbpf-scale-{layout}-"))
    sb = SBLayout(layout, rundir, relays)
    try:
        sb.start()
        yield sb
    finally:
        sb.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def _row_counts(central):
    out = {}
    for table in ("Logical_Flow", "Port_Binding", "Datapath_Binding", "Logical_DP_Group"):
        rows = central.sbctl("--bare", "--columns=_uuid", "list", table, timeout=120)
        out[table] = sum(1 for line in rows.splitlines() if line.strip())
    return out


def _fanout(sb, fleet, n, tenants, timeout):
    """A change every client sees, then one only tenant 0's clients see."""
    before = {x["name"]: x["rx_bytes"] for x in fleet.figures()}
    fleet.send("probe", "chassis", "chassis", "1")
    t0 = time.monotonic()
    sb.central.sbctl("set", "Chassis", MARK_CHASSIS, "other_config:mark=1")
    figs = fleet.wait(lambda f: all("chassis" in x["seen"] for x in f), timeout,
                      "every client to see the Chassis change", interval=0.05,
                      lagging=lambda x: "chassis" not in x["seen"])
    every = {"all_s": round(max(x["seen"]["chassis"] for x in figs) - t0, 3),
             "bytes_per_client": _spread([x["rx_bytes"] - before[x["name"]] for x in figs])}
    before = {x["name"]: x["rx_bytes"] for x in figs}
    token = "10.77.0.7"
    fleet.send("probe", "acl", "flow", token)
    t0 = time.monotonic()
    sb.central.nbctl("acl-add", "t0-ls0", "to-lport", "1000", f"ip4.src == {token}", "drop")
    mine = {x for x in range(n) if x % tenants == 0}
    names = {f"sc{i}" for i in mine}
    figs = fleet.wait(lambda f: all("acl" in x["seen"] for x in f if x["name"] in names),
                      timeout, "tenant 0's clients to see the ACL", interval=0.05,
                      lagging=lambda x: x["name"] in names and "acl" not in x["seen"])
    time.sleep(0.5)      # what the others get for it, if anything, has arrived by now
    figs = fleet.figures()
    tenant = {"clients": len(names),
              "all_s": round(max(x["seen"]["acl"] for x in figs if x["name"] in names) - t0, 3),
              "bytes_tenant_client": _spread([x["rx_bytes"] - before[x["name"]]
                                              for x in figs if x["name"] in names]),
              "bytes_other_client": _spread([x["rx_bytes"] - before[x["name"]]
                                             for x in figs if x["name"] not in names])}
    return {"chassis_row": every, "tenant_acl": tenant}


def _storm(sb, fleet, n, timeout, log):
    figs = fleet.figures()
    before = {x["name"]: (x["rx_bytes"], x["sessions"], x["resumed_at"]) for x in figs}
    on = {x["name"]: x["member"] for x in figs}
    cpu0 = sb.cpu_by_pid()
    t0 = time.monotonic()
    what, down = sb.storm()
    log(f"[scale] {sb.layout} N={n}: {what}")
    if sb.layout == "relay":
        # the clients keep their relay sessions: wait for the relays to be back on the SB,
        # then for a change made after it to reach every client
        for r in sb.relays:
            run(["ovsdb-client", "wait", f"unix:{sb.rundir}/{r}.sock", "OVN_Southbound",
                 "connected"], timeout=60)
        fleet.send("probe", "after", "chassis", "2")
        sb.central.sbctl("set", "Chassis", MARK_CHASSIS, "other_config:mark=2", timeout=60)
        figs = fleet.wait(lambda f: all("after" in x["seen"] for x in f), timeout,
                          "every client to see a change after the SB restart",
                          lagging=lambda x: "after" not in x["seen"])
        resumed = [x["seen"]["after"] for x in figs]
    else:
        # the clients of the server that went: a standalone SB's all, a leader's own
        lost = {name for name, member in on.items()
                if sb.layout == "standalone" or member.endswith(f"/{down}.sock")}
        figs = fleet.wait(lambda f: all(x["sessions"] > before[x["name"]][1] and x["resumed_at"]
                                        and x["resumed_at"] != before[x["name"]][2]
                                        for x in f if x["name"] in lost), timeout,
                          f"the clients to resume after: {what}")
        resumed = [x["resumed_at"] for x in figs if x["sessions"] > before[x["name"]][1]]
    cpu = sb.cpu_s(since=cpu0)
    moved_n = sum(1 for x in figs if x["sessions"] > before[x["name"]][1])
    rx = [x["rx_bytes"] - before[x["name"]][0] for x in figs]
    out = {"what": what, "clients_reconnected": moved_n,
           "all_resumed_s": round(max(resumed) - t0, 2) if resumed else 0.0,
           "bytes_total_kb": round(sum(rx) / 1024, 1),
           "bytes_per_reconnected_client": _spread([r for r, x in zip(rx, figs)
                                                    if x["sessions"] > before[x["name"]][1]]),
           "full_resyncs": sum(x["full_resyncs"] for x in figs),
           "server_cpu_s": round(cpu, 2)}
    if down:
        sb.central.start_sb_member(down)
    return out


def bench(args):
    layouts = [s for s in args.layouts.split(",") if s]
    for layout in layouts:
        if layout not in LAYOUTS:
            raise SystemExit(f"bench scale: layout {layout!r}: one of {', '.join(LAYOUTS)}")
    counts = [int(x) for x in args.clients.split(",") if x]
    runs = []
    for n in counts:
        for layout in layouts:
            runs.append(measure(layout, n, args.tenants, args.relays, args.workers,
                                args.timeout, log=lambda m: print(m, file=sys.stderr, flush=True)))
    return {"runs": runs}
