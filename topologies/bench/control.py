"""`ovnbpf bench control`: control-plane figures, measured side by side in one lab run.

- port latency: `ovn-nbctl lsp-add` of a port whose VIF already exists -> the first echo
  reply that VIF receives from a VM on the same switch, for an ovnbpf chassis and for a
  reference ovs chassis in the same lab (ms; min/median/max over N trials each);
- that port latency split in two: `sb_ms`, lsp-add -> the port's Port_Binding row
  reaching an SB client of the bench's own (ovn-nbctl, ovn-northd and the SB: the same
  for both kinds, and no chassis' doing), and `chassis_ms`, that moment -> the first echo
  reply: what the chassis itself takes (its SB session, its programming, the datapath);
- bind latency (`bind_ms`): the logical port already exists and its VM's veth too; the
  Interface with external_ids:iface-id goes into the local OVS DB (what a hypervisor does
  when the VM starts) -> the first echo reply. Only the chassis is on this path;
- recompiles the ovnbpf chassis did during those trials (ports are map updates: 0);
- SB bytes a chassis receives with conditional monitoring (its related datapaths) and
  without (everything), in the same lab;
- resync bytes: what a reconnect of the conditional session costs: with monitor_cond_since
  and server history (a Raft SB keeps it) only the missed updates and the _Server
  database come back; a standalone SB keeps no history and resends everything
  (`resync_full` says which happened).

The SB byte figures are taken after adding OTHER_TENANTS switches with ports that no
chassis hosts, as in a real deployment where a chassis needs a fraction of the datapaths.
"""
import ipaddress
import json
import statistics
import subprocess
import sys
import tempfile
import time

from topologies.lab.cli import ERRORS  # noqa: F401  reported as "error: message"
from controller.db.southbound import Southbound
from controller.local_datapaths import related_datapaths
from topologies.lab import topology
from topologies.lab.lab import Lab
from topologies.lab.netns import run

HELP = "VIF bind -> first forwarded packet, SB bytes"   # `ovnbpf bench control` (entry point ovnbpf.benches)


# One echo request a millisecond until the first reply; it sleeps in select() between
# them (a busy loop would take one of our two cores from the daemons being measured).
ECHO = r"""
import select, socket, struct, sys, time
dst, deadline = sys.argv[1], time.time() + float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.setblocking(False)
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff)
    return ~(t + (t >> 16)) & 0xffff
seq = 0
while time.time() < deadline:
    seq += 1
    h = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq & 0xffff)
    s.sendto(struct.pack("!BBHHH", 8, 0, csum(h), 0x4242, seq & 0xffff), (dst, 0))
    end = time.time() + 0.001
    while True:
        left = end - time.time()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            break
        data = s.recv(2048)
        if data[20] == 0:
            print(repr(time.time())); sys.exit(0)
sys.exit(1)
"""


def add_arguments(p):
    p.add_argument("--trials", type=int, default=10, help="trials per chassis kind (default 10)")
    p.add_argument("--lab", "--name", dest="name", default="bctl", help="lab name to use (default bctl)")
    p.add_argument("--sb-cluster", type=int, choices=(1, 3), default=1,
                   help="1 = one SB ovsdb-server (default), 3 = a Raft cluster")


OTHER_TENANTS = 4        # switches no chassis of the bench hosts, 4 ports each


class SbWatch:
    """When each Port_Binding row first reaches an SB client: a thread with its own IDL
    session on Port_Binding.logical_port only, so its updates are small and prompt."""

    def __init__(self, remote):
        import threading
        import ovs.db.idl
        from controller.db.southbound import SB_SCHEMA
        helper = ovs.db.idl.SchemaHelper(location=SB_SCHEMA)
        helper.register_columns("Port_Binding", ["logical_port"])
        self.idl = ovs.db.idl.Idl(remote, helper)
        self.seen: dict[str, float] = {}
        self.stop = False
        self.thread = threading.Thread(target=self._run, name="sb-watch", daemon=True)
        self.thread.start()

    def _run(self):
        import ovs.poller
        woke = time.time()
        while not self.stop:
            self.idl.run()
            # a row's time is when its update became readable, not when we had parsed it
            for row in self.idl.tables["Port_Binding"].rows.values():
                self.seen.setdefault(row.logical_port, woke)
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(50)
            poller.block()
            woke = time.time()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.idl.close()


def _one_trial(lab, chassis, target, index, watch=None):
    """Plug a VIF, then create its logical port; (ms until it gets an echo reply, ms of
    that after its Port_Binding reached the SB watch), or None."""
    name = f"b{chassis[-1]}{index}"
    key = 200 + index * 2 + (chassis == "hv2")
    ip = ipaddress.IPv4Interface(f"10.0.1.{key}/24")
    mac = f"0a:00:00:00:0b:{key:02x}"
    vm = topology.VM(name, chassis, "ls1", mac, ip, key, None)
    lab.add_vm(vm)
    probe = _probe(lab, vm, target)     # running before the port exists
    t0 = time.time()
    lab.central().nbctl("lsp-add", "ls1", vm.port, "--", "lsp-set-addresses", vm.port,
                        f"{mac} {ip.ip}")
    reply = _first_reply(probe)
    if reply is None:
        return None
    sb = watch.seen.get(vm.port) if watch else None
    return (reply - t0) * 1000.0, (sb - t0) * 1000.0 if sb else None, \
        (reply - sb) * 1000.0 if sb else None


def _bind_trial(lab, chassis, target, index):
    """The logical port exists (lsp-add, SB synced) and its VM's veth exists; plug it into
    the local OVS DB with its iface-id, as a hypervisor does when the VM starts: ms until
    the VM gets an echo reply. No northd on this path: the chassis alone."""
    name = f"c{chassis[-1]}{index}"
    key = 100 + index * 2 + (chassis == "hv2")
    ip = ipaddress.IPv4Interface(f"10.0.1.{key}/24")
    mac = f"0a:00:00:00:0c:{key:02x}"
    port = f"lsp-{name}"
    central = lab.central()
    central.nbctl("lsp-add", "ls1", port, "--", "lsp-set-addresses", port, f"{mac} {ip.ip}")
    central.nbctl("--wait=sb", "sync")
    vm = topology.VM(name, chassis, "ls1", mac, ip, key, None)
    lab.add_vm(vm, plug=False)
    probe = _probe(lab, vm, target)     # running before the VIF is plugged
    t0 = time.time()
    lab.plug_vm(vm)
    reply = _first_reply(probe)
    return None if reply is None else (reply - t0) * 1000.0


def _probe(lab, vm, target):
    """Static neighbours both ways (the figures are port programming, not ARP), then the
    echo sender in the VM, given a moment to be running."""
    plan = lab.plan()
    ns = plan.vm_netns(vm.name)
    tgt = next(v for v in plan.topo.vms if v.name == target)
    run(["ip", "neigh", "replace", str(tgt.ip.ip), "lladdr", tgt.mac, "dev", "eth0"], netns=ns)
    run(["ip", "neigh", "replace", str(vm.ip.ip), "lladdr", vm.mac, "dev", "eth0"],
        netns=plan.vm_netns(target))
    probe = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", ECHO,
                              str(tgt.ip.ip), "20"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.25)
    return probe


def _first_reply(probe):
    """When the first echo reply came (epoch seconds), or None."""
    out, _ = probe.communicate(timeout=30)
    return float(out.strip()) if probe.returncode == 0 else None


def _summary(values):
    ok = [v for v in values if v is not None]
    if not ok:
        return {"min": None, "median": None, "max": None, "n": 0, "failed": len(values)}
    return {"min": round(min(ok), 2), "median": round(statistics.median(ok), 2),
            "max": round(max(ok), 2), "n": len(ok), "failed": len(values) - len(ok)}


def _other_tenants(central):
    cmds = []
    for t in range(1, OTHER_TENANTS + 1):
        cmds += ["--", "ls-add", f"ot{t}"]
        for p in range(1, 5):
            cmds += ["--", "lsp-add", f"ot{t}", f"ot{t}-p{p}", "--", "lsp-set-addresses",
                     f"ot{t}-p{p}", f"0a:00:00:00:{0x40 + t:02x}:{p:02x} 10.{100 + t}.0.{p}"]
    central.nbctl(*cmds[1:])
    central.nbctl("--wait=sb", "sync")


def _sb_bytes(lab):
    """Bytes one chassis' session receives with and without conditions, and on a resync."""
    _other_tenants(lab.central())
    remote = lab.central().sb_remote
    full = Southbound(remote, "", conditional=False)
    full.run_until(full.connected)
    snap = full.snapshot()
    bound = {p.logical_port for p in snap.ports if p.chassis == "hv1"}
    local = related_datapaths(snap.ports, bound)
    cond = Southbound(remote, "", conditional=True)
    cond.run_until(cond.connected)
    cond.set_local(local, bound)
    want = sum(1 for f in snap.flows if set(f.datapaths) & local)
    cond.run_until(lambda: len(cond.snapshot().flows) == want, what="the local flows")
    out = {"conditional": cond.rx_bytes(), "full": full.rx_bytes()}
    cond.idl.force_reconnect()
    cond.run_until(lambda: cond.connections >= 2 and cond.connected(), what="the resync")
    resync = cond.sync_bytes[-1]          # the new connection, until it monitors again
    resync_full = cond.full_resyncs > 0
    full.close()
    cond.close()
    return out, resync, resync_full


def bench(args):
    trials = getattr(args, "trials", 10)
    lab = Lab(getattr(args, "name", None) or "bctl")
    with tempfile.TemporaryDirectory() as tmp:
        path = topology.variant("two-chassis", tmp, "benchctl", {"hv1": "ovnbpf", "hv2": "ovs"})
        sb_cluster = getattr(args, "sb_cluster", 1)
        if sb_cluster != 1:
            import yaml
            data = yaml.safe_load(path.read_text())
            data["sb_cluster"] = sb_cluster
            path.write_text(yaml.safe_dump(data))
        lab.up(str(path), log=lambda *_: None)
        try:
            status = lambda: json.loads(next(n for n in lab.nodes() if n.name == "hv1")  # noqa
                                        .status_file.read_text())
            before = status()["counters"]["recompiles"]
            ovnbpf, reference = [], []
            watch = SbWatch(lab.central().sb_remote)
            try:
                for i in range(trials):      # interleaved: both kinds see the same conditions
                    ovnbpf.append(_one_trial(lab, "hv1", "vm1", i, watch))
                    reference.append(_one_trial(lab, "hv2", "vm3", i, watch))
            finally:
                watch.close()
            bind = {"ovnbpf": [], "reference": []}
            for i in range(trials):
                bind["ovnbpf"].append(_bind_trial(lab, "hv1", "vm1", i))
                bind["reference"].append(_bind_trial(lab, "hv2", "vm3", i))
            after = status()
            recompiles = after["counters"]["recompiles"] - before
            compiles = after.get("pipeline", {}).get("compiles", {})
            sb, resync, resync_full = _sb_bytes(lab)
        finally:
            lab.down(log=lambda *_: None)
    col = lambda trials, i: [t[i] if t else None for t in trials]  # noqa: E731
    return {"ovnbpf_ms": _summary(col(ovnbpf, 0)), "reference_ms": _summary(col(reference, 0)),
            "sb_ms": _summary(col(ovnbpf, 1) + col(reference, 1)),
            "chassis_ms": {"ovnbpf": _summary(col(ovnbpf, 2)),
                           "reference": _summary(col(reference, 2))},
            "bind_ms": {kind: _summary(v) for kind, v in bind.items()},
            "compiles": compiles, "recompiles": recompiles, "sb_bytes": sb, "resync_bytes": resync,
            "resync_full": resync_full, "sb_cluster": sb_cluster}


if __name__ == "__main__":
    print(json.dumps(bench(None), indent=1))
    sys.exit(0)
