"""Stand-ins for Vagrant VMs on one host: each "machine" has its own network namespace,
mount namespace, /run (tmpfs) and sysfs, and a NIC `eth1` on a shared bridge holding the
address Vagrant would give it. Commands enter it with nsenter, as `vagrant ssh` would.

Nothing but the bridge and the root ends of the wires is visible in the root namespace; a
machine's own namespaces (its VMs) live in its private /run/netns and die with it.
"""
import glob
import signal
import subprocess

from topologies.lab import netns
from topologies.lab.proc import read_pidfile, run, stop_pids, wait_for

BOOT = ("mount -t tmpfs tmpfs /run && mount -t sysfs sysfs /sys && ip link set lo up "
        "&& echo booted && exec sleep infinity")


class Machine:
    def __init__(self, name, nic_ip, prefixlen, wire):
        self.name = name
        self.nic_ip = nic_ip
        self.prefixlen = prefixlen
        self.wire = wire              # root-namespace end of the machine's NIC
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def boot(self, bridge):
        # unshare execs sh, which execs sleep: one pid holds both namespaces for our lifetime
        self.proc = subprocess.Popen(["unshare", "--net", "--mount", "--propagation", "private",
                                      "sh", "-c", BOOT], stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "booted":
            raise RuntimeError(f"machine {self.name} did not boot")
        run(["ip", "link", "add", self.wire, "type", "veth", "peer", "name", "eth1",
             "netns", str(self.pid)])
        run(["ip", "link", "set", self.wire, "master", bridge, "up"])
        # a virtual NIC takes frames XDP redirects out of eth1; a veth only if its peer has
        # NAPI (GRO switched on while up)
        run(["ethtool", "-K", self.wire, "gro", "on"])
        # a virtual NIC hands out finished checksums; a veth does only with tx offload off
        netns.tx_checksum_off(self.wire)
        self.run("ethtool", "-K", "eth1", "tx", "off")
        self.run("ip", "addr", "add", f"{self.nic_ip}/{self.prefixlen}", "dev", "eth1")
        self.run("ip", "link", "set", "eth1", "up")

    def run(self, *argv, check=True, timeout=120):
        return run(["nsenter", "-t", str(self.pid), "-n", "-m", "--", *argv], check=check,
                   timeout=timeout)

    def pidfiles(self):
        return glob.glob(f"/proc/{self.pid}/root/run/ovnbpf/**/*.pid", recursive=True)

    def daemon_pids(self):
        return [p for p in (read_pidfile(f) for f in self.pidfiles()) if p]

    def power_off(self):
        """Stop whatever daemons it still has (by their pidfiles), then the machine."""
        if self.proc is None:
            return
        stop_pids(self.daemon_pids())
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdout.close()
        self.proc = None
        # the namespace dies with its last process; its veth end goes with it
        wait_for(lambda: not netns.link_exists(self.wire), 10, what=f"{self.wire} to vanish")
