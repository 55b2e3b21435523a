"""The loop never blocks on the Southbound: our SB writes (claims, nb_cfg ack, MAC_Binding,
our Chassis rows) are transactions the loop checks on later turns (controller/db/sbwrites.py),
as ovn-controller's are. Shown with the SB ovsdb-server frozen (SIGSTOP: TCP stays up,
nothing answers) and the inactivity probe off, so a transaction waited for would wait
until the server comes back. Lab names start with "z"."""
import ipaddress
import os
import signal

import pytest

from topologies.lab import topology
from topologies.lab.proc import wait_for

from tests.conftest import running_lab
from tests.controller.traffic import status

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    path = topology.variant("two-chassis", tmp_path_factory.mktemp("topo"), "zw",
                            {"*": "ovnbpf"})
    with running_lab(os.environ.get("OVNBPF_WRITES_LAB", "zw1"), path) as lab:
        yield lab


def node(lab, name="hv1"):
    return next(n for n in lab.nodes() if n.name == name)


def log_text(lab, hv="hv1"):
    return (node(lab, hv).rundir / "ovnbpf-controller.log").read_text()


def _vm(name, key):
    return topology.VM(name, "hv1", "ls1", f"0a:00:00:00:01:{key:02x}",
                       ipaddress.IPv4Interface(f"10.0.1.{key + 10}/24"), key,
                       ipaddress.IPv4Address("10.0.1.1"))


def test_the_loop_keeps_serving_while_the_sb_is_frozen(lab):
    """hv1 claims a VM it just plugged while the SB is frozen: the claim's transaction
    stays in flight, and the loop still attaches and programs a second VM plugged after
    it (the old blocking commit waited in the first step, and nothing else happened until
    the server came back). Once the server runs again both claims go through."""
    central = lab.central()
    hv1 = node(lab)
    hv1.vsctl("set", "Open_vSwitch", ".", "external_ids:ovn-remote-probe-interval=0")
    wait_for(lambda: status(lab, "hv1")["sb"]["probe_interval_ms"] == 0, timeout=60,
             interval=0.2, what="hv1's probe off")
    first, second = _vm("vm7", 7), _vm("vm8", 8)
    for vm in (first, second):
        central.nbctl("lsp-add", "ls1", vm.port, "--", "lsp-set-addresses", vm.port,
                      f"{vm.mac} {vm.ip.ip}")
        lab.add_vm(vm, plug=False)
    # hv1 acks an nb_cfg only once it has the SB state that carried it: its replica holds
    # both new ports now (ls1 is local to hv1), and no write of its own is waiting
    central.nbctl("--wait=hv", "--timeout=60", "sync", timeout=70)
    sb_pid = central.pids()["sb"]
    log_before = len(log_text(lab))
    os.kill(sb_pid, signal.SIGSTOP)
    try:
        lab.plug_vm(first)      # hv1 claims it: a transaction the frozen server never answers
        wait_for(lambda: f"VIF {first.name}-p attached" in log_text(lab)[log_before:],
                 timeout=60, interval=0.2, what="the first VM attached")
        lab.plug_vm(second)     # a local change after the claim: served meanwhile?
        wait_for(lambda: f"VIF {second.name}-p attached" in log_text(lab)[log_before:]
                 and f"{second.name}-p" in status(lab, "hv1").get("vifs", {}),
                 timeout=60, interval=0.2,
                 what="the second VM attached and programmed while the SB is frozen")
        st = status(lab, "hv1")
        writes = st["sb"]["writes"]
        print(f"\n[figure] SB frozen: hv1 steps {st['counters']['iterations']}, "
              f"writes {writes}")
        assert writes["in_flight"] or writes["pending"], \
            "the claim is still waiting for the frozen server"
        assert "lost the Southbound" not in log_text(lab)[log_before:], "the probe is off"
    finally:
        os.kill(sb_pid, signal.SIGCONT)
    central.wait_ports_up([first.port, second.port], timeout=60)
    assert lab.ping(second.name, "10.0.1.13", count=2)
    assert lab.ping(first.name, "10.0.1.13", count=2)
    writes = status(lab, "hv1")["sb"]["writes"]
    print(f"[figure] after the thaw: writes {writes}")
    assert writes["errors"] == 0
