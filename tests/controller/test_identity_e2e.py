"""Chassis identity (controller/db/ownership.py) in a real lab: a second `ovnbpf
controller` started with hv1's system-id (its own namespace, local OVS DB and encap IP)
does not take hv1's rows over, both controllers log it, pings to hv1's VM keep flowing;
a writer that keeps no owner record (ovn-sbctl, as an ovn-controller with a copied
system-id would) is undone by hv1 and never followed by the peer; when the second
controller is stopped (by PID), hv1 notices it has gone and its Encap is its own; hv1
stopped cleanly clears the owner-encap record in its Chassis row, restarted writes it."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from topologies.lab import netns
from topologies.lab.chassis import ChassisNode
from topologies.lab.proc import read_pidfile, stop_pids, wait_for
from tests.conftest import running_lab
from tests.controller.traffic import ctl

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab():
    with running_lab(os.environ.get("OVNBPF_TEST_IDENTITY", "i3"), "ebpf") as lab:
        yield lab


def start_impostor(lab, system_id):
    """A second ovnbpf chassis claiming `system_id`, on the lab's underlay with its own
    encap IP and hostname 'impostor'. Every object is recorded in the lab's state first,
    so `lab down` removes it whatever happens here."""
    plan, state = lab.plan(), lab.state()
    central = plan.central()
    node = ChassisNode(name=system_id, kind="ovnbpf", netns=f"{lab.name}-imp",
                       rundir=plan.rundir / "impostor", encap_ip=plan.encap_ip(9),
                       prefixlen=plan.subnet.prefixlen, sb_remote=central.sb_chassis_remote)
    root_dev = f"{lab.name}-ux"
    state.record("netns", node.netns)
    state.record("root_links", root_dev)
    for d in node.daemon_names():
        state.record("pidfiles", str(node.pidfile(d)))
    state.record("pin_dirs", node.pin_dir)
    node.create_namespace(netns.BridgeUnderlay(plan.bridge, plan.gateway_ip,
                                               plan.subnet.prefixlen), root_dev)
    node.start_local_db()
    node.vsctl("set", "Open_vSwitch", ".", "external_ids:hostname=impostor")
    node._start_ovnbpf()
    return node


def encap_ips(central, chassis):
    return central.sbctl("--bare", "--columns=ip", "find", "Encap",
                         f"chassis_name={chassis}").split()


def log_has(path, pattern):
    return path.exists() and re.search(pattern, path.read_text(errors="replace")) is not None


def test_second_controller_with_our_system_id(lab, capsys):
    plan = lab.plan()
    central = plan.central()
    real = next(n for n in plan.chassis_nodes("") if n.name == "hv1")
    real_log = real.rundir / "ovnbpf-controller.log"
    assert encap_ips(central, "hv1") == [real.encap_ip]

    # vm3 (hv2) pings vm1 (hv1) all along
    pinger = subprocess.Popen(["ip", "netns", "exec", plan.vm_netns("vm3"), "ping", "-i", "0.05",
                               "-W", "1", "10.0.1.11"], stdout=subprocess.PIPE, text=True)
    try:
        imp = start_impostor(lab, "hv1")
        imp_log = imp.rundir / "ovnbpf-controller.log"
        # the newcomer refuses, the owner sees it: both say so, at ERROR
        wait_for(lambda: log_has(imp_log, r"ERR.*is owned by another ovnbpf controller "
                                          rf"\(encap {re.escape(real.encap_ip)}, host hv1"),
                 timeout=60, what="the impostor to log that it stands by")
        wait_for(lambda: log_has(real_log, r"ERR.*another ovnbpf controller with our system-id "
                                           rf"\(encap {re.escape(imp.encap_ip)}, host impostor"),
                 timeout=30, what="hv1 to log the contender")
        assert encap_ips(central, "hv1") == [real.encap_ip]
        ident = ctl(lab, "hv1")["identity"]
        assert (ident["role"], ident["contenders_seen"]) == ("owner", 1), ident
        wait_for(lambda: (json.loads(imp.status_file.read_text()).get("identity") or {}).get("role")
                 == "standby", timeout=30, what="the impostor's status")
        imp_ident = json.loads(imp.status_file.read_text())["identity"]
        assert imp_ident["refused_takeover"] == 1 and imp_ident["took_over"] == 0, imp_ident

        stop_pids([read_pidfile(imp.pidfile("ovnbpf-controller"))])

        # a writer without an owner record moves hv1's Encap and hostname: hv1 writes its
        # own back (logged), hv2 keeps tunnelling to the owner meanwhile
        # (the owner-encap record in hv1's Chassis row, which the writer left)
        uuid = central.sbctl("--bare", "--columns=_uuid", "find", "Encap",
                             "chassis_name=hv1").strip()
        central.sbctl("set", "Encap", uuid, f"ip={imp.encap_ip}", "--",
                      "set", "Chassis", "hv1", "hostname=impostor")
        wait_for(lambda: log_has(real_log, r"ERR.*rewritten by a writer that keeps no owner "
                                           rf"record \(encap geneve {re.escape(imp.encap_ip)}"),
                 timeout=30, what="hv1 to log the overwrite")
        wait_for(lambda: encap_ips(central, "hv1") == [real.encap_ip], timeout=30,
                 what="hv1's Encap written back")
        hv2 = ctl(lab, "hv2")
        assert hv2["tunnels"][str(hv2["chassis_ids"]["hv1"])] == real.encap_ip, hv2["tunnels"]
        assert ctl(lab, "hv1")["identity"]["reasserts"] >= 1

        # the stopped contender is noticed as gone once its heartbeat is stale
        wait_for(lambda: log_has(real_log, r"the contender at .* has gone"), timeout=60,
                 what="hv1 to notice the contender has gone")
        assert encap_ips(central, "hv1") == [real.encap_ip]
        time.sleep(1)
    finally:
        pinger.send_signal(signal.SIGINT)
        out, _ = pinger.communicate(timeout=10)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    sent, got = int(m.group(1)), int(m.group(2))
    with capsys.disabled():
        print(f"\n[figure] vm3 -> vm1 while a second controller claimed hv1 and hv1's Encap "
              f"was overwritten: {sent} sent, {sent - got} lost")
    assert sent > 100
    assert sent - got <= 5, out
    assert lab.ping("vm3", "10.0.1.11")

    # what peers go by is hv1's Chassis row; a clean stop (SIGTERM) clears it, as our
    # Encap agrees, and the restarted controller writes it again
    def record():
        return central.sbctl("--bare", "--columns=external_ids", "find", "Chassis", "name=hv1")
    assert f"ovnbpf-owner-encap={real.encap_ip}" in record()
    stop_pids([read_pidfile(real.pidfile("ovnbpf-controller"))])
    assert "ovnbpf-owner-encap" not in record()
    assert log_has(real_log, r"cleared our Chassis' owner-encap record")
    real.start_controller()
    wait_for(lambda: f"ovnbpf-owner-encap={real.encap_ip}" in record(), timeout=60,
             what="the restarted hv1 to write its record again")
    assert lab.ping("vm3", "10.0.1.11")
