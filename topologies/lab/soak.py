"""The soak's pure logic: a seeded plan of NB churn and faults, and the judgement of what a
run measured. No I/O here: `topologies/lab/soakrun.py` carries a plan out against a lab.

The churn creates and removes switches, routers, router ports, logical ports, ACLs, load
balancers, address sets and port groups, all named with PREFIX and never attached to the
lab's own switches, routers or VM ports: the traffic VMs' datapaths must not notice it
(an ACL or LB on their switches would legitimately drop traffic while conntrack is not
implemented). Every change is one ovn-nbctl transaction; the model below keeps the plan
valid (a set is unreferenced before it is destroyed, ...), so every command must succeed.

The same seed, duration and options give the same plan, change for change.
"""
import itertools
import random
import re
import statistics
from dataclasses import dataclass, field

PREFIX = "sk"           # every NB object the churn makes; the lab's own names never start so

# sb_restart: one SB server (the member the first chassis uses) stopped and started again;
# sb_freeze: every SB server stopped (SIGSTOP) for longer than two probe intervals, as a
# partition looks: sockets stay up, nothing answers (chassis keep forwarding and must say
# they are disconnected); sb_outage: every SB server killed for a few seconds, then started
# controller_start_sb_down: the SB frozen, the controller killed and started again while it
# cannot reach the SB for longer than its start-up used to wait (it must keep retrying)
FAULT_KINDS = ("controller_kill", "sb_restart", "sb_freeze", "northd_stop", "raft_leader_kill",
               "sb_outage", "controller_start_sb_down")
DEFAULT_KINDS = FAULT_KINDS[:5]      # a short soak; from LONG seconds on, all of them
LONG = 300.0
START_RETRY_HOLD = (35.0, 40.0)      # longer than the 30 s the controller waited at start

LIMITS = {"switches": 8, "routers": 3, "ports": 40, "lbs": 6, "asets": 6, "pgs": 4, "acls": 24}


@dataclass(frozen=True)
class Change:
    seq: int
    at: float           # seconds after the soak starts
    op: str
    argv: tuple         # ovn-nbctl arguments: one transaction, commands joined by "--"

    def describe(self):
        return f"#{self.seq} {self.op}: ovn-nbctl " + " ".join(
            a if a and " " not in a else repr(a) for a in self.argv)


@dataclass(frozen=True)
class Fault:
    seq: int
    at: float
    kind: str           # one of FAULT_KINDS
    target: str | None  # the chassis of a controller_kill; None otherwise
    hold: float         # seconds the victim stays down before it is started again

    def describe(self):
        on = f" {self.target}" if self.target else ""
        return f"fault #{self.seq} {self.kind}{on} (down {self.hold:.1f} s)"


@dataclass(frozen=True)
class Plan:
    seed: int
    duration: float
    changes: tuple
    faults: tuple


# ---- the churn model -----------------------------------------------------------------------

@dataclass
class _Model:
    """What the churn has made so far, so each change is valid when it is applied."""
    switches: dict = field(default_factory=dict)   # name -> subnet index
    ports: dict = field(default_factory=dict)      # lsp -> switch
    routers: dict = field(default_factory=dict)    # name -> index
    rports: dict = field(default_factory=dict)     # lrp -> (router, switch, switch-side lsp)
    lbs: dict = field(default_factory=dict)        # name -> {("ls"|"lr", entity)}
    asets: dict = field(default_factory=dict)      # name -> set of addresses
    pgs: dict = field(default_factory=dict)        # name -> set of lsps
    acls: list = field(default_factory=list)       # (type, entity, direction, priority, match)
    next_id: itertools.count = field(default_factory=lambda: itertools.count(1))

    def count(self, what):
        return len(self.acls) if what == "acls" else len(getattr(self, what))


def _join(cmds):
    argv = []
    for cmd in cmds:
        if argv:
            argv.append("--")
        argv.extend(cmd)
    return tuple(argv)


class _Churn:
    """The operations: each returns a list of ovn-nbctl commands, or None when it cannot
    apply to the current model (then another is drawn)."""

    def __init__(self, rng):
        self.rng = rng
        self.m = _Model()

    def _id(self):
        return next(self.m.next_id)

    def _pick(self, items):
        items = sorted(items)
        return self.rng.choice(items) if items else None

    # switches, routers, ports -------------------------------------------------------------

    def add_switch(self):
        if self.m.count("switches") >= LIMITS["switches"]:
            return None
        i = self._id()
        name = f"{PREFIX}ls{i}"
        self.m.switches[name] = i % 250
        return [["ls-add", name]]

    def del_switch(self):
        sw = self._pick(self.m.switches)
        if sw is None:
            return None
        cmds = [["ls-del", sw]]
        # its router ports would dangle: remove them in the same transaction
        for lrp, (r, s, _) in sorted(self.m.rports.items()):
            if s == sw:
                cmds.append(["lrp-del", lrp])
                del self.m.rports[lrp]
        for p in [p for p, s in self.m.ports.items() if s == sw]:
            del self.m.ports[p]
            for members in self.m.pgs.values():
                members.discard(p)
        self.m.acls = [a for a in self.m.acls if not (a[0] == "switch" and a[1] == sw)]
        for attached in self.m.lbs.values():
            attached.discard(("ls", sw))
        del self.m.switches[sw]
        return cmds

    def add_router(self):
        if self.m.count("routers") >= LIMITS["routers"]:
            return None
        i = self._id()
        name = f"{PREFIX}lr{i}"
        self.m.routers[name] = i
        return [["lr-add", name]]

    def del_router(self):
        r = self._pick(self.m.routers)
        if r is None:
            return None
        cmds = [["lr-del", r]]
        for lrp, (rr, _, lsp) in sorted(self.m.rports.items()):
            if rr == r:
                cmds.append(["lsp-del", lsp])
                del self.m.rports[lrp]
        for attached in self.m.lbs.values():
            attached.discard(("lr", r))
        del self.m.routers[r]
        return cmds

    def add_router_port(self):
        free = [(r, s) for r in sorted(self.m.routers) for s in sorted(self.m.switches)
                if not any(v[0] == r and v[1] == s for v in self.m.rports.values())]
        if not free:
            return None
        r, sw = self.rng.choice(free)
        i = self._id()
        lrp, lsp = f"{PREFIX}lrp{i}", f"{PREFIX}rp{i}"
        net = self.m.switches[sw]
        host = 200 + self.m.routers[r] % 50       # one address per router on each subnet
        mac = f"02:5c:{i >> 16 & 0xff:02x}:{i >> 8 & 0xff:02x}:{i & 0xff:02x}:01"
        self.m.rports[lrp] = (r, sw, lsp)
        return [["lrp-add", r, lrp, mac, f"172.16.{net}.{host}/24"],
                ["lsp-add", sw, lsp], ["lsp-set-type", lsp, "router"],
                ["lsp-set-addresses", lsp, "router"],
                ["lsp-set-options", lsp, f"router-port={lrp}"]]

    def del_router_port(self):
        lrp = self._pick(self.m.rports)
        if lrp is None:
            return None
        _, _, lsp = self.m.rports.pop(lrp)
        return [["lrp-del", lrp], ["lsp-del", lsp]]

    def add_port(self):
        sw = self._pick(self.m.switches)
        if sw is None or self.m.count("ports") >= LIMITS["ports"]:
            return None
        i = self._id()
        name = f"{PREFIX}p{i}"
        addr = f"0a:5c:{i >> 16 & 0xff:02x}:{i >> 8 & 0xff:02x}:{i & 0xff:02x}:02 " \
               f"172.16.{self.m.switches[sw]}.{10 + i % 180}"
        self.m.ports[name] = sw
        cmds = [["lsp-add", sw, name], ["lsp-set-addresses", name, addr]]
        if self.rng.random() < 0.5:
            cmds.append(["lsp-set-port-security", name, addr])
        return cmds

    def del_port(self):
        p = self._pick(self.m.ports)
        if p is None:
            return None
        del self.m.ports[p]
        for members in self.m.pgs.values():
            members.discard(p)
        return [["lsp-del", p]]

    # ACLs ---------------------------------------------------------------------------------

    def add_acl(self):
        if self.m.count("acls") >= LIMITS["acls"]:
            return None
        targets = [("switch", s) for s in sorted(self.m.switches)] + \
                  [("port-group", g) for g in sorted(self.m.pgs)]
        if not targets:
            return None
        kind, entity = self.rng.choice(targets)
        direction = self.rng.choice(["from-lport", "to-lport"])
        port = "inport" if direction == "from-lport" else "outport"
        matches = [f"ip4 && udp.dst == {self.rng.randrange(1, 65535)}",
                   f"ip4.dst == 172.16.{self.rng.randrange(250)}.0/24 && tcp"]
        aset = self._pick(self.m.asets)
        if aset:
            matches.append(f"ip4.src == ${aset} && tcp.dst == {self.rng.randrange(1, 65535)}")
        if kind == "port-group":
            matches = [f"{port} == @{entity} && {m}" for m in matches]
        match = self.rng.choice(matches)
        priority = 1000 + self._id() % 1000
        action = self.rng.choice(["allow", "allow-related", "drop", "reject"])
        self.m.acls.append((kind, entity, direction, priority, match))
        return [[f"--type={kind}", "acl-add", entity, direction, str(priority), match, action]]

    def _acl_del(self, acl):
        kind, entity, direction, priority, match = acl
        return [f"--type={kind}", "acl-del", entity, direction, str(priority), match]

    def del_acl(self):
        if not self.m.acls:
            return None
        acl = self.m.acls.pop(self.rng.randrange(len(self.m.acls)))
        return [self._acl_del(acl)]

    # load balancers -----------------------------------------------------------------------

    def add_lb(self):
        if self.m.count("lbs") >= LIMITS["lbs"]:
            return None
        i = self._id()
        name = f"{PREFIX}lb{i}"
        vip = f"172.30.{i // 250 % 250}.{i % 250 + 1}:{self.rng.choice([80, 443, 8080])}"
        backends = ",".join(f"172.16.{self.rng.randrange(250)}.{self.rng.randrange(2, 250)}:"
                            f"{self.rng.randrange(1024, 65535)}"
                            for _ in range(self.rng.randrange(1, 4)))
        self.m.lbs[name] = set()
        cmds = [["lb-add", name, vip, backends, self.rng.choice(["tcp", "udp"])]]
        sw = self._pick(self.m.switches)
        if sw and self.rng.random() < 0.7:
            cmds.append(["ls-lb-add", sw, name])
            self.m.lbs[name].add(("ls", sw))
        return cmds

    def attach_lb(self):
        spots = [(lb, kind, e) for lb in sorted(self.m.lbs)
                 for kind, ents in (("ls", self.m.switches), ("lr", self.m.routers))
                 for e in sorted(ents) if (kind, e) not in self.m.lbs[lb]]
        if not spots:
            return None
        lb, kind, entity = self.rng.choice(spots)
        self.m.lbs[lb].add((kind, entity))
        return [[f"{kind}-lb-add", entity, lb]]

    def detach_lb(self):
        spots = sorted((lb, kind, e) for lb, att in self.m.lbs.items() for kind, e in att)
        if not spots:
            return None
        lb, kind, entity = self.rng.choice(spots)
        self.m.lbs[lb].discard((kind, entity))
        return [[f"{kind}-lb-del", entity, lb]]

    def del_lb(self):
        lb = self._pick(self.m.lbs)
        if lb is None:
            return None
        del self.m.lbs[lb]
        return [["lb-del", lb]]      # also drops it from every switch and router

    # address sets, port groups ------------------------------------------------------------

    def _addresses(self, n):
        return {f"10.{self.rng.randrange(200, 250)}.{self.rng.randrange(256)}."
                f"{self.rng.randrange(1, 255)}" for _ in range(n)}

    def add_aset(self):
        if self.m.count("asets") >= LIMITS["asets"]:
            return None
        name = f"{PREFIX}as{self._id()}"
        addrs = self._addresses(self.rng.randrange(1, 30))
        self.m.asets[name] = addrs
        return [["create", "Address_Set", f"name={name}",
                 "addresses=" + ",".join(f'"{a}"' for a in sorted(addrs))]]

    def mod_aset(self):
        name = self._pick(self.m.asets)
        if name is None:
            return None
        current = self.m.asets[name]
        if current and self.rng.random() < 0.4:
            gone = set(self.rng.sample(sorted(current), self.rng.randrange(1, len(current) + 1)))
            current -= gone
            return [["remove", "Address_Set", name, "addresses", *(f'"{a}"' for a in sorted(gone))]]
        new = self._addresses(self.rng.randrange(1, 20)) - current
        if not new:
            return None
        current |= new
        return [["add", "Address_Set", name, "addresses", *(f'"{a}"' for a in sorted(new))]]

    def del_aset(self):
        name = self._pick(self.m.asets)
        if name is None:
            return None
        users = [a for a in self.m.acls if f"${name} " in a[4] + " "]
        self.m.acls = [a for a in self.m.acls if a not in users]
        del self.m.asets[name]
        return [self._acl_del(a) for a in users] + [["destroy", "Address_Set", name]]

    def add_pg(self):
        if self.m.count("pgs") >= LIMITS["pgs"]:
            return None
        name = f"{PREFIX}pg{self._id()}"
        ports = sorted(self.m.ports)
        members = set(self.rng.sample(ports, min(len(ports), self.rng.randrange(0, 5))))
        self.m.pgs[name] = members
        return [["pg-add", name, *sorted(members)]]

    def set_pg(self):
        name = self._pick(self.m.pgs)
        ports = sorted(self.m.ports)
        if name is None or not ports:
            return None
        members = set(self.rng.sample(ports, self.rng.randrange(1, min(len(ports), 6) + 1)))
        self.m.pgs[name] = members
        return [["pg-set-ports", name, *sorted(members)]]

    def del_pg(self):
        name = self._pick(self.m.pgs)
        if name is None:
            return None
        del self.m.pgs[name]       # its ACLs go with it
        self.m.acls = [a for a in self.m.acls if not (a[0] == "port-group" and a[1] == name)]
        return [["pg-del", name]]


# Each op's weight; removals weigh less so the population grows to its limits, then churns.
OPS = {"add_switch": 3, "del_switch": 1, "add_router": 2, "del_router": 1,
       "add_router_port": 3, "del_router_port": 1, "add_port": 5, "del_port": 2,
       "add_acl": 4, "del_acl": 2, "add_lb": 2, "attach_lb": 2, "detach_lb": 1, "del_lb": 1,
       "add_aset": 2, "mod_aset": 4, "del_aset": 1, "add_pg": 2, "set_pg": 3, "del_pg": 1}


def churn(rng, count, start, rate):
    """`count` changes from `start` seconds on, about `rate` per second, jittered."""
    c = _Churn(rng)
    names, weights = list(OPS), list(OPS.values())
    out = []
    for seq in range(1, count + 1):
        while True:
            op = rng.choices(names, weights)[0]
            cmds = getattr(c, op)()
            if cmds:
                break
        at = start + (seq - 1) / rate + rng.uniform(0, 0.5 / rate)
        out.append(Change(seq, round(at, 3), op, _join(cmds)))
    return out


def faults(rng, kinds, start, end, gap, targets):
    """One fault every ~`gap` seconds between start and end, cycling through `kinds` in a
    seeded order; a controller_kill picks its chassis among `targets`."""
    out = []
    slots = max(0, int((end - start) // gap))
    order = []
    while len(order) < slots:
        cycle = list(kinds)
        rng.shuffle(cycle)
        order.extend(cycle)
    holds = {"controller_kill": (0.0, 1.0), "sb_restart": (0.0, 2.0), "sb_outage": (7.0, 9.0),
             "sb_freeze": (FREEZE_DETECT + 2.0, FREEZE_DETECT + 4.0),
             "controller_start_sb_down": START_RETRY_HOLD,
             "northd_stop": (2.0, 6.0), "raft_leader_kill": (1.0, 4.0)}
    for i in range(slots):
        kind = order[i]
        target = rng.choice(sorted(targets)) if kind.startswith("controller_") else None
        at = start + i * gap + rng.uniform(0, gap / 5)
        out.append(Fault(i + 1, round(at, 3), kind, target, round(rng.uniform(*holds[kind]), 2)))
    return out


def make_plan(seed, duration, chassis, raft=True, rate=1.5, gap=12.0, lead=6.0, tail=12.0,
              kinds=None, keep=None):
    """The soak of `duration` seconds: churn from 1 s to duration - 2 s, faults from `lead`
    s to duration - `tail` s. `chassis`: the lab's chassis names; the controller of `keep`
    (default: the last one) is never killed, so its RSS and fds span the whole run.
    raft=False leaves out the Raft leader kill (a single SB server has no leader)."""
    rng = random.Random(seed)
    if kinds is None:
        kinds = tuple(k for k in (FAULT_KINDS if duration >= LONG else DEFAULT_KINDS)
                      if raft or k != "raft_leader_kill")
    chassis = sorted(chassis)
    keep = keep if keep is not None else chassis[-1]
    targets = [c for c in chassis if c != keep] or chassis
    churn_rng, fault_rng = random.Random(rng.random()), random.Random(rng.random())
    n = int((duration - 3.0) * rate)
    changes = churn(churn_rng, n, 1.0, rate) if n > 0 else []
    fs = faults(fault_rng, kinds, lead, duration - tail, gap, targets) if kinds else []
    return Plan(seed, duration, tuple(changes), tuple(fs))


def protected_names(topo):
    """Names of the lab's own NB objects, which the churn must never mention."""
    names = set()
    for sw in topo.switches:
        names.add(sw.name)
    for r in topo.routers:
        names.add(r.name)
        for p in r.ports:
            names.update((p.name, p.switch_port))
    for vm in topo.vms:
        names.add(vm.port)
    return names


# ---- traffic: ping's output -> per-packet send times ----------------------------------------

_REPLY = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+).*time=([\d.]+) ms")
_NOANSWER = re.compile(r"^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)")
_SUMMARY = re.compile(r"^(\d+) packets transmitted")


def parse_ping(text, interval):
    """`ping -D -O -i interval` output -> (packets [(send time, lost)], transmitted).

    Send times: a reply's timestamp less its RTT; a "no answer yet" line is printed when
    the next packet goes, one interval later; the rest by interpolation on the sequence
    number. Sequence numbers wrap at 65536: unwrapped in order of appearance."""
    replies, anchors = set(), {}
    transmitted = None
    last, base = None, 0
    for line in text.splitlines():
        m = _REPLY.match(line) or _NOANSWER.match(line)
        if m:
            seq = int(m.group(2))
            if last is not None and seq + base < last - 32768:
                base += 65536
            seq += base
            last = max(last or seq, seq)
            t = float(m.group(1))
            if m.re is _REPLY:
                if "DUP!" in line:
                    continue
                replies.add(seq)
                anchors.setdefault(seq, t - float(m.group(3)) / 1000)
            else:
                anchors.setdefault(seq, t - interval)
            continue
        m = _SUMMARY.match(line)
        if m:
            transmitted = int(m.group(1))
    if transmitted is None:
        transmitted = max(anchors, default=0)
    known = sorted(anchors)
    packets = []
    j = 0
    for seq in range(1, transmitted + 1):
        while j + 1 < len(known) and known[j + 1] <= seq:
            j += 1
        if not known:
            break
        if seq in anchors:
            t = anchors[seq]
        elif seq < known[0]:
            t = anchors[known[0]] - (known[0] - seq) * interval
        elif j + 1 < len(known):
            a, b = known[j], known[j + 1]
            t = anchors[a] + (anchors[b] - anchors[a]) * (seq - a) / (b - a)
        else:
            t = anchors[known[j]] + (seq - known[j]) * interval
        packets.append((t, seq not in replies))
    return packets, transmitted


@dataclass(frozen=True)
class Window:
    name: str           # e.g. "fault #2 northd_stop"
    start: float        # epoch seconds
    end: float


BEFORE, AFTER = 0.5, 1.0   # a window also owns packets sent this long before / after it


def attribute(packets, windows, until):
    """Packets sent before `until` -> {"outside": [sent, lost], window name: [sent, lost]}
    and the loss bursts outside every window [(first, last, count)]. A packet belongs to
    a window when sent within [start - BEFORE, end + AFTER]. A burst is
    (first, last, count, the window whose loss it continues or None)."""
    phases = {"outside": [0, 0], **{w.name: [0, 0] for w in windows}}
    bursts = []
    prev = (None, False)         # the window of the packet before, and whether it was lost
    for t, lost in sorted(packets):
        if t >= until:
            continue
        w = next((w for w in windows if w.start - BEFORE <= t <= w.end + AFTER), None)
        phase = phases[w.name if w else "outside"]
        phase[0] += 1
        phase[1] += lost
        if lost and w is None:
            if bursts and t - bursts[-1][1] <= 1.0:
                first, _, count, carried = bursts[-1]
                bursts[-1] = (first, t, count + 1, carried)
            else:
                bursts.append((t, t, 1, prev[0].name if prev[0] and prev[1] else None))
        prev = (w, lost)
    return phases, bursts


# ---- controller logs ------------------------------------------------------------------------

UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\|\d+\|([^|]*)\|([A-Z]+)\|(.*)$")

# WARN/ERR lines that name their object without a UUID, each with why it is acceptable.
# Anything else at WARN or above must carry a row UUID.
LOG_EXCEPTIONS = (
    # about the Southbound connection, naming the remote or member (tcp:IP:PORT): an SB
    # restart, freeze or Raft kill causes them ("lost the Southbound connection (...)")
    (re.compile(r"Southbound.*\b(tcp|ssl|unix):\S+"), "SB remote named"),
    # the object is this chassis' own Chassis row
    (re.compile(r"^our Chassis row is missing from the Southbound"), "our Chassis row"),
)


def log_problems(text):
    """WARN/ERR/EMER entries of an OVS-style log that name no UUID and match no exception:
    [(first line, lines in the entry)]. A traceback's lines belong to the entry above."""
    entries = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            entries.append([m.group(2), m.group(3), 1])
        elif entries:
            entries[-1][2] += 1
    out = []
    for level, msg, lines in entries:
        if level not in ("WARN", "ERR", "EMER"):
            continue
        if UUID_RE.search(msg) or any(rx.search(msg) for rx, _ in LOG_EXCEPTIONS):
            continue
        out.append((f"{level}|{msg}", lines))
    return out


def warn_lines(text):
    """How many entries of an OVS-style log are WARN or above."""
    return sum(1 for line in text.splitlines()
               if (m := _LINE.match(line)) and m.group(2) in ("WARN", "ERR", "EMER"))


# a chassis' status may lag the truth about its SB connection by this long (one probe
# interval, and the sampler's second) before it counts as a lie
STATUS_GRACE = 6.0
# a frozen SB is noticed by the inactivity probe: an echo after 5 s (the default probe
# interval) of silence, given up after 5 s more; then the status must say disconnected
FREEZE_DETECT = 2 * 5.0 + 2.0


# ---- RSS and fds ----------------------------------------------------------------------------

RSS_BOUND = (1.5, 64 * 1024)    # last third's median <= first third's * 1.5 + 64 MiB (KiB)
FD_BOUND = 16                   # last third's median <= first third's + 16


def thirds(values):
    """Medians of the first and last thirds of a series (None when under 6 samples)."""
    if len(values) < 6:
        return None
    k = len(values) // 3
    return statistics.median(values[:k]), statistics.median(values[-k:])


def growth_problems(name, rss_kib, fds):
    """Violations of the flatness bounds for one process' samples."""
    out = []
    r = thirds(rss_kib)
    if r and r[1] > r[0] * RSS_BOUND[0] + RSS_BOUND[1]:
        out.append(f"{name}: RSS grew {r[0] / 1024:.1f} -> {r[1] / 1024:.1f} MiB (first vs last "
                   f"third medians; bound x{RSS_BOUND[0]} + {RSS_BOUND[1] // 1024} MiB)")
    f = thirds(fds)
    if f and f[1] > f[0] + FD_BOUND:
        out.append(f"{name}: open fds grew {f[0]:.0f} -> {f[1]:.0f} (bound +{FD_BOUND})")
    return out
