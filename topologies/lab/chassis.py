"""One chassis of a lab: a network namespace with an uplink to the underlay, a local
Open_vSwitch database holding exactly what ovn-controller reads, and the daemons of its kind.

Kinds:
  ovs     real ovs-vswitchd (userspace datapath, Geneve in OVS) + real ovn-controller.
  ovnbpf  `ovnbpf controller` + the eBPF datapath: the same local DB contract (VIFs are
          Interfaces with external_ids:iface-id on br-int, a DB-only bridge), the encap IP
          on the uplink itself, maps pinned under pin_dir.
"""
import sys
from dataclasses import dataclass
from pathlib import Path

from controller.rundir import STATUS_FILE

from . import csumfill, netns
from .proc import CommandError, alive, read_pidfile, run, stop_pids

VS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
UPLINK = "uplink"          # the chassis-side end of its underlay veth, in every chassis
BPFFS = Path("/run/ovnbpf/bpf")   # a bpffs the lab mounts (visible inside ip netns exec)


def ensure_bpffs():
    """Mount a bpffs at BPFFS unless one is there already. True if we mounted it."""
    BPFFS.mkdir(parents=True, exist_ok=True)
    if run(["stat", "-f", "-c", "%T", str(BPFFS)]).strip() == "bpf_fs":
        return False
    run(["mount", "-t", "bpf", "bpf", str(BPFFS)])
    return True


def release_bpffs():
    """Unmount BPFFS when no lab pins anything in it any more."""
    try:
        if any(BPFFS.iterdir()):
            return
    except FileNotFoundError:
        return
    run(["umount", str(BPFFS)], check=False)


def uplink_mac(encap_ip):
    """Locally administered MAC derived from the encap IP: stable across runs, so captures
    and pre-seeded neighbour entries agree."""
    a, b, c, d = (int(x) for x in str(encap_ip).split("."))
    return f"02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}"


@dataclass
class ChassisNode:
    name: str
    kind: str
    netns: str
    rundir: Path
    encap_ip: str
    prefixlen: int
    sb_remote: str
    egress_on: str = "egress"      # ovnbpf: `ovnbpf controller --egress-on`
    vif_xdp: str = "native"        # ovnbpf: `ovnbpf controller --vif-xdp` (skb: guests keep GSO)
    ssl: tuple = ()      # (private key, certificate, CA certificate) for an ssl: sb_remote

    # ---- helpers -------------------------------------------------------------------------

    def env(self):
        """OVS/OVN tools find this chassis' sockets through these (none under /var/run)."""
        d = str(self.rundir)
        return {"OVS_RUNDIR": d, "OVS_DBDIR": d, "OVS_LOGDIR": d, "OVN_RUNDIR": d}

    @property
    def db_remote(self):
        return f"unix:{self.rundir}/db.sock"

    def run(self, argv, **kw):
        return run(argv, netns=self.netns, env=self.env(), **kw)

    def vsctl(self, *args, wait=False):
        argv = ["ovs-vsctl", f"--db={self.db_remote}"]
        if not wait:
            argv.append("--no-wait")
        return self.run(argv + list(args))

    def daemon_names(self):
        if self.kind == "ovs":
            return ["ovn-controller", "ovs-vswitchd", "ovsdb-server"]
        return ["ovnbpf-controller", "ovsdb-server"]

    @property
    def pin_dir(self):
        """bpffs directory of an ovnbpf chassis' maps (removed by lab down). Not under
        /sys/fs/bpf: `ip netns exec` mounts a fresh /sys, which hides that bpffs."""
        return str(BPFFS / self.netns)

    def pidfile(self, daemon):
        return self.rundir / f"{daemon}.pid"

    def pids(self):
        return {d: read_pidfile(self.pidfile(d)) for d in self.daemon_names()}

    def daemons_alive(self):
        return all(pid and alive(pid) for pid in self.pids().values())

    # ---- bring-up ------------------------------------------------------------------------

    def create_namespace(self, underlay, root_dev):
        """Namespace + uplink veth (`root_dev` in the root namespace, on the underlay)."""
        netns.netns_add(self.netns)
        netns.veth_pair(root_dev, UPLINK, peer_netns=self.netns)
        underlay.attach(root_dev, reference=self.kind == "ovs")
        if self.kind == "ovs":
            netns.tx_checksum_off(UPLINK, self.netns)
        self.run(["ip", "link", "set", UPLINK, "address", uplink_mac(self.encap_ip), "up"])
        if self.kind == "ovnbpf":
            # XDP redirects Geneve frames out of the uplink: a veth accepts them only when
            # its peer has NAPI (GRO on, or an XDP program), and the kernel marks the
            # uplink as a redirect target only if GRO is switched on while the peer is up
            run(["ip", "link", "set", root_dev, "up"])
            run(["ethtool", "-K", root_dev, "gro", "on"])

    def start_local_db(self):
        self.rundir.mkdir(parents=True, exist_ok=True)
        run(["ovsdb-tool", "create", str(self.rundir / "conf.db"), VS_SCHEMA])
        self.run(["ovsdb-server", "--detach", "--no-chdir",
                  f"--pidfile={self.pidfile('ovsdb-server')}",
                  f"--unixctl={self.rundir}/ovsdb-server.ctl",
                  f"--remote=punix:{self.rundir}/db.sock",
                  "--remote=db:Open_vSwitch,Open_vSwitch,manager_options",
                  "-vconsole:off", f"--log-file={self.rundir}/ovsdb-server.log",
                  str(self.rundir / "conf.db")])
        self.vsctl("init")
        # exactly the keys ovn-controller reads
        self.vsctl("set", "Open_vSwitch", ".",
                   f"external_ids:system-id={self.name}",
                   f"external_ids:hostname={self.name}",
                   f'external_ids:ovn-remote="{self.sb_remote}"',
                   "external_ids:ovn-encap-type=geneve",
                   f"external_ids:ovn-encap-ip={self.encap_ip}",
                   "external_ids:ovn-bridge-datapath-type=netdev")
        if self.ssl:
            # where ovn-controller (and ours) find the key, certificate and CA for ssl:
            self.vsctl("set-ssl", *self.ssl)

    def start(self, peers):
        """Start this chassis' daemons. `peers` maps encap IP -> MAC of the other chassis."""
        self.start_local_db()
        if self.kind == "ovs":
            self._start_ovs(peers)
        else:
            self._start_ovnbpf()

    def _start_ovnbpf(self):
        # the kernel owns the encap IP (answers ARP; XDP passes non-Geneve traffic up)
        self.run(["ip", "addr", "add", f"{self.encap_ip}/{self.prefixlen}", "dev", UPLINK])
        self.vsctl("add-br", "br-int")      # DB only: where VIF Interfaces are recorded
        self.start_controller()

    @property
    def status_file(self):
        return self.rundir / STATUS_FILE

    def start_controller(self):
        """(Re)start `ovnbpf controller` here; it adopts maps left pinned by a predecessor."""
        ovnbpf = Path(sys.executable).with_name("ovnbpf")
        self.run([str(ovnbpf), "controller", "--ovs-db", self.db_remote, "--detach",
                  f"--pidfile={self.pidfile('ovnbpf-controller')}",
                  f"--log-file={self.rundir}/ovnbpf-controller.log",
                  f"--status-file={self.status_file}", f"--run-dir={self.rundir}",
                  f"--pin-dir={self.pin_dir}", f"--egress-on={self.egress_on}",
                  f"--vif-xdp={self.vif_xdp}"], timeout=60)

    def _start_ovs(self, peers):
        self.run(["ovs-vswitchd", "--detach", "--no-chdir",
                  f"--pidfile={self.pidfile('ovs-vswitchd')}",
                  f"--unixctl={self.rundir}/ovs-vswitchd.ctl",
                  "-vconsole:off", f"--log-file={self.rundir}/ovs-vswitchd.log", self.db_remote])
        # Userspace tunnelling routes through OVS's own table, which needs the encap IP on
        # an OVS bridge of the same datapath: br-phy, with the uplink as its port.
        self.vsctl("add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev",
                   "fail_mode=standalone", f"other-config:hwaddr={uplink_mac(self.encap_ip)}",
                   "--", "add-port", "br-phy", UPLINK,
                   # br-int made by us (ovn-controller adopts it), so VIFs can be added at once
                   "--", "add-br", "br-int", "--", "set", "Bridge", "br-int",
                   "datapath_type=netdev", "fail_mode=secure", "other-config:disable-in-band=true",
                   wait=True)   # wait: ovs-vswitchd must have made br-phy before we address it
        # The kernel must not answer ARP on the uplink as well (duplicate replies, wrong MAC
        # learnt by OVS's tunnel neighbour cache): br-phy owns the address.
        self.run(["ip", "link", "set", UPLINK, "arp", "off"])
        self.run(["ip", "addr", "add", f"{self.encap_ip}/{self.prefixlen}", "dev", "br-phy"])
        self.run(["ip", "link", "set", "br-phy", "up"])
        # OVS drops the first packet to a VTEP whose MAC it has not learnt: pre-seed them all.
        for ip, mac in peers.items():
            self.appctl("ovs-vswitchd", "tnl/neigh/set", "br-phy", ip, mac)
        self.start_ovn_controller()

    def start_ovn_controller(self):
        """(Re)start the real ovn-controller of a `kind: ovs` chassis."""
        self.run(["ovn-controller", "--detach", "--no-chdir",
                  f"--pidfile={self.pidfile('ovn-controller')}",
                  "-vconsole:off", f"--log-file={self.rundir}/ovn-controller.log", self.db_remote])

    def appctl(self, daemon, *args):
        if daemon == "ovn-controller":
            # ovn-controller 23.03 has no --unixctl: its socket carries its pid
            ctl = self.rundir / f"ovn-controller.{read_pidfile(self.pidfile(daemon))}.ctl"
            return run(["ovn-appctl", "-t", str(ctl), *args])
        return run(["ovs-appctl", "-t", str(self.rundir / f"{daemon}.ctl"), *args])

    def uplink_mtu(self):
        """The underlay's MTU as this chassis sees it (its uplink)."""
        return int(self.run(["cat", f"/sys/class/net/{UPLINK}/mtu"]).strip())

    def add_vif(self, vm, vm_netns, plug=True):
        """A VM's veth: `<vm>-p` here, `eth0` in the VM; plugged (below) unless told not."""
        dev = f"{vm.name}-p"
        netns.veth_pair(dev, "eth0", netns=self.netns, peer_netns=vm_netns)
        self.run(["ip", "link", "set", dev, "up"])
        if self.kind == "ovs":
            # OVS userspace reads the guest's frames with AF_PACKET and would forward their
            # partial checksums as they are: the reference completes them on its own side
            csumfill.attach(dev, self.netns)
        if plug:
            self.plug_vif(vm)

    def plug_vif(self, vm):
        """Record the VM's veth in the local OVS DB with its iface-id, as a hypervisor does
        when the VM starts: from here on the chassis binds it."""
        dev = f"{vm.name}-p"
        self.vsctl("add-port", "br-int", dev, "--", "set", "Interface", dev,
                   f"external_ids:iface-id={vm.port}")

    # ---- teardown ------------------------------------------------------------------------

    def stop(self):
        for daemon in self.daemon_names():   # clients before the DB they talk to
            stop_pids([read_pidfile(self.pidfile(daemon))])
            self.pidfile(daemon).unlink(missing_ok=True)

    def log_tail(self, lines=15):
        out = []
        for daemon in self.daemon_names():
            log = self.rundir / f"{daemon}.log"
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {log}\n" + "\n".join(tail))
        return "\n".join(out)


def ping(netns_name, ip, count=2, interval=0.2, wait=1):
    """True if `ip` answers from inside netns_name."""
    try:
        run(["ping", "-c", str(count), "-i", str(interval), "-W", str(wait), "-q", str(ip)],
            netns=netns_name, timeout=count * (interval + wait) + 5)
        return True
    except CommandError:
        return False
