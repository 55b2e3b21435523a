"""Mininet topologies with real OVN: pingall among the VM hosts, then nothing left behind."""
import json
import subprocess
import sys
import uuid

import pytest

from topologies.lab.lab import Lab, lab_dir
from topologies.lab.proc import alive, read_pidfile
from tests.conftest import system_snapshot
from topologies.mininet import mixed_kinds, two_chassis
from topologies.mininet.net import MininetLab

pytestmark = [pytest.mark.root, pytest.mark.e2e]

# names Mininet uses inside host namespaces: none of them may show up in the root one
HOST_SIDE_LINKS = {"uplink", "eth0"}


def _lab_name():
    return "m" + uuid.uuid4().hex[:4]


def _ours(names, lab):
    return {n for n in names if n.startswith(f"{lab}-") or n in HOST_SIDE_LINKS or n.endswith("-p")}


@pytest.fixture
def mininet_lab():
    """Factory: mininet_lab(topology) -> a MininetLab that is up; always brought down."""
    made = []

    def _make(topology_ref):
        lab = MininetLab(topology_ref, _lab_name(), log=lambda *_: None)
        made.append(lab)
        lab.up()
        return lab

    try:
        yield _make
    finally:
        for lab in made:
            lab.down()


def _recorded_pids(name):
    state = json.loads((lab_dir(name) / "state.json").read_text())
    return [read_pidfile(p) for p in state["pidfiles"]]


def test_two_chassis_pingall_and_down_leaves_nothing(mininet_lab):
    before = system_snapshot()
    lab = mininet_lab(two_chassis.TOPOLOGY)
    name = lab.name
    during = system_snapshot()
    assert {f"{name}-hv1", f"{name}-hv2", f"{name}-vm6"} <= during["netns"]
    assert {f"{name}-ubr", f"{name}-ubr1", f"{name}-ubr2"} <= during["links"]
    assert not (HOST_SIDE_LINKS & (during["links"] - before["links"])), "host links stay in hosts"
    daemon_pids = _recorded_pids(name)
    assert len(daemon_pids) == 3 + 2 * 3 and all(p and alive(p) for p in daemon_pids)
    shells = [h.pid for h in lab.net.hosts + lab.net.switches]

    # the lab's own tools see a Mininet lab like any other
    status = Lab(name).status()
    assert [(c["name"], c["healthy"]) for c in status["chassis"]] == [("hv1", True), ("hv2", True)]

    assert lab.pingall() == 0, "Mininet pingall among the six VM hosts loses nothing"
    host = lab.net.get("vm1")
    out = host.cmd("ping -c1 -W1 10.0.1.99")
    assert "1 received" not in out, "nobody owns .99: a ping that must fail"

    lab.down()
    after = system_snapshot()
    assert not _ours(after["netns"] - before["netns"], name)
    assert not _ours(after["links"] - before["links"], name)
    assert not any(alive(p) for p in daemon_pids), "every daemon we started is stopped"
    assert not any(alive(p) for p in shells), "every Mininet host shell is gone"
    assert not lab_dir(name).exists()


def test_mixed_kinds_pingall(mininet_lab):
    """hv1 + hv3 ovnbpf, hv2 ovs: all pairs, both ways across eBPF and OVS Geneve."""
    lab = mininet_lab(mixed_kinds.TOPOLOGY)
    assert lab.pingall() == 0


def test_runner_script_end_to_end():
    """`python -m topologies.mininet.two_chassis` as a user runs it: pingall, exit 0."""
    proc = subprocess.run([sys.executable, "-m", "topologies.mininet.two_chassis", "--name",
                           _lab_name()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Mininet logs its ping matrix on stderr
    assert "*** Results: 0% dropped (30/30 received)" in proc.stderr


def test_topo_api_script_end_to_end():
    """A topology written in Python (topologies/mininet/routed.py, the Topo API) run as a
    user runs it: an ovnbpf and an OVS chassis, routed pingall, the lab named by the
    script's --name, the lab's own tools reading it while up, nothing left after."""
    name = "v" + uuid.uuid4().hex[:4]
    proc = subprocess.Popen([sys.executable, "-c", (
        "import sys, json; from topologies.mininet.routed import Routed; "
        "from topologies.mininet.net import MininetLab; from topologies.lab.lab import Lab\n"
        f"with MininetLab(Routed(vms=1), {name!r}, log=lambda *_: None) as lab:\n"
        "    status = Lab(lab.name).status()\n"
        "    print(json.dumps({'loss': lab.pingall(), 'topology': status['topology'],\n"
        "                      'chassis': [(c['name'], c['kind'], c['healthy']) for c in status['chassis']]}))\n")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    got = json.loads(out.strip().splitlines()[-1])
    assert got == {"loss": 0, "topology": "routed",
                   "chassis": [["hv1", "ovnbpf", True], ["hv2", "ovs", True]]}
    assert not lab_dir(name).exists()
