"""Fixtures shared by the whole suite. Everything a fixture creates it removes, even when
the test fails: namespaces, links, daemons (by PID), temp directories."""
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    # Tests marked `root` need root (CI runs as root); elsewhere they skip saying why.
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (namespaces, daemons or BPF): run as root, as CI does")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def system_snapshot():
    """Namespaces, links and our daemons' pids: what a leak check compares before/after."""
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    procs = subprocess.run(["ps", "-eo", "pid,stat,comm"], capture_output=True, text=True).stdout
    daemons = {line.split()[0] for line in procs.splitlines()[1:]
               if line.split()[2] in ("ovsdb-server", "ovn-northd", "ovs-vswitchd", "ovn-controller",
                                      "ovnbpf")
               and not line.split()[1].startswith("Z")}
    mounts = {l.split()[1] for l in open("/proc/mounts") if l.split()[2] == "bpf"}
    pins = {str(p) for m in mounts for p in Path(m).rglob("*")}
    return {"netns": {l.split()[0] for l in ns.splitlines() if l.strip()},
            "links": {l.split(":")[1].strip().split("@")[0] for l in links.splitlines()},
            "daemons": daemons, "bpf_mounts": mounts, "pins": pins}


@pytest.fixture
def unique_netns():
    """A uniquely named network namespace, always deleted."""
    name = f"obt-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name])


@contextlib.contextmanager
def private_central(prefix="obc-", **options):
    """Real NB + SB ovsdb-servers and ovn-northd in a temp dir (no namespaces needed),
    stopped by PID and removed at the end; options go to Central (sb_cluster, ...)."""
    from topologies.lab.central import Central

    rundir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))   # short: unix socket paths
    central = Central(rundir, **options)
    try:
        central.start()
        yield central
    finally:
        central.stop()
        shutil.rmtree(rundir, ignore_errors=True)


@pytest.fixture
def ovn_central():
    with private_central() as central:
        yield central


@contextlib.contextmanager
def running_lab(name, topology):
    """Lab `name` brought up from `topology` (a name or a file) and taken down at the end,
    also when bringing it up failed half way."""
    from topologies.lab.lab import Lab

    lab = Lab(name)
    try:
        lab.up(str(topology), log=lambda *_: None)
        yield lab
    finally:
        lab.down(log=lambda *_: None)


@pytest.fixture
def make_lab():
    """Factory: make_lab(topology, name) brings a lab up; every lab made is taken down."""
    with contextlib.ExitStack() as labs:
        yield lambda topology="two-chassis", name="t1": labs.enter_context(
            running_lab(name, topology))
