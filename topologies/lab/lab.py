"""A lab: central + underlay + chassis + VMs, brought up from a topology and torn down
completely.

Everything the lab creates (namespace, root-namespace link, daemon pidfile) is written to
`state.json` *before* it is created, so `down` removes it even after `up` crashed half way,
and two labs with different names never touch each other's objects.
"""
import hashlib
import ipaddress
import itertools
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import logical, netns, topology
from .central import Central
from .chassis import ChassisNode, ensure_bpffs, ping, release_bpffs, uplink_mac
from .proc import CommandError, read_pidfile, stop_pids, wait_for

from controller.rundir import RUN_ROOT  # the layout `ovnbpf ctl --lab` relies on
# A lab name prefixes its namespaces and run directory (no kernel limit that matters) and,
# shortened by `link_prefix`, its root-namespace interfaces (IFNAMSIZ: 15 characters).
LAB_NAME_MAX = 32     # keeps the run directory's unix socket paths far below 108 bytes
LAB_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")
SHORT_NAME_MAX = 5    # names up to this long prefix interface names as they are
DEFAULT_LAB = "lab"


class LabError(RuntimeError):
    pass


def lab_dir(name):
    return RUN_ROOT / "labs" / name


def check_name(name):
    if not LAB_NAME_RE.match(name) or len(name) > LAB_NAME_MAX:
        raise LabError(f"lab name {name!r}: 1-{LAB_NAME_MAX} characters, a lowercase letter, "
                       "then lowercase letters, digits or '-' (not last)")


def link_prefix(name):
    """The prefix of a lab's root-namespace interfaces: the name itself up to 5 characters,
    else its first letter and 5 hex digits of its hash (6 characters: never a short name's;
    two long names that share one are refused by State.record, never shared)."""
    if len(name) <= SHORT_NAME_MAX:
        return name
    return name[0] + hashlib.sha256(name.encode()).hexdigest()[:5]


def labs_up_text():
    up = labs()
    return f"labs up: {', '.join(up)}" if up else "no lab is up"


class State:
    """The write-ahead record of what a lab made."""

    def __init__(self, path, data=None):
        self.path = path
        self.data = data or {"netns": [], "root_links": [], "pidfiles": [], "pin_dirs": [],
                             "info": {}}
        self.data.setdefault("pin_dirs", [])

    @classmethod
    def load(cls, path):
        try:
            return cls(path, json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise LabError(f"{path}: corrupt lab state ({e}); remove the lab's objects by hand") from None

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)

    def record(self, kind, value):
        """Note `value` as ours before creating it; refuse a name someone else already uses,
        so teardown can never remove an object this lab did not make."""
        if kind == "netns" and value in netns.netns_list():
            raise LabError(f"network namespace {value!r} exists already and is not this lab's")
        if kind == "root_links" and netns.link_exists(value):
            raise LabError(f"interface {value!r} exists already and is not this lab's")
        if value not in self.data[kind]:
            self.data[kind].append(value)
            self.save()

    @property
    def info(self):
        return self.data["info"]


@dataclass
class Plan:
    """Names and addresses of one lab, derived from the topology and the lab name."""
    name: str
    topo: topology.Topology
    subnet: ipaddress.IPv4Network

    @property
    def rundir(self):
        return lab_dir(self.name)

    @property
    def bridge(self):
        return f"{link_prefix(self.name)}-ubr"

    @property
    def gateway_ip(self):
        return str(self.subnet.network_address + 1)

    def encap_ip(self, index):
        return str(self.subnet.network_address + 11 + index)

    def chassis_netns(self, chassis_name):
        return f"{self.name}-{chassis_name}"

    def vm_netns(self, vm_name):
        return f"{self.name}-{vm_name}"

    def root_uplink(self, index):
        return f"{link_prefix(self.name)}-u{index + 1}"

    def central(self):
        # raft peers on loopback: give each lab its own port range
        raft_base = 6700 + 10 * (sum(map(ord, self.name)) % 200)
        return Central(self.rundir / "central", self.topo.sb_cluster, self.gateway_ip, raft_base,
                       sb_ssl=self.topo.sb_ssl)

    def chassis_nodes(self, sb_remote):
        central = self.central()
        return [ChassisNode(name=c.name, kind=c.kind, netns=self.chassis_netns(c.name),
                            rundir=self.rundir / c.name, encap_ip=self.encap_ip(i),
                            prefixlen=self.subnet.prefixlen, sb_remote=sb_remote,
                            egress_on=c.options.get("egress_on", "egress"),
                            vif_xdp=c.options.get("vif_xdp", "native"),
                            ssl=tuple(map(str, central.ssl_files(c.name))) if self.topo.sb_ssl else ())
                for i, c in enumerate(self.topo.chassis)]


def _subnets_in_use():
    out = netns.run(["ip", "-o", "-4", "addr", "show"])
    nets = set()
    for line in out.splitlines():
        m = re.search(r"inet (\S+)", line)
        if m:
            nets.add(ipaddress.IPv4Interface(m.group(1)).network)
    return nets


def _pick_subnet(topo):
    used = _subnets_in_use()
    if topo.underlay_subnet and not any(topo.underlay_subnet.overlaps(u) for u in used):
        return topo.underlay_subnet
    for third in range(250, 200, -1):
        candidate = ipaddress.IPv4Network(f"172.31.{third}.0/24")
        if not any(candidate.overlaps(u) for u in used):
            return candidate
    raise LabError("no free 172.31.201-250.0/24 underlay subnet")


class Lab:
    """Handle to a running (or half-built) lab, by name."""

    def __init__(self, name=DEFAULT_LAB):
        check_name(name)
        self.name = name
        self.dir = lab_dir(name)

    # ---- bring-up ------------------------------------------------------------------------

    def up(self, topology_ref=topology.DEFAULT_TOPOLOGY, log=print):
        topo = topology.load(topology_ref)
        if State.load(self.dir / "state.json"):
            raise LabError(f"lab {self.name!r} exists already: run 'ovnbpf lab down --lab {self.name}' first")
        plan = Plan(self.name, topo, _pick_subnet(topo))
        t0 = time.monotonic()
        self.dir.mkdir(parents=True, exist_ok=True)
        state = State(self.dir / "state.json")
        state.info.update(topology=topo.source, subnet=str(plan.subnet), started=time.time())
        state.save()
        try:
            self._build(plan, state, log)
        except BaseException:
            log(f"[lab {self.name}] bring-up failed: tearing down what was made")
            try:
                self._print_logs(plan, log)
            finally:
                self.down(log=lambda *_: None)
            raise
        log(f"[lab {self.name}] up in {time.monotonic() - t0:.2f} s: {len(topo.chassis)} chassis, "
            f"{len(topo.vms)} VMs, underlay {plan.subnet}")
        return plan

    def _build(self, plan, state, log):
        topo = plan.topo
        t0 = time.monotonic()

        def step(what):     # a line per step: bring-up takes 5-10 s, none silent for long
            log(f"[lab {self.name}] {time.monotonic() - t0:5.1f} s  {what}")
        step(f"underlay {plan.bridge} {plan.subnet}; central: NB, SB"
             + (f" (Raft, {topo.sb_cluster} members)" if topo.sb_cluster > 1 else "") + ", northd")
        underlay = netns.BridgeUnderlay(plan.bridge, plan.gateway_ip, plan.subnet.prefixlen)
        state.record("root_links", plan.bridge)
        underlay.create()

        central = plan.central()
        state.info["central"] = str(central.rundir)
        state.info["sb_cluster"] = topo.sb_cluster
        for p in central.pidfiles():
            state.record("pidfiles", str(p))
        central.start()

        nodes = plan.chassis_nodes(central.sb_chassis_remote)
        if topo.sb_ssl:      # files under the lab's directory: removed with it
            for node in nodes:
                central.issue_cert(node.name)
        for i, node in enumerate(nodes):
            state.record("netns", node.netns)
            state.record("root_links", plan.root_uplink(i))
            for d in node.daemon_names():
                state.record("pidfiles", str(node.pidfile(d)))
            if node.kind == "ovnbpf":
                ensure_bpffs()
                state.record("pin_dirs", node.pin_dir)
            node.create_namespace(underlay, plan.root_uplink(i))
        for node in nodes:
            step(f"chassis {node.name} ({node.kind}, encap {node.encap_ip}): daemons")
            peers = {n.encap_ip: uplink_mac(n.encap_ip) for n in nodes if n is not node}
            node.start(peers)

        by_chassis = {n.name: n for n in nodes}
        step(f"VMs: {', '.join(v.name for v in topo.vms) or 'none'}")
        for vm in topo.vms:
            _add_vm(plan, state, by_chassis[vm.chassis], vm)

        step("waiting for the chassis to register in the SB")
        central.wait_chassis([n.name for n in nodes])
        step(f"logical topology: {len(topo.switches)} switch(es), {len(topo.routers)} router(s)")
        logical.create(central, topo)
        step("waiting for every VM port to be up and every chassis to catch up (--wait=hv)")
        # --wait=hv alone can return before a chassis has seen another chassis' claim:
        # wait for every VM port to be up, then once more for every chassis to catch up
        # generous: two clang builds per chassis, on a shared machine (load 20 seen)
        central.wait_ports_up([vm.port for vm in topo.vms], timeout=240)
        central.nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)

    def _print_logs(self, plan, log):
        for node in plan.chassis_nodes(""):
            tail = node.log_tail()
            if tail:
                log(tail)

    # ---- inspection ----------------------------------------------------------------------

    def state(self):
        state = State.load(self.dir / "state.json")
        if state is None:
            raise LabError(f"no lab named {self.name!r} is up ({labs_up_text()})")
        return state

    def plan(self):
        state = self.state()
        topo = topology.load(state.info["topology"])
        return Plan(self.name, topo, ipaddress.IPv4Network(state.info["subnet"]))

    def central(self):
        return self.plan().central()

    def nodes(self):
        plan = self.plan()
        return plan.chassis_nodes(plan.central().sb_chassis_remote)

    def status(self):
        plan = self.plan()
        central = plan.central()
        central_healthy = central.healthy()
        registered = central.chassis_names() if central_healthy else set()
        chassis = [{"name": n.name, "kind": n.kind, "encap_ip": n.encap_ip,
                    "netns": n.netns, "daemons": n.pids(),
                    "healthy": n.daemons_alive() and n.name in registered,
                    "not_compiled": _not_compiled(n)}
                   for n in plan.chassis_nodes(central.sb_chassis_remote)]
        vms = [{"name": v.name, "chassis": v.chassis, "switch": v.switch, "mac": v.mac,
                "ip": str(v.ip.ip), "netns": plan.vm_netns(v.name)} for v in plan.topo.vms]
        return {"name": self.name, "topology": plan.topo.name, "underlay": str(plan.subnet),
                "central": {"healthy": central_healthy, "sb_cluster": plan.topo.sb_cluster,
                            "daemons": central.pids(), "nb": central.nb_remote,
                            "sb": central.sb_remote},
                "chassis": chassis, "vms": vms}

    def node_netns(self, node):
        """Namespace of a VM or chassis by its topology name."""
        plan = self.plan()
        if any(v.name == node for v in plan.topo.vms):
            return plan.vm_netns(node), {}
        for n in plan.chassis_nodes(""):
            if n.name == node:
                return n.netns, n.env()
        names = [c.name for c in plan.topo.chassis] + [v.name for v in plan.topo.vms]
        raise LabError(f"lab {self.name!r} has no node {node!r} (nodes: {', '.join(names)})")

    def add_vm(self, vm, plug=True):
        """Plug one more VM (a topology.VM) into a running lab; its logical port is the
        caller's to create. Torn down with the lab. plug=False: its veth exists but the
        local OVS DB does not list it yet (`plug_vm` does)."""
        plan = self.plan()
        node = next(n for n in plan.chassis_nodes("") if n.name == vm.chassis)
        _add_vm(plan, self.state(), node, vm, plug)
        return plan.vm_netns(vm.name)

    def plug_vm(self, vm):
        plan = self.plan()
        next(n for n in plan.chassis_nodes("") if n.name == vm.chassis).plug_vif(vm)

    def ping(self, src_vm, dst_ip, count=2):
        return ping(self.plan().vm_netns(src_vm), dst_ip, count=count)

    def ping_all_pairs(self, count=1, family=4):
        """Every VM pings every other VM: (pairs tried, [(src VM, dst VM) that failed]).
        family=6: over IPv6, between the VMs that have an ip6."""
        plan = self.plan()
        vms = plan.topo.vms if family == 4 else [v for v in plan.topo.vms if v.ip6]
        pairs = list(itertools.permutations(vms, 2))
        failed = [(a, b) for a, b in pairs
                  if not ping(plan.vm_netns(a.name), (b.ip if family == 4 else b.ip6).ip, count=count)]
        return len(pairs), failed

    # ---- teardown ------------------------------------------------------------------------

    def down(self, log=print):
        state = State.load(self.dir / "state.json")
        if state is None:
            log(f"[lab {self.name}] not up: nothing to do")
            return
        t0 = time.monotonic()
        pidfiles = [Path(p) for p in state.data["pidfiles"]]
        # clients first (ovn-controller, northd), then switches, then databases
        order = ("ovn-controller", "ovnbpf-controller", "northd", "ovs-vswitchd")
        for stage in order:
            stop_pids([read_pidfile(p) for p in pidfiles if p.stem == stage])
        stop_pids([read_pidfile(p) for p in pidfiles if p.stem not in order])
        for ns in reversed(state.data["netns"]):
            netns.netns_del(ns)
        for link in state.data["root_links"]:
            netns.link_del(link)
        # programs die with their interfaces; pinned maps live until unpinned
        for pin_dir in state.data.get("pin_dirs", []):
            shutil.rmtree(pin_dir, ignore_errors=True)
        if state.data.get("pin_dirs"):
            release_bpffs()
        # namespace teardown is asynchronous: wait for the root-side veth ends to vanish
        try:
            wait_for(lambda: not any(netns.link_exists(l) for l in state.data["root_links"]),
                     timeout=10, what="lab links to disappear")
        except TimeoutError as e:
            log(f"[lab {self.name}] warning: {e}")
        shutil.rmtree(self.dir, ignore_errors=True)
        log(f"[lab {self.name}] down in {time.monotonic() - t0:.2f} s")


def _add_vm(plan, state, node, vm, plug=True):
    ns = plan.vm_netns(vm.name)
    state.record("netns", ns)
    netns.netns_add(ns, guest=True)
    node.add_vif(vm, ns, plug)
    _configure_vm(vm, ns, netns.vm_mtu(node.uplink_mtu()))


def _configure_vm(vm, ns, mtu):
    run = netns.run
    run(["ip", "link", "set", "eth0", "address", vm.mac, "mtu", str(mtu), "up"], netns=ns)
    run(["ip", "addr", "add", str(vm.ip), "dev", "eth0"], netns=ns)
    if vm.gateway:
        run(["ip", "route", "add", "default", "via", str(vm.gateway)], netns=ns)
    if vm.ip6:
        _configure_vm6(vm, ns)
    if not vm.offloads:
        netns.offloads_off("eth0", ns)
    # frames XDP redirects into the chassis side arrive here: eth0 needs NAPI (GRO), and
    # switching it on while eth0 is up is what marks its peer as a redirect target
    run(["ethtool", "-K", "eth0", "gro", "on"], netns=ns)


def _configure_vm6(vm, ns):
    """A dual-stack VM: IPv6 on (whatever the namespace default), its address without
    DAD (no wait before the first ping), the router port as default route."""
    run = netns.run
    run(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.eth0.disable_ipv6=0"],
        netns=ns)
    run(["ip", "-6", "addr", "add", str(vm.ip6), "dev", "eth0", "nodad"], netns=ns)
    if vm.gateway6:
        run(["ip", "-6", "route", "add", "default", "via", str(vm.gateway6)], netns=ns)


def labs():
    root = RUN_ROOT / "labs"
    return sorted(p.name for p in root.iterdir() if (p / "state.json").exists()) if root.exists() else []


__all__ = ["Lab", "LabError", "labs", "CommandError"]


def _not_compiled(node) -> list:
    """Per datapath, what an ovnbpf chassis' flows that are not compiled may drop (from its
    controller's status file; blackholes.py)."""
    from controller.blackholes import datapath_lines
    try:
        status = json.loads(node.status_file.read_text())
    except (OSError, ValueError, AttributeError):
        return []
    return datapath_lines((status.get("pipeline") or {}).get("not_compiled") or [])
