"""One CLI grammar (issue 20): the lab option is `--lab` everywhere with `--name` as its
alias, lab names as long as a user wants (root-namespace interfaces get a derived short
prefix), errors that list what exists, `lab env`, `lab exec NODE --lab L -- CMD`, no
traceback on a closed pipe, an unreachable SB socket an error at once."""
import json
import os
import subprocess
import sys

import pytest

from topologies.lab.lab import LabError, Plan, check_name, link_prefix


def ovnbpf(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "controller.cli", *args], capture_output=True,
                          text=True, env=env, **kw)


@pytest.fixture
def rundir(tmp_path):
    """A run root holding one fake 'up' lab (its state file: what `lab env` and the error
    lists read; no daemons)."""
    d = tmp_path / "labs" / "xup"
    d.mkdir(parents=True)
    (d / "state.json").write_text(json.dumps({
        "netns": [], "root_links": [], "pidfiles": [], "pin_dirs": [],
        "info": {"topology": "ebpf", "subnet": "172.31.250.0/24"}}))
    return {**os.environ, "OVNBPF_RUNDIR": str(tmp_path)}


@pytest.mark.parametrize("flag", ["--lab", "--name"])
def test_lab_option_is_lab_with_name_as_alias_and_the_error_lists_labs_up(flag, rundir):
    r = ovnbpf("lab", "status", flag, "xnone", env=rundir)
    assert r.returncode == 1, r.stderr
    assert "no lab named 'xnone' is up (labs up: xup)" in r.stderr


def test_demo_and_ctl_take_the_same_lab_option():
    for cmd in (("demo", "--help"), ("ctl", "--help")):
        out = ovnbpf(*cmd).stdout
        assert "--lab LAB, --name LAB" in out, cmd


def test_ctl_names_the_labs_there_are(rundir):
    r = ovnbpf("ctl", "--name", "xnone", "--chassis", "hv1", env=rundir)
    assert r.returncode == 1 and "labs: xup" in r.stderr


def test_long_lab_names_are_accepted_and_interfaces_stay_within_ifnamsiz():
    name = "xsurface-with-a-long-name"
    check_name(name)
    plan = Plan(name, topo=None, subnet=None)
    assert len(plan.bridge) <= 15 and all(len(plan.root_uplink(i)) <= 15 for i in range(99))
    assert link_prefix("abcde") == "abcde"                   # short names as they were
    assert len(link_prefix(name)) == 6 and link_prefix(name) != link_prefix(name + "2")
    for bad in ("Bad", "x_y", "x-", "-x", "x" * 33):
        with pytest.raises(LabError):
            check_name(bad)


def test_lab_env_prints_exports(rundir, tmp_path):
    r = ovnbpf("lab", "env", "--lab", "xup", env=rundir)
    assert r.returncode == 0, r.stderr
    central = tmp_path / "labs" / "xup" / "central"
    assert r.stdout.strip() == (f"export OVN_NB_DB=unix:{central}/nb.sock "
                                f"OVN_SB_DB=unix:{central}/sb.sock")


def test_lab_exec_takes_the_lab_option_after_the_node(rundir):
    r = ovnbpf("lab", "exec", "vm1", "--lab", "xnone", "--", "true", env=rundir)
    assert r.returncode == 1 and "no lab named 'xnone' is up" in r.stderr
    r = ovnbpf("lab", "exec", "vm1", "--name", "xnone", "--", "true", env=rundir)
    assert "no lab named 'xnone' is up" in r.stderr


def test_a_closed_pipe_is_no_traceback():
    read, write = os.pipe()
    os.close(read)                  # the reader is gone, as `| head -1` after its line
    try:
        r = subprocess.run([sys.executable, "-m", "controller.cli", "--help"], stdout=write,
                           stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr
    assert r.returncode == 141


@pytest.mark.parametrize("cmd", [("compile", "--chassis", "hv1"), ("trace", "ls1", "inport == \"p\"")])
def test_a_missing_sb_socket_is_an_error_at_once(cmd, tmp_path):
    sock = f"unix:{tmp_path}/nothing.sock"
    r = ovnbpf(cmd[0], "--sb", sock, *cmd[1:], timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"cannot reach the Southbound: {sock}: no such socket" in r.stderr
