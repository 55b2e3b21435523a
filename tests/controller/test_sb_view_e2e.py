"""Issue 13, first bullet: an unrelated `ovn-nbctl ls-add` (or router, LB, ACL elsewhere)
makes northd move shared flows to new datapath groups; two ovnbpf chassis under traffic
must keep every flow of their datapaths in view and keep forwarding. Real ovsdb-server,
ovn-northd and ovn-nbctl; pings cross the eBPF datapath only. The replica each controller
holds is compared with a one-shot unconditional fetch from the server
(controller/db/viewcheck.py) through the fingerprint in its status file."""
import os
import signal
import subprocess
import time

import pytest

from controller.db import viewcheck
from topologies.lab import topology

from tests.conftest import running_lab
from tests.controller.traffic import background_ping, loss, status

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

CHASSIS = ("hv1", "hv2")

# (what, ovn-nbctl arguments): each one reshapes northd's datapath groups
CHANGES = [
    ("ls-add of an unrelated switch", ["ls-add", "vx1"]),
    ("lr-add of an unrelated router", ["lr-add", "vxr1"]),
    ("a switch with an LB and an ACL elsewhere",
     ["ls-add", "vx2", "--", "lb-add", "vxlb", "10.9.9.9:80", "10.0.1.13:80", "tcp",
      "--", "ls-lb-add", "vx2", "vxlb",
      "--", "acl-add", "vx2", "to-lport", "1001", "tcp", "drop"]),
    ("the LB on vx3, a switch no chassis serves", ["ls-add", "vx3", "--", "ls-lb-add", "vx3", "vxlb"]),
    # (an LB on ls1 itself would send ls1's traffic through conntrack, which ovnbpf does
    # not compile yet: README; test_sb_view.py checks the view for that case)
    ("ls-del of the unrelated switch", ["ls-del", "vx1"]),
    ("lr-del of the unrelated router", ["lr-del", "vxr1"]),
    ("the LB/ACL switches deleted", ["ls-del", "vx2", "--", "ls-del", "vx3", "--", "lb-del", "vxlb"]),
]

PINGS = {   # name: (from VM, to IP)
    "same switch, same chassis": ("vm1", "10.0.1.12"),
    "same switch, across chassis": ("vm1", "10.0.1.13"),
    "ls2 across chassis": ("vm6", "10.0.2.15"),
    "routed, across chassis": ("vm2", "10.0.2.15"),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    path = topology.variant("two-chassis", tmp_path_factory.mktemp("topo"), "v1",
                            {"*": "ovnbpf"})
    with running_lab(os.environ.get("OVNBPF_TEST_LAB", "v1"), path) as lab:
        yield lab


def view_differs(lab, hv):
    """None when the chassis' replica (its status file's fingerprint) holds exactly the
    flows the server has for its local datapaths, else what differs."""
    st = status(lab, hv)
    view = st.get("view")
    if not view or not view["datapaths"]:
        return "no view in the status file yet"
    want = viewcheck.local_flows(lab.central().sb_remote, view["datapaths"])
    if viewcheck.digest(want) == view["digest"]:
        return None
    return f"the server has {len(want)} flows for its datapaths, the replica {view['flows']}"


def wait_views(lab, timeout=30.0):
    """Every chassis' view equals the server's; returns {hv: flows in view}, or fails
    naming what still differs."""
    deadline = time.monotonic() + timeout
    while True:
        differs = {hv: view_differs(lab, hv) for hv in CHASSIS}
        if not any(differs.values()):
            return {hv: status(lab, hv)["view"]["flows"] for hv in CHASSIS}
        assert time.monotonic() < deadline, f"views differ from the server: {differs}"
        time.sleep(0.2)


def test_datapath_group_reshapes_lose_no_flow_and_no_packet(lab, capsys):
    central = lab.central()
    central.nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)
    lines = [f"initial: flows in view {wait_views(lab)}"]
    for what, (vm, ip) in PINGS.items():
        assert lab.ping(vm, ip, count=2), f"{what} before any change"
    pings = {what: background_ping(lab, vm, ip, count=1_000_000) for what, (vm, ip) in PINGS.items()}
    try:
        time.sleep(1.0)
        for what, cmd in CHANGES:
            central.nbctl(*cmd)
            central.nbctl("--wait=hv", "--timeout=30", "sync", timeout=40)
            lines.append(f"{what}: flows in view {wait_views(lab)}")
            time.sleep(1.0)      # traffic on the reshaped view
    finally:
        for p in pings.values():
            p.send_signal(signal.SIGINT)
    lost = {what: loss(p) for what, p in pings.items()}
    lines += [f"ping {what}: {sent} sent, {n} lost" for what, (sent, n) in lost.items()]
    for hv in CHASSIS:
        st = status(lab, hv)
        lines.append(f"{hv}: reshapes {st['sb']['reshapes']}, unsettled steps "
                     f"{st['counters']['unsettled']}, recompiles {st['counters']['recompiles']}, "
                     f"view check {st['sb']['view_check']}")
    with capsys.disabled():
        print("\n[figure] " + "\n[figure] ".join(lines))
    for what, (sent, n) in lost.items():
        assert sent > 100 and n <= 2, f"{what}: {n} of {sent} lost"
    for what, (vm, ip) in PINGS.items():
        assert lab.ping(vm, ip, count=2), f"{what} after the changes"


def test_the_run_time_check_ran_and_found_nothing(lab):
    """The controllers' own check ran after the reshapes (it is due soon after each)
    and never found a difference."""
    deadline = time.monotonic() + 30
    while not all(status(lab, hv)["sb"]["view_check"]["checks"] > 0 for hv in CHASSIS):
        assert time.monotonic() < deadline, {hv: status(lab, hv)["sb"]["view_check"] for hv in CHASSIS}
        time.sleep(0.5)
    for hv in CHASSIS:
        v = status(lab, hv)["sb"]["view_check"]
        assert v["mismatches"] == 0 and v["errors"] == 0, (hv, v)
        out = subprocess.run([".venv/bin/ovnbpf", "ctl", "--lab", lab.name, "--chassis", hv],
                             capture_output=True, text=True, check=True).stdout
        assert ", 0 mismatch(es)" in out and "view checked" in out, out
