"""The lab with real OVN: reference chassis forward, Raft failover, complete teardown."""
import ipaddress
import json
import subprocess
import sys
import time

import pytest

from topologies.lab import netns, topology
from topologies.lab.lab import Lab, LabError
from topologies.lab.proc import alive
from topologies.lab.topology import VM
from tests.conftest import system_snapshot

pytestmark = [pytest.mark.root, pytest.mark.e2e]


def test_reference_lab_forwards_and_down_leaves_nothing(make_lab):
    before = system_snapshot()
    lab = make_lab("two-chassis", "t1")
    status = lab.status()
    assert [(c["name"], c["kind"], c["healthy"]) for c in status["chassis"]] == [
        ("hv1", "ovs", True), ("hv2", "ovs", True)]
    assert {v["name"]: (v["chassis"], v["ip"]) for v in status["vms"]}["vm5"] == ("hv2", "10.0.2.15")
    assert lab.ping("vm1", "10.0.1.12"), "same chassis"
    assert lab.ping("vm1", "10.0.1.13"), "across chassis (Geneve)"
    assert lab.ping("vm1", "10.0.2.15"), "routed, across chassis"
    assert lab.ping("vm5", "10.0.2.16"), "same switch ls2, across chassis, back"
    assert not lab.ping("vm1", "10.0.1.99", count=1), "nobody has .99: a ping that must fail"
    during = system_snapshot()
    assert {"t1-hv1", "t1-hv2", "t1-vm1"} <= during["netns"]
    lab.down(log=lambda *_: None)
    after = system_snapshot()
    assert after["netns"] == before["netns"]
    assert after["links"] == before["links"]
    assert after["daemons"] <= before["daemons"]


def test_status_json_via_cli(make_lab):
    make_lab("two-chassis", "t2")
    out = subprocess.run([sys.executable, "-m", "controller.cli", "lab", "status", "--name", "t2", "--json"],
                         capture_output=True, text=True, check=True).stdout
    status = json.loads(out)
    assert {"name", "kind", "encap_ip", "healthy"} <= set(status["chassis"][0])
    assert {"name", "chassis", "switch", "mac", "ip"} <= set(status["vms"][0])
    assert status["chassis"][1]["encap_ip"].endswith(".12"), "encap IPs are .11, .12, ... of the underlay"


def test_three_chassis_and_two_labs_coexist(make_lab):
    a = make_lab("two-chassis", "ta")
    b = make_lab("three-chassis", "tb")
    assert a.plan().subnet != b.plan().subnet
    assert b.ping("vm1", "10.0.1.17"), "hv1 -> hv3"
    assert a.ping("vm1", "10.0.1.13"), "lab ta still forwards beside lab tb"
    a.down(log=lambda *_: None)
    assert b.ping("vm7", "10.0.1.13"), "lab tb survives lab ta's teardown"


def test_raft_sb_survives_leader_kill(make_lab, tmp_path):
    text = topology.resolve_path("two-chassis").read_text().replace("sb_cluster: 1", "sb_cluster: 3")
    path = tmp_path / "raft.yaml"
    path.write_text(text)
    lab = make_lab(str(path), "tr")
    central = lab.central()
    leader = central.cluster_leader()
    assert leader in ("sb1", "sb2", "sb3")
    assert lab.ping("vm1", "10.0.1.13")
    central.kill_member(leader)
    new_leader = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and new_leader in (None, leader):
        new_leader = central.cluster_leader()
        time.sleep(0.1)
    assert new_leader not in (None, leader), "a new leader is elected"
    assert lab.ping("vm1", "10.0.1.13"), "existing flows keep forwarding"
    # the deployment still takes changes: a new port, bound on hv2, reaches hv1
    central.nbctl("lsp-add", "ls1", "lsp-new", "--", "lsp-set-addresses", "lsp-new", "0a:00:00:00:01:09 10.0.1.19")
    lab.add_vm(VM("new", "hv2", "ls1", "0a:00:00:00:01:09", ipaddress.IPv4Interface("10.0.1.19/24"), 9, None))
    central.nbctl("--wait=hv", "--timeout=20", "sync", timeout=30)
    assert lab.ping("vm1", "10.0.1.19", count=3)


@pytest.mark.bpf
def test_ovnbpf_chassis_lab_leaves_nothing_behind(tmp_path):
    """Controller processes, pinned maps, the lab's bpffs mount, loop veths: all gone."""
    path = topology.variant("two-chassis", tmp_path, "ebpf", {"hv1": "ovnbpf"})
    before = system_snapshot()
    lab = Lab("tx")
    try:
        lab.up(str(path), log=lambda *_: None)
        during = system_snapshot()
        assert any("tx-hv1" in p for p in during["pins"])
        assert lab.ping("vm1", "10.0.1.13", count=2)      # ovnbpf hv1 -> ovs hv2
    finally:
        lab.down(log=lambda *_: None)
    assert system_snapshot() == before


def test_crash_during_up_is_cleaned_up(unique_netns):
    # A foreign namespace holding a name the lab wants: bring-up fails half way, removes what
    # it made, and leaves the foreign namespace alone.
    subprocess.run(["ip", "netns", "add", "tc-vm3"], check=True)
    try:
        before = system_snapshot()
        with pytest.raises(LabError, match="'tc-vm3' exists already"):
            Lab("tc").up("two-chassis", log=lambda *_: None)
        after = system_snapshot()
        assert after["netns"] == before["netns"] and "tc-vm3" in after["netns"]
        assert after["links"] == before["links"]
        assert after["daemons"] <= before["daemons"]
    finally:
        subprocess.run(["ip", "netns", "del", "tc-vm3"])


def test_exec_runs_in_node_namespace(make_lab):
    make_lab("two-chassis", "te")
    out = subprocess.run([sys.executable, "-m", "controller.cli", "lab", "exec", "--name", "te", "vm3",
                          "--", "ip", "-o", "-4", "addr", "show", "dev", "eth0"],
                         capture_output=True, text=True, check=True).stdout
    assert "10.0.1.13/24" in out
    bad = subprocess.run([sys.executable, "-m", "controller.cli", "lab", "exec", "--name", "te", "vm9", "--", "true"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "has no node 'vm9'" in bad.stderr


def test_ovn_central_fixture_runs_real_northd(ovn_central):
    ovn_central.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "p1", "--", "lsp-add", "sw0", "p2")
    ovn_central.nbctl("--wait=sb", "sync")
    flows = ovn_central.sbctl("--bare", "--columns=match", "find", "Logical_Flow").split("\n")
    assert len([f for f in flows if f.strip()]) > 50, "northd compiled the switch into logical flows"
    assert all(pid and alive(pid) for pid in ovn_central.pids().values())


def test_unique_netns_fixture(unique_netns):
    assert unique_netns in netns.netns_list()
