"""The Vagrant lab: the Vagrantfile validates offline, and its provisioning brings up a
working OVN deployment on machines (here: namespaces standing in for VMs)."""
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from topologies.lab import topology
from topologies.lab.lab import _pick_subnet
from topologies.lab.proc import alive
from tests.conftest import system_snapshot
from tests.vagrant.machines import Machine

pytestmark = [pytest.mark.root]

ROOT = Path(__file__).resolve().parents[2]
VAGRANT_DIR = ROOT / "vagrant"
PROVISION = VAGRANT_DIR / "provision.sh"


def _vagrant(tmp_path, *args, env=None):
    """vagrant in an empty network namespace (nothing can be downloaded) with its state
    (VAGRANT_HOME, .vagrant) in tmp_path."""
    full_env = dict(os.environ, VAGRANT_HOME=str(tmp_path / "home"),
                    VAGRANT_DOTFILE_PATH=str(tmp_path / "dot"), VAGRANT_CHECKPOINT_DISABLE="1",
                    VAGRANT_DEFAULT_PROVIDER="libvirt")
    full_env.update(env or {})
    return subprocess.run(["unshare", "--net", "vagrant", *args], cwd=VAGRANT_DIR, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_vagrantfile_validates_for_libvirt_offline(tmp_path):
    proc = _vagrant(tmp_path, "validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Vagrantfile validated successfully." in proc.stdout
    assert not (VAGRANT_DIR / ".vagrant").exists(), "state stays in VAGRANT_DOTFILE_PATH"


def test_vagrantfile_provider_independent_part_validates_for_virtualbox(tmp_path):
    # VirtualBox is not in Debian: only its provider block cannot be checked here
    proc = _vagrant(tmp_path, "validate", "--ignore-provider",
                    env={"VAGRANT_DEFAULT_PROVIDER": "virtualbox"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_one_hypervisor_per_chassis_of_the_topology(tmp_path):
    proc = _vagrant(tmp_path, "status", "--machine-readable", env={"OVNBPF_TOPOLOGY": "three-chassis"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    states = [l.split(",") for l in proc.stdout.splitlines() if ",provider-name," in l]
    assert [(s[1], s[3]) for s in states] == [("central", "libvirt"), ("hv1", "libvirt"),
                                              ("hv2", "libvirt"), ("hv3", "libvirt")]


def test_vagrantfile_names_a_bad_topology(tmp_path):
    proc = _vagrant(tmp_path, "validate", env={"OVNBPF_TOPOLOGY": "/etc/passwd"})
    assert proc.returncode != 0
    assert "/etc/passwd is not a topology file inside" in proc.stdout + proc.stderr


@pytest.fixture
def machines():
    """central, hv1, hv2 as stand-in VMs on one bridge; all powered off and removed after."""
    topo = topology.load("two-chassis")
    subnet = _pick_subnet(topo)
    tag = uuid.uuid4().hex[:4]
    bridge = f"v{tag}-br"
    made = []
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        subprocess.run(["ethtool", "-K", bridge, "tx", "off"], check=True, capture_output=True)
        for i, name in enumerate(["central", "hv1", "hv2"]):
            m = Machine(name, str(subnet.network_address + 10 + i), subnet.prefixlen, f"v{tag}-{i}")
            made.append(m)
            m.boot(bridge)
        yield subnet, {m.name: m for m in made}
    finally:
        for m in reversed(made):
            m.power_off()
        subprocess.run(["ip", "link", "del", bridge])


def _provision(machine, *args):
    return machine.run("bash", str(PROVISION), str(ROOT), *args, timeout=300)


@pytest.mark.e2e
def test_provisioning_brings_up_the_lab_on_machines(machines):
    subnet, m = machines
    before = system_snapshot()
    topo_file = str(topology.resolve_path("two-chassis"))
    out = _provision(m["central"], "central", topo_file, str(subnet))
    assert f"SB tcp:{subnet.network_address + 10}:6642" in out
    for hv in ("hv1", "hv2"):
        out = _provision(m[hv], "chassis", hv, topo_file, str(subnet))
        assert f"[{hv}] kind ovs" in out and "3 VMs up" in out, out
    assert "uplink" in m["hv1"].run("ip", "-o", "link", "show"), "the NIC became the chassis uplink"
    daemons = {name: mach.daemon_pids() for name, mach in m.items()}
    assert [len(daemons[n]) for n in ("central", "hv1", "hv2")] == [3, 3, 3]

    def vm_ping(hv, vm, ip):
        out = m[hv].run("ip", "netns", "exec", f"vg-{vm}", "ping", "-c2", "-i0.2", "-W1", "-q", ip,
                        check=False)
        return " 0% packet loss" in out

    assert vm_ping("hv1", "vm1", "10.0.1.13"), "vm1@hv1 -> vm3@hv2 over the underlay (Geneve)"
    assert vm_ping("hv2", "vm5", "10.0.2.16"), "vm5@hv2 -> vm6@hv1, ls2"
    assert vm_ping("hv1", "vm1", "10.0.2.15"), "routed, across machines"
    assert not vm_ping("hv1", "vm1", "10.0.1.99"), "nobody has .99"

    # a second provisioning run rebuilds the role (vagrant provision is rerunnable)
    out = _provision(m["hv2"], "chassis", "hv2", topo_file, str(subnet))
    assert "3 VMs up" in out
    assert vm_ping("hv1", "vm2", "10.0.1.14"), "after reprovisioning hv2"

    for name in ("hv2", "hv1", "central"):
        _provision(m[name], "down", name)
    nic = m["hv1"].run("ip", "-o", "-4", "addr", "show", "dev", "eth1")
    assert f"{subnet.network_address + 11}/{subnet.prefixlen}" in nic, "down gives the NIC back"
    assert m["hv1"].run("ip", "netns", "list").strip() == "", "its VMs are gone"
    assert not any(m_.daemon_pids() for m_ in m.values()), "pidfiles removed"
    all_pids = [p for pids in daemons.values() for p in pids]
    assert not any(alive(p) for p in all_pids), "every daemon stopped"
    leftovers = m["hv1"].run("ip", "-o", "link", "show")
    assert not any(dev in leftovers for dev in ("br-phy", "br-int", "ovs-netdev", "uplink"))
    after = system_snapshot()
    # (other labs may come and go meanwhile: look at our names only)
    assert not {n for n in after["netns"] - before["netns"] if n.startswith("vg-")}, \
        "a machine's VMs never show in the root namespace"
    assert not {l for l in after["links"] - before["links"]
                if l in ("uplink", "eth1", "br-phy", "br-int") or l.endswith("-p")}, \
        "machines' links stay in the machines"
