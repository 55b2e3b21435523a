"""The Southbound goes away and comes back, with ovnbpf chassis under traffic: a restart of
the SB ovsdb-server (same DB file), a Raft leader kill, and an SB reachable only over
SSL/TLS. Real ovsdb-servers, ovn-northd and ovn-nbctl; pings cross the eBPF datapath only.

Losses are counted (must be zero); reconnect figures are printed, never asserted on time.
"""
import contextlib
import ipaddress
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from topologies.lab import topology
from topologies.lab.central import SB_PORT
from topologies.lab.proc import run, wait_for

from tests.conftest import running_lab
from tests.controller.traffic import background_ping, loss, status

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

CHASSIS = ("hv1", "hv2")


def ebpf_topology(tmp, name, kinds=None, **extra):
    """two-chassis with both chassis ovnbpf (or `kinds`), plus top-level keys (sb_cluster,
    sb_ssl)."""
    path = topology.variant("two-chassis", tmp, name, kinds or {"*": "ovnbpf"})
    data = yaml.safe_load(path.read_text())
    data.update(extra)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def lab_factory(tmp_path_factory):
    """Module-scoped labs (names start with "sb"), every one taken down at the end."""
    with contextlib.ExitStack() as labs:
        yield lambda name, kinds=None, **extra: labs.enter_context(running_lab(
            name, ebpf_topology(tmp_path_factory.mktemp(name), name, kinds, **extra)))


def reconnected(lab, before):
    """Every chassis in `before` has a newer connection than then and is monitoring."""
    def check():
        now = {hv: status(lab, hv)["sb"] for hv in before}
        return all(s["connected"] and s["connections"] > before[hv]["sb"]["connections"]
                   for hv, s in now.items())
    return check


def figures(what, lab, before):
    for hv, b in before.items():
        a = status(lab, hv)
        print(f"[figure] {what} {hv}: connections {b['sb']['connections']} -> "
              f"{a['sb']['connections']} (now {a['sb']['member']}), "
              f"sync bytes per connection {a['sb']['sync_bytes']}, "
              f"full resyncs {b['sb']['full_resyncs']} -> {a['sb']['full_resyncs']}, "
              f"rx bytes +{a['sb']['rx_bytes'] - b['sb']['rx_bytes']}, "
              f"recompiles {b['counters']['recompiles']} -> {a['counters']['recompiles']}")


def new_port_works(lab, name, key, chassis="hv2"):
    """A logical port created now, bound on `chassis`, answers vm1 (on hv1)."""
    ip = f"10.0.1.{key + 10}"
    mac = f"0a:00:00:00:01:{key:02x}"
    lab.central().nbctl("lsp-add", "ls1", f"lsp-{name}", "--", "lsp-set-addresses",
                        f"lsp-{name}", f"{mac} {ip}")
    lab.add_vm(topology.VM(name, chassis, "ls1", mac, ipaddress.IPv4Interface(f"{ip}/24"),
                           key, ipaddress.IPv4Address("10.0.1.1")))
    lab.central().nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)
    return lab.ping("vm1", ip, count=3)


# ---- 1. SB restart -----------------------------------------------------------------------

def test_sb_restart_keeps_forwarding_and_resyncs_without_recompiling(lab_factory):
    lab = lab_factory("sbr1")
    central = lab.central()
    before = {hv: status(lab, hv) for hv in CHASSIS}
    # bring-up builds programs for seconds: the controller still answers the SB's
    # inactivity probes meanwhile, so it has never been dropped
    assert [before[hv]["sb"]["connections"] for hv in CHASSIS] == [1, 1]
    probe = background_ping(lab, "vm1", "10.0.1.13", count=600)   # across chassis, 100 pps
    time.sleep(0.5)
    t0 = time.monotonic()
    central.restart_sb()
    wait_for(reconnected(lab, before), timeout=30, interval=0.05, what="chassis to reconnect")
    took = time.monotonic() - t0
    sent, lost = loss(probe)
    print(f"\n[figure] SB restart under 100 pps: {sent} sent, {lost} lost; "
          f"both chassis monitoring again {took:.2f} s after the restart began")
    figures("SB restart", lab, before)
    assert sent == 600 and lost == 0
    for hv in CHASSIS:
        assert status(lab, hv)["counters"]["recompiles"] == before[hv]["counters"]["recompiles"], \
            "a reconnect with the same contents is not a reprogram"
    assert new_port_works(lab, "vm9", 9), "a port added after the reconnect forwards"


# ---- 2. Raft leader kill -----------------------------------------------------------------

def member_index(remote):
    return int(remote.rsplit(":", 1)[1]) - SB_PORT + 1      # tcp:IP:6642 -> sb1


def wait_rejoined(central, name):
    def follower_or_leader():
        try:
            out = run(["ovs-appctl", "-t", f"{central.rundir}/{name}.ctl", "cluster/status",
                       "OVN_Southbound"], timeout=5)
        except Exception:
            return False
        return "Role: follower" in out or "Role: leader" in out
    wait_for(follower_or_leader, timeout=30, interval=0.1, what=f"{name} to rejoin the cluster")


def test_raft_leader_kill_keeps_forwarding_and_reconnects(lab_factory):
    lab = lab_factory("sbr3", sb_cluster=3)
    central = lab.central()
    leader = central.cluster_leader()
    assert leader in ("sb1", "sb2", "sb3")
    before = {hv: status(lab, hv) for hv in CHASSIS}
    on = {hv: f"sb{member_index(s['sb']['member'])}" for hv, s in before.items()}
    probe = background_ping(lab, "vm1", "10.0.2.15", count=1000)   # routed, cross-chassis
    time.sleep(0.5)
    central.kill_member(leader)
    wait_for(lambda: central.cluster_leader() not in (None, leader), timeout=15, interval=0.1,
             what="a new leader")
    killed = [leader]
    victims = {hv: b for hv, b in before.items() if on[hv] == leader}
    if not victims:
        # neither chassis happened to talk to the leader: bring it back as a follower, then
        # stop the member hv1 talks to, so a chassis does lose its server (quorum holds: 2 of 3)
        central.start_sb_member(leader)
        wait_rejoined(central, leader)
        victims = {"hv1": status(lab, "hv1")}
        central.kill_member(on["hv1"])
        killed.append(on["hv1"])
        wait_for(lambda: central.cluster_leader() is not None, timeout=15, interval=0.1,
                 what="a leader")
    wait_for(reconnected(lab, victims), timeout=30, interval=0.05, what="chassis to reconnect")
    sent, lost = loss(probe)
    print(f"\n[figure] Raft: killed {', '.join(killed)} (leader {leader}) under 100 pps: "
          f"{sent} sent, {lost} lost; chassis were on {on}")
    figures("Raft kill", lab, before)
    assert sent == 1000 and lost == 0
    for hv in victims:
        now = status(lab, hv)["sb"]
        assert f"sb{member_index(now['member'])}" not in killed, "moved to a live member"
    for hv in CHASSIS:
        assert status(lab, hv)["counters"]["recompiles"] == before[hv]["counters"]["recompiles"]
    assert new_port_works(lab, "vm9", 9), "a port added after the failover forwards"


# ---- 3. SSL --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ssl_lab(lab_factory):
    # hv2 runs the real ovn-controller: the lab's SSL setup is what it expects, too
    return lab_factory("sbs1", kinds={"hv1": "ovnbpf", "hv2": "ovs"}, sb_ssl=True)


def test_ssl_southbound_chassis_connect_and_forward(ssl_lab):
    for node in ssl_lab.nodes():
        remote = node.vsctl("get", "Open_vSwitch", ".", "external_ids:ovn-remote").strip().strip('"')
        assert remote.startswith("ssl:")
        ssl_row = node.vsctl("get-ssl")
        assert "Private key" in ssl_row and "CA Certificate" in ssl_row
    assert ssl_lab.central().chassis_names() >= {"hv1", "hv2"}, "both kinds registered over SSL"
    st = status(ssl_lab, "hv1")
    assert st["sb"]["connected"] and st["sb"]["member"].startswith("ssl:")
    assert ssl_lab.ping("vm1", "10.0.1.13"), "ovnbpf hv1 -> ovs hv2"
    assert ssl_lab.ping("vm1", "10.0.2.15"), "routed, across chassis"
    assert ssl_lab.ping("vm5", "10.0.1.12"), "ovs hv2 -> ovnbpf hv1, routed"


def test_ssl_wrong_ca_is_refused_with_a_clear_log_line(ssl_lab, tmp_path):
    """hv1's SSL table names a key, certificate and CA from another PKI: a controller
    started with it says why it cannot connect and never claims to be connected."""
    node = next(n for n in ssl_lab.nodes() if n.name == "hv1")
    central = ssl_lab.central()
    other = tmp_path / "other-pki"
    central.make_ca(pki=other, cn="some other CA")
    wrong = [str(p) for p in central.issue_cert("hv1", pki=other)]
    right = [str(p) for p in central.ssl_files("hv1")]
    log = tmp_path / "wrong.log"
    st_file = tmp_path / "wrong.status.json"
    pin_dir = Path(node.pin_dir + "-wrongca")
    ovnbpf = Path(sys.executable).with_name("ovnbpf")
    proc = None
    try:
        node.vsctl("set-ssl", *wrong)
        proc = subprocess.Popen(["ip", "netns", "exec", node.netns, str(ovnbpf), "controller",
                                 "--ovs-db", node.db_remote, f"--log-file={log}",
                                 f"--status-file={st_file}", f"--run-dir={tmp_path / 'run'}",
                                 f"--pin-dir={pin_dir}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        line = wait_for(lambda: next((l for l in (log.read_text() if log.exists() else "").splitlines()
                                      if "cannot connect to the Southbound" in l), None),
                        timeout=20, interval=0.1, what="the refusal in the log")
        print(f"\n[log] {line}")
        assert "refuse the server's certificate" in line and "ssl:" in line
        st = json.loads(st_file.read_text())
        assert st["sb"]["connected"] is False and "certificate" in st["sb"]["problem"]
        assert proc.poll() is None or proc.returncode != 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        node.vsctl("set-ssl", *right)
        shutil.rmtree(pin_dir, ignore_errors=True)
    assert status(ssl_lab, "hv1")["sb"]["connected"], "the real controller is untouched"
    assert ssl_lab.ping("vm1", "10.0.1.13")
