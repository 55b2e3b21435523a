"""A lab on Mininet: the same topology files, OVN central and chassis daemons as
`ovnbpf lab`, with Mininet making the hosts, links and underlay bridge.

The lab's write-ahead record (topologies.lab.lab.State) is reused: every root-namespace
link, namespace name and daemon pidfile is recorded before it exists, so `down()` (or
`ovnbpf lab down --name NAME` after a crash) removes exactly what this lab made. Each
Mininet host's namespace is given a name with `ip netns attach`, which lets the chassis
code run its daemons there unchanged and makes `ovnbpf lab status/exec --name NAME` work.
"""
import time

from mininet.net import Mininet
from mininet.nodelib import LinuxBridge

from topologies.lab import logical, netns, topology
from topologies.lab.chassis import ensure_bpffs, uplink_mac
from topologies.lab.lab import Lab, LabError, Plan, State, _pick_subnet, check_name, lab_dir
from topologies.lab.proc import alive, run

from .api import LabTopo
from .chassis_host import plug_vif, prepare_uplink
from .topo import VM_DEV, Names, OvnTopo

DEFAULT_NAME = "mn"
VM_MTU = 1442              # Geneve + the OVN option take 58 bytes of a 1500-byte underlay

# Mininet's first network raises host-wide sysctls (fs.file-max, net buffers, ARP cache)
# that nobody restores; a lab must leave the machine as it found it.
Mininet.inited = True


def _host_setup(host):
    # as topologies.lab.netns.netns_add: no IPv6 noise (router solicitations, DAD)
    host.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")


class MininetLab:
    """up() → pingall() → down(); also a context manager that always calls down()."""

    def __init__(self, topology_ref=topology.DEFAULT_TOPOLOGY, name=DEFAULT_NAME, log=print):
        """`topology_ref`: a topology name, a YAML path, or an api.LabTopo instance."""
        check_name(name)
        self.topology_ref = topology_ref
        self.name = name
        self.log = log
        self.net = None
        self.plan = None

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    # ---- bring-up ------------------------------------------------------------------------

    def up(self):
        rundir = lab_dir(self.name)
        # a topology built in Python (api.LabTopo) becomes a file in the lab's run
        # directory, so the lab's other tools (status, exec, down) read it as any other
        script = self.topology_ref if isinstance(self.topology_ref, LabTopo) else None
        topo = (script.topology(str(rundir / "topology.yaml")) if script
                else topology.load(self.topology_ref))
        if State.load(rundir / "state.json"):
            raise LabError(f"lab {self.name!r} exists already: run "
                           f"'ovnbpf lab down --name {self.name}' first")
        self.plan = Plan(self.name, topo, _pick_subnet(topo))
        t0 = time.monotonic()
        rundir.mkdir(parents=True, exist_ok=True)
        if script:
            (rundir / "topology.yaml").write_text(script.yaml())
        state = State(rundir / "state.json")
        state.info.update(topology=topo.source, subnet=str(self.plan.subnet),
                          started=time.time(), substrate="mininet")
        state.save()
        try:
            self._build(state)
        except BaseException:
            self.log(f"[mininet {self.name}] bring-up failed: tearing down what was made")
            try:
                for node in self.plan.chassis_nodes(""):
                    tail = node.log_tail()
                    if tail:
                        self.log(tail)
            finally:
                self.down()
            raise
        self.log(f"[mininet {self.name}] up in {time.monotonic() - t0:.2f} s: "
                 f"{len(topo.chassis)} chassis ({', '.join(sorted({c.kind for c in topo.chassis}))}), "
                 f"{len(topo.vms)} VMs, underlay {self.plan.subnet}")

    def _build(self, state):
        plan, topo = self.plan, self.plan.topo
        names = Names(plan)
        for link in names.root_links(topo):
            state.record("root_links", link)
        central = plan.central()
        state.info.update(central=str(central.rundir), sb_cluster=topo.sb_cluster)
        for p in central.pidfiles():
            state.record("pidfiles", str(p))
        nodes = plan.chassis_nodes(central.sb_chassis_remote)
        for node in nodes:
            state.record("netns", node.netns)
            for d in node.daemon_names():
                state.record("pidfiles", str(node.pidfile(d)))
            if node.kind == "ovnbpf":
                ensure_bpffs()       # Lab.down releases it with the pin dirs
                state.record("pin_dirs", node.pin_dir)
        for vm in topo.vms:
            state.record("netns", plan.vm_netns(vm.name))

        self.net = Mininet(topo=OvnTopo(topo, names), switch=LinuxBridge, controller=None,
                           build=False)
        self.net.build()      # after the assignment: a half-built net is still stopped
        self.net.start()

        # name each host's namespace, so the lab's chassis code can `ip netns exec` into it
        for host in self.net.hosts:
            ns = plan.chassis_netns(host.name) if host.name in {c.name for c in topo.chassis} \
                else plan.vm_netns(host.name)
            run(["ip", "netns", "attach", ns, str(host.pid)])
            _host_setup(host)
        for vm in topo.vms:
            host = self.net.get(vm.name)
            host.cmd(f"ip link set {VM_DEV} mtu {VM_MTU}")
            netns.tx_checksum_off(VM_DEV, plan.vm_netns(vm.name))

        # the underlay bridge's address is where chassis reach the SB
        run(["ip", "addr", "add", f"{plan.gateway_ip}/{plan.subnet.prefixlen}", "dev", names.bridge])
        run(["sysctl", "-qw", f"net.ipv6.conf.{names.bridge}.disable_ipv6=1"])
        netns.tx_checksum_off(names.bridge)
        central.start()

        for i, node in enumerate(nodes):
            prepare_uplink(node, names.bridge_port(i))
        for node in nodes:
            peers = {n.encap_ip: uplink_mac(n.encap_ip) for n in nodes if n is not node}
            node.start(peers)
        by_chassis = {n.name: n for n in nodes}
        for vm in topo.vms:
            plug_vif(by_chassis[vm.chassis], vm, names.vif(vm.name), plan.vm_netns(vm.name))

        central.wait_chassis([n.name for n in nodes])
        logical.create(central, topo)
        # as Lab: every VM port up, then every chassis caught up with the others' claims
        central.wait_ports_up([vm.port for vm in topo.vms], timeout=60)
        central.nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)

    # ---- use -----------------------------------------------------------------------------

    def vm_hosts(self):
        return [self.net.get(vm.name) for vm in self.plan.topo.vms]

    def pingall(self, timeout=1):
        """Mininet's all-pairs ping among the VM hosts (one echo per pair); returns % lost."""
        return self.net.ping(hosts=self.vm_hosts(), timeout=str(timeout))

    def cli(self):
        from mininet.cli import CLI
        CLI(self.net)

    # ---- teardown ------------------------------------------------------------------------

    def down(self):
        """Daemons (by pidfile), namespace names, root links and the rundir via the lab's
        record; then Mininet's hosts and links. Safe to call twice or after a failed up()."""
        t0 = time.monotonic()
        if State.load(lab_dir(self.name) / "state.json"):
            Lab(self.name).down(log=lambda *_: None)
        shell_pids = []
        if self.net is not None:
            shell_pids = [n.pid for n in self.net.hosts + self.net.switches if n.shell]
            self.net.stop()
            self.net = None
        # Mininet signals its shells and does not wait: reap ours before reporting done
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p) for p in shell_pids):
            time.sleep(0.02)
        left = [p for p in shell_pids if alive(p)]
        if left:
            self.log(f"[mininet {self.name}] warning: host shells still alive: {left}")
        self.log(f"[mininet {self.name}] down in {time.monotonic() - t0:.2f} s")
