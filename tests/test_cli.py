"""The ovnbpf command line: subcommands exist, unknown ones and unfinished ones say so."""
import os
import subprocess
import sys


def ovnbpf(*args):
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], capture_output=True, text=True)


def test_unknown_subcommand_is_a_usage_error():
    r = ovnbpf("frobnicate")
    assert r.returncode == 2 and "invalid choice: 'frobnicate'" in r.stderr


def test_help_lists_every_subcommand():
    r = ovnbpf("--help")
    for cmd in ("lab", "demo", "controller", "compile", "trace", "bench", "ctl"):
        assert cmd in r.stdout


def test_lab_status_of_a_missing_lab_is_an_error():
    r = ovnbpf("lab", "status", "--name", "nolab")
    assert r.returncode == 1 and "no lab named 'nolab' is up" in r.stderr


def test_bad_lab_name_is_rejected():
    r = ovnbpf("lab", "status", "--name", "Bad_Name")
    assert r.returncode == 1 and "lab name 'Bad_Name'" in r.stderr


def test_the_testbed_adds_its_commands_through_entry_points():
    """`lab`, `demo` and the lab benchmarks come from the testbed package (topologies/), found
    by entry-point group: the product's CLI does not import it (test_import_graph.py)."""
    from importlib.metadata import entry_points
    assert {ep.name for ep in entry_points(group="ovnbpf.commands")} == {"lab", "demo"}
    assert {ep.name for ep in entry_points(group="ovnbpf.benches")} == {"compile", "control", "dhcp", "lab", "scale", "soak"}
    r = ovnbpf("bench", "--help")
    for what in ("datapath", "split", "compile", "control", "lab", "soak"):
        assert what in r.stdout


def test_ctl_of_a_chassis_no_lab_has_is_an_error(tmp_path):
    """ctl finds a lab chassis' status file by controller/rundir.py's layout alone."""
    env = {**os.environ, "OVNBPF_RUNDIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "controller.cli", "ctl", "--lab", "wnone", "--chassis", "hv1"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "lab 'wnone' has no chassis 'hv1'" in r.stderr
    (tmp_path / "labs" / "wnone" / "hv1").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "controller.cli", "ctl", "--lab", "wnone", "--chassis", "hv1"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "runs no ovnbpf controller" in r.stderr
