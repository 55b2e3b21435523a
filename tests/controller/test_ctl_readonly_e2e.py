"""Reading status never steps the controller (issue 19): an idle ovnbpf chassis polled by
`ovnbpf ctl` runs no step, while a real change still does. Real northd, SB, controller
and (for hv2) the OVS reference.

Before: an idle controller stepped every 5 s, each time its own Chassis_Private heartbeat
came back from the SB (8-9 steps in 40 s whether or not ctl polled it), so polling
looked like it caused steps."""
import os
import time

import pytest

from topologies.lab import topology

from tests.conftest import running_lab
from tests.controller.traffic import ctl, status

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    path = topology.variant("two-chassis", tmp_path_factory.mktemp("topo"), "uctl",
                            {"hv1": "ovnbpf", "hv2": "ovs"})
    with running_lab(os.environ.get("OVNBPF_TEST_LAB", "u3"), path) as lab:
        yield lab


def _steps(lab):
    return status(lab, "hv1")["counters"]["iterations"]


def test_polling_ctl_does_not_step_an_idle_controller(lab):
    # settle: no step for 3 s (bring-up's claims and acks are done)
    deadline = time.monotonic() + 120
    last, since = _steps(lab), time.monotonic()
    while time.monotonic() - since < 3:
        assert time.monotonic() < deadline, "the controller never went idle"
        time.sleep(0.5)
        now = _steps(lab)
        if now != last:
            last, since = now, time.monotonic()
    beat = status(lab, "hv1")["identity"]["heartbeat"]
    start = time.monotonic()
    polls = 0
    while time.monotonic() - start < 12 or polls < 5:   # over two owner heartbeats (5 s)
        got = ctl(lab, "hv1")
        assert got["counters"]["iterations"] == last
        polls += 1
    after = status(lab, "hv1")
    assert after["identity"]["heartbeat"] > beat, "the controller is alive (heartbeats)"
    assert after["counters"]["iterations"] == last, (
        f"{after['counters']['iterations'] - last} step(s) while idle and polled {polls} times")

    # a real change still steps it, and is applied
    lab.central().nbctl("lsp-add", "ls1", "u3p", "--", "lsp-set-addresses", "u3p",
                        "0a:00:00:00:01:33 10.0.1.33")
    lab.central().nbctl("--wait=hv", "--timeout=60", "sync", timeout=70)
    assert _steps(lab) > last
