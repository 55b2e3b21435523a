"""The ovnbpf command line: subcommands exist, unknown ones and unfinished ones say so."""
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
