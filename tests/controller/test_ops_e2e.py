"""What an operator sees on an ovnbpf chassis (issue 13): the Southbound's state told
truthfully through an outage, a start-up against a Southbound that does not answer,
`ovs-vsctl` without --no-wait, and a transient new flow shape costing one rebuild.
Real ovsdb-servers, ovn-northd and kernel programs; lab names start with "o"."""
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from topologies.lab import topology
from topologies.lab.proc import run, stop_pids, wait_for

from tests.conftest import running_lab
from tests.controller.traffic import status

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    path = topology.variant("two-chassis", tmp_path_factory.mktemp("topo"), "ops",
                            {"*": "ovnbpf"})
    with running_lab(os.environ.get("OVNBPF_OPS_LAB", "o1"), path) as lab:
        yield lab


def node(lab, name="hv1"):
    return next(n for n in lab.nodes() if n.name == name)


def log_text(lab, hv="hv1"):
    return (node(lab, hv).rundir / "ovnbpf-controller.log").read_text()


# ---- 1. status tells the truth -----------------------------------------------------------

def test_sb_outage_is_reported_while_it_lasts(lab):
    """The SB server stops answering (SIGSTOP: TCP stays up) for 20 s while hv1 claims a
    newly plugged VM: the claim's transaction waits for the server, yet the loss is logged
    and the status file rewritten with the truth before the server comes back."""
    central = lab.central()
    central.nbctl("lsp-add", "ls1", "lsp-vm7", "--", "lsp-set-addresses", "lsp-vm7",
                  "0a:00:00:00:01:07 10.0.1.17")
    central.nbctl("--wait=sb", "sync")
    vm = topology.VM("vm7", "hv1", "ls1", "0a:00:00:00:01:07",
                     ipaddress.IPv4Interface("10.0.1.17/24"), 7, ipaddress.IPv4Address("10.0.1.1"))
    lab.add_vm(vm, plug=False)
    time.sleep(1.0)   # the replica has lsp-vm7 (conditions cover ls1)
    sb_pid = central.pids()["sb"]
    log_before = len(log_text(lab))
    os.kill(sb_pid, signal.SIGSTOP)
    samples = []
    try:
        lab.plug_vm(vm)          # hv1 claims it: a transaction the stopped server never answers
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            f = node(lab).status_file
            samples.append((time.monotonic() - t0, time.time() - f.stat().st_mtime,
                            json.loads(f.read_text())["sb"]))
            time.sleep(0.5)
        during = log_text(lab)[log_before:]
    finally:
        os.kill(sb_pid, signal.SIGCONT)
    last_t, age, sb = samples[-1]
    print(f"\n[figure] status after {last_t:.1f} s of SB outage: file {age:.1f} s old, "
          f"sb {json.dumps({k: sb.get(k) for k in ('connected', 'state', 'last_message_s_ago', 'attempts', 'last_failure')})}")
    print("[log] " + "\n[log] ".join(l[:200] for l in during.splitlines()))
    assert "lost the Southbound" in during, "the loss is logged while the outage lasts"
    assert age < 5, "the status file keeps being written while the SB is away"
    assert sb["connected"] is False and sb["state"] != "active"
    assert sb["last_message_s_ago"] >= 5 and sb["last_failure"]
    # the server returns: the claim goes through, the VM forwards
    wait_for(lambda: status(lab, "hv1")["sb"]["connected"], timeout=60, interval=0.2,
             what="hv1 to reconnect")
    central.wait_ports_up(["lsp-vm7"], timeout=60)
    assert lab.ping("vm7", "10.0.1.13", count=2)
    assert status(lab, "hv1")["sb"]["state"] == "active"


# ---- 2. start-up without a Southbound -------------------------------------------------------

def test_start_without_southbound_retries_then_connects(lab, tmp_path):
    """hv1's controller restarted with an ovn-remote nothing listens on: it stays up past
    its start-up patience (--sb-wait-warn; the old code exited at the same point), says why
    in the log and the status file, and connects and programs once the SB listens there.
    (It attaches nothing before that: the pinned programs keep forwarding meanwhile.)"""
    n = node(lab)
    central = lab.central()
    real = n.vsctl("get", "Open_vSwitch", ".", "external_ids:ovn-remote").strip().strip('"')
    sb_ip = real.split(":")[1]
    port = 6699
    dead = f"tcp:{sb_ip}:{port}"
    log = tmp_path / "ctl.log"
    st_file = tmp_path / "ctl.status.json"
    ovnbpf = Path(sys.executable).with_name("ovnbpf")
    stop_pids([n.pids()["ovnbpf-controller"]])
    n.pidfile("ovnbpf-controller").unlink(missing_ok=True)
    proc = None
    added = False
    try:
        n.vsctl("set", "Open_vSwitch", ".", f'external_ids:ovn-remote="{dead}"')
        proc = subprocess.Popen(["ip", "netns", "exec", n.netns, str(ovnbpf), "controller",
                                 "--ovs-db", n.db_remote, f"--log-file={log}", "--sb-wait-warn=2",
                                 f"--status-file={st_file}", f"--run-dir={tmp_path / 'run'}",
                                 f"--pin-dir={n.pin_dir}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: st_file.exists() and json.loads(st_file.read_text())["sb"].get("attempts", 0) >= 3,
                 timeout=60, interval=0.2, what="three failed attempts in the status file")
        # past --sb-wait-warn: the old code exited there
        wait_for(lambda: "still trying" in log.read_text() or proc.poll() is not None,
                 timeout=60, interval=0.2, what="the start-up patience to run out")
        text = log.read_text()
        print("\n[log] " + "\n[log] ".join(l[:200] for l in text.splitlines()))
        assert proc.poll() is None, "still running, still trying"
        sb = json.loads(st_file.read_text())["sb"]
        assert sb["connected"] is False and "refused" in sb["last_failure"].lower()
        assert "cannot reach the Southbound" in text and "attempt 1" in text
        assert text.count("cannot reach the Southbound") == 1, "each reason is logged once"
        assert "still trying" in text
        assert "datapath pinned" not in text, "nothing is attached before the SB answers"
        # the SB starts listening there: the controller connects and programs
        run(["ovs-appctl", "-t", f"{central.rundir}/sb.ctl", "ovsdb-server/add-remote",
             f"ptcp:{port}:{sb_ip}"])
        added = True
        wait_for(lambda: json.loads(st_file.read_text())["sb"]["connected"], timeout=60,
                 interval=0.2, what="the controller to connect")
        wait_for(lambda: "claimed lsp-vm1" in log.read_text(), timeout=60, interval=0.2,
                 what="the claims")
        assert lab.ping("vm1", "10.0.1.13", count=2), "programmed: forwards across chassis"
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        n.vsctl("set", "Open_vSwitch", ".", f'external_ids:ovn-remote="{real}"')
        if added:
            run(["ovs-appctl", "-t", f"{central.rundir}/sb.ctl", "ovsdb-server/remove-remote",
                 f"ptcp:{port}:{sb_ip}"])
        n.start_controller()
    wait_for(lambda: status(lab, "hv1")["sb"]["connected"], timeout=60, interval=0.2,
             what="the lab's controller back")


# ---- 3. ovs-vsctl without --no-wait ----------------------------------------------------------

def test_ovs_vsctl_without_no_wait_returns(lab):
    n = node(lab)
    try:
        n.run(["ovs-vsctl", f"--db={n.db_remote}", "--timeout=20", "add-port", "br-int", "ox1",
               "--", "set", "Interface", "ox1", "external_ids:iface-id=nothing"], timeout=30)
        cur = n.vsctl("get", "Open_vSwitch", ".", "cur_cfg").strip()
        nxt = n.vsctl("get", "Open_vSwitch", ".", "next_cfg").strip()
        assert cur == nxt
    finally:
        n.vsctl("--if-exists", "del-port", "br-int", "ox1")


# ---- 5. a transient new shape costs at most one rebuild -----------------------------------------

def test_transient_new_shape_costs_one_rebuild(lab):
    """A foreign Logical_Flow of a shape hv1 does not run appears, then goes (northd is
    held meanwhile so the row lives until we remove it): one rebuild, not two."""
    central = lab.central()
    wait_for(lambda: status(lab, "hv1")["counters"]["recompiles"] >= 1, timeout=60,
             interval=0.2, what="hv1 programmed")
    central.nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)
    dp = central.sbctl("--bare", "--columns=_uuid", "find", "Datapath_Binding",
                       "external_ids:name=ls1").strip()
    before = status(lab, "hv1")["counters"]["recompiles"]
    northd = central.pids()["northd"]
    os.kill(northd, signal.SIGSTOP)
    try:
        uuid = central.sbctl("create", "Logical_Flow", f"logical_datapath={dp}",
                             "pipeline=ingress", "table_id=9", "priority=33333",
                             'match="ip4.dst == 10.9.9.9 && udp.dst == 4242"', 'actions="drop;"',
                             "external_ids:stage-name=ls_in_foreign").strip()
        wait_for(lambda: status(lab, "hv1")["counters"]["recompiles"] > before,
                 timeout=60, interval=0.2, what="the new shape built")
        central.sbctl("--if-exists", "destroy", "Logical_Flow", uuid)
        wait_for(lambda: status(lab, "hv1")["pipeline"]["compiles"]["full"]
                 + status(lab, "hv1")["pipeline"]["compiles"]["delta"] > 0 and
                 uuid not in status(lab, "hv1")["pipeline"]["cookies"].values(),
                 timeout=60, interval=0.2, what="the row's removal compiled")
    finally:
        os.kill(northd, signal.SIGCONT)
    central.nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)
    st = status(lab, "hv1")
    print(f"\n[figure] foreign row added and removed: recompiles {before} -> "
          f"{st['counters']['recompiles']}; compiles {st['pipeline']['compiles']}")
    assert st["counters"]["recompiles"] - before <= 1
    assert lab.ping("vm1", "10.0.1.13", count=2)


# ---- 4. a VIF without NAPI is reported --------------------------------------------------------

def test_vif_without_napi_is_reported(lab):
    """The guest turns GRO off on its eth0: the kernel refuses every frame XDP redirects
    into its veth, silently. The controller reports it (log, status, ctl, counted), and
    clears the report when the guest turns GRO back on."""
    vm_ns = lab.plan().vm_netns("vm1")
    n = node(lab)
    log_before = len(log_text(lab))
    try:
        run(["ip", "netns", "exec", vm_ns, "ethtool", "-K", "eth0", "gro", "off"])
        assert not lab.ping("vm3", "10.0.1.11", count=2), "the kernel drops it (the bug's cause)"
        wait_for(lambda: "vm1-p" in status(lab, "hv1").get("vif_napi", {}).get("without_napi", {}),
                 timeout=30, interval=0.2, what="vm1-p reported")
        st = status(lab, "hv1")["vif_napi"]
        assert st["found"] >= 1 and "GRO off" in st["without_napi"]["vm1-p"]
        assert "VIF vm1-p cannot receive" in log_text(lab)[log_before:]
        ctl = subprocess.run([str(Path(sys.executable).with_name("ovnbpf")), "ctl", "--lab",
                              lab.name, "--chassis", "hv1"], capture_output=True, text=True,
                             timeout=60).stdout
        print("\n[ctl] " + "\n[ctl] ".join(l for l in ctl.splitlines() if "VIF" in l))
        assert "VIF vm1-p CANNOT RECEIVE" in ctl
    finally:
        run(["ip", "netns", "exec", vm_ns, "ethtool", "-K", "eth0", "gro", "on"])
    wait_for(lambda: not status(lab, "hv1")["vif_napi"]["without_napi"], timeout=30,
             interval=0.2, what="the report cleared")
    assert lab.ping("vm3", "10.0.1.11", count=2)
    assert n.daemons_alive()
