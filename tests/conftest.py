"""Fixtures shared by the whole suite. Everything a fixture creates it removes, even when
the test fails: namespaces, links, daemons (by PID), temp directories.

The fixtures a user's packet tests need too (`ovn_sb`, `ovn_central`, `make_lab`,
`ovn_pipeline`, the root skip) come from the installed pytest plugin,
topologies/pytest_plugin.py (entry point `pytest11`), not from here."""
import subprocess
import uuid
from pathlib import Path

import pytest


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


# for modules that use them directly (module-scoped labs): the plugin's, not copies
from topologies.pytest_plugin import private_central, running_lab  # noqa: E402,F401
