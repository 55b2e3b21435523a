"""`ovnbpf bench control`: one short run through the real CLI reports every figure, the
ovnbpf chassis programs each new port as a delta (no recompile, no full compile), and
nothing of the bench's lab is left behind. No latency thresholds: machines are noisy."""
import json
import subprocess
import sys

import pytest

from topologies.lab.lab import lab_dir
from tests.conftest import system_snapshot

NAME = "bct"

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


def _ours(snap):
    return {k: {x for x in snap[k] if x.startswith(f"{NAME}-") or f"/{NAME}-" in x}
            for k in ("netns", "links", "pins")}


def test_bench_control_reports_every_figure_and_ports_are_deltas():
    before = _ours(system_snapshot())
    proc = subprocess.run([sys.executable, "-m", "controller.cli", "bench", "control", "--json",
                           "--trials", "3", "--name", NAME],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    for key in ("ovnbpf_ms", "reference_ms", "sb_ms", "chassis_ms"):
        assert key in r, key
    for fig in (r["ovnbpf_ms"], r["reference_ms"], r["bind_ms"]["ovnbpf"],
                r["bind_ms"]["reference"]):
        assert fig["n"] == 3 and fig["failed"] == 0 and fig["min"] > 0, fig
    # the SB watch and a fast chassis can finish within a scheduling slice of each other:
    # a chassis figure may come out slightly negative, but never missing
    for fig in (r["sb_ms"], r["chassis_ms"]["ovnbpf"], r["chassis_ms"]["reference"]):
        assert fig["failed"] == 0 and fig["median"] is not None, fig
    assert r["recompiles"] == 0
    # every trial's port add (its own three, and the reference chassis' three on the same
    # switch) was applied as a delta: full compiles happened only while the lab came up
    compiles = r["compiles"]
    assert compiles["delta"] >= 6 and compiles["template_mismatch"] == 0, compiles
    assert r["sb_bytes"]["conditional"] < r["sb_bytes"]["full"]
    assert r["resync_bytes"] > 0
    assert _ours(system_snapshot()) == before
    assert not lab_dir(NAME).exists()
