"""ovnbpf chassis in a lab: real northd and SB, `ovnbpf controller` per chassis, VMs in
namespaces. Pings cross the eBPF datapath only (no OVS on an ovnbpf chassis)."""
import ipaddress
import json
import os
import signal
import subprocess
import time

import pytest

from topologies.lab import topology

from tests.conftest import running_lab
from tests.controller.traffic import background_ping, loss, status

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def ebpf_lab(tmp_path_factory):
    path = topology.variant("two-chassis", tmp_path_factory.mktemp("topo"), "ebpf",
                            {"*": "ovnbpf"})
    with running_lab(os.environ.get("OVNBPF_TEST_LAB", "eb1"), path) as lab:
        yield lab


def test_every_vm_reaches_every_other(ebpf_lab):
    """Same chassis, across chassis (Geneve), routed (switch -> router -> switch)."""
    failed = [f"{a.name}->{b.name}" for a, b in ebpf_lab.ping_all_pairs()[1]]
    if failed:
        for hv in ("hv1", "hv2"):
            print(subprocess.run([".venv/bin/ovnbpf", "ctl", "--lab", ebpf_lab.name, "--chassis", hv],
                                 capture_output=True, text=True).stdout)
            print(open(f"/run/ovnbpf/labs/{ebpf_lab.name}/{hv}/ovnbpf-controller.log").read()[-3000:])
    assert failed == []


def test_chassis_registered_and_ports_claimed(ebpf_lab):
    central = ebpf_lab.central()
    assert central.chassis_names() >= {"hv1", "hv2"}
    bound = central.sbctl("--bare", "--columns=logical_port,chassis", "find", "Port_Binding",
                          "type=\"\"")
    assert bound.count("\n\n") + 1 >= 6
    st = status(ebpf_lab, "hv1")
    assert st["sb"]["connected"] and st["pipeline"]["shape_hash"]
    assert sorted(st["vifs"]) == ["vm1-p", "vm2-p", "vm6-p"]


def test_a_new_port_is_a_map_update_not_a_recompile(ebpf_lab):
    before = status(ebpf_lab, "hv1")["counters"]["recompiles"]
    vm = topology.VM("vm8", "hv1", "ls1", "0a:00:00:00:01:08",
                     ipaddress.IPv4Interface("10.0.1.18/24"), 8, ipaddress.IPv4Address("10.0.1.1"))
    ebpf_lab.add_vm(vm)
    ebpf_lab.central().nbctl("lsp-add", "ls1", "lsp-vm8", "--", "lsp-set-addresses", "lsp-vm8",
                             "0a:00:00:00:01:08 10.0.1.18")
    ebpf_lab.central().nbctl("--wait=hv", "--timeout=20", "sync", timeout=30)
    assert ebpf_lab.ping("vm8", "10.0.1.13", count=2)       # across chassis
    assert ebpf_lab.ping("vm8", "10.0.2.15", count=2)       # routed
    assert status(ebpf_lab, "hv1")["counters"]["recompiles"] == before


def test_forwarding_survives_controller_kill_and_restart(ebpf_lab):
    """kill -9 every controller under 100 pps; restart them: no ping lost, and none lost
    while the restarted controllers take over (until each has installed its own pipeline
    and claimed its ports again), not just in the seconds around the kill."""
    nodes = ebpf_lab.nodes()
    probe = background_ping(ebpf_lab, "vm1", "10.0.2.15", count=100000)  # routed, cross-chassis
    try:
        time.sleep(0.5)
        for n in nodes:
            os.kill(n.pids()["ovnbpf-controller"], signal.SIGKILL)
        time.sleep(1.0)
        for n in nodes:
            n.pidfile("ovnbpf-controller").unlink(missing_ok=True)
            n.start_controller()
        deadline = time.monotonic() + 90
        for n in nodes:
            pid = n.pids()["ovnbpf-controller"]
            while True:
                st = status(ebpf_lab, n.name)
                if st.get("pid") == pid and st["counters"]["recompiles"] >= 1 and st["counters"]["claims"] >= 1:
                    break
                assert time.monotonic() < deadline, f"{n.name} did not take over: {st.get('counters')}"
                time.sleep(0.2)
        time.sleep(2.0)          # and a while after the takeover
    finally:
        probe.send_signal(signal.SIGINT)    # ping prints its statistics and exits
    sent, lost = loss(probe)
    print(f"\n[figure] controller kill -9 + restart under 100 pps: {sent} sent, {lost} lost "
          f"(until both restarted controllers took over)")
    assert sent > 300 and lost == 0
    assert all(n.daemons_alive() for n in nodes)
    for n in nodes:
        assert status(ebpf_lab, n.name)["counters"]["unsettled"] >= 1, \
            "the restarted controller programmed before its monitor conditions were answered"


def test_ctl_shows_hits_per_stage_and_named_lflows(ebpf_lab):
    """After traffic, ctl sums the kernel's per-lflow hit counters by stage (ingress and
    egress) and labels each top lflow with its stage, priority and match."""
    assert ebpf_lab.ping("vm1", "10.0.2.15", count=2)          # routed: both datapaths
    out = subprocess.run([".venv/bin/ovnbpf", "ctl", "--lab", ebpf_lab.name, "--chassis", "hv1",
                          "--json"], capture_output=True, text=True, check=True).stdout
    live = json.loads(out)["live"]
    stages = {(s["pipeline"], s["stage"]): s["hits"] for s in live["stages"]}
    assert stages.get(("ingress", "ls_in_l2_lkup"), 0) > 0, stages
    assert stages.get(("ingress", "lr_in_ip_routing"), 0) > 0, stages
    assert any(p == "egress" for p, _ in stages), stages
    assert all(h["stage"] != "?" and h["match"] != "?" for h in live["lflows"]), live["lflows"]
    text = subprocess.run([".venv/bin/ovnbpf", "ctl", "--lab", ebpf_lab.name, "--chassis", "hv1"],
                          capture_output=True, text=True, check=True).stdout
    assert "hits by stage" in text and "ls_in_l2_lkup" in text
