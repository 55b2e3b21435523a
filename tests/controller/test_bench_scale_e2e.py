"""`ovnbpf bench scale` at a small N: every layout syncs every client, the fan-out probes
reach who they should, and each layout's storm behaves as that layout does (a restarted
standalone SB makes every client fetch everything again; a killed Raft leader moves only
its own clients, which resume from their last transaction; behind relays no client
reconnects). Nothing it started is left running."""
import json
import os
import subprocess
import sys

import pytest

from topologies.bench import scale

pytestmark = [pytest.mark.e2e]

N = 6


def _ours_running():
    """ovsdb-server/northd processes whose command line names a bench scale rundir."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "ovnbpf-scale-" in cmd:
            out.append((int(pid), cmd[:120]))
    return out


@pytest.fixture
def no_leftovers():
    before = {p for p, _ in _ours_running()}
    yield
    left = [x for x in _ours_running() if x[0] not in before]
    assert not left, f"bench scale left processes running: {left}"


@pytest.mark.parametrize("layout", scale.LAYOUTS)
def test_layout(layout, no_leftovers):
    got = scale.measure(layout, N, tenants=2, workers=2, timeout=120, log=print)
    print(json.dumps(got))
    assert got["sync"]["kb_per_client"]["min"] > 0
    # conditional monitoring: a client receives its tenant's flows, not all of them
    assert got["sb_rows"]["Logical_Flow"] > 0
    tenant = got["fanout"]["tenant_acl"]
    assert tenant["clients"] == N // 2
    assert tenant["bytes_tenant_client"]["min"] > tenant["bytes_other_client"]["max"]
    storm = got["storm"]
    if layout == "standalone":
        # no transaction history survives a standalone restart: everyone fetches all again
        assert storm["clients_reconnected"] == N
        assert storm["full_resyncs"] == N
    elif layout == "raft":
        # only the leader's clients move, and the cluster's history lets them resume
        assert 0 < storm["clients_reconnected"] < N
        assert storm["full_resyncs"] == 0
    else:
        assert storm["clients_reconnected"] == 0
        assert storm["full_resyncs"] == 0


def test_cli_prints_json(no_leftovers):
    out = subprocess.run([sys.executable, "-m", "controller.cli", "bench", "scale", "--json",
                          "--clients", "4", "--layouts", "standalone", "--workers", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)      # progress lines go to stderr
    (run,) = figures["runs"]
    assert run["layout"] == "standalone" and run["clients"] == 4
