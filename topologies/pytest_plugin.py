"""The pytest plugin of ovnbpf (entry point `pytest11`: active wherever ovnbpf is installed).

Fixtures (everything a fixture makes it removes at the end, also when the test fails):

- `ovn_sb`: a central alone (real NB + SB ovsdb-servers and ovn-northd in a temp dir,
  no namespaces, no chassis daemons). Chassis are SB rows registered with
  `ovn-sbctl chassis-add`, ports bound by setting Port_Binding.chassis, as an
  ovn-controller would: enough for `Pipeline`, which builds each chassis' programs itself.
  See `CentralOnly`.
- `ovn_central`: the same central as a bare `topologies.lab.central.Central`.
- `make_lab`: factory `make_lab(topology, name)` bringing a whole lab up (namespaces,
  chassis daemons, VMs); every lab made is taken down.
- `ovn_pipeline`: factory `ovn_pipeline(sb=..., lab=..., chassis=...)` ->
  `controller.packettest.Pipeline`, closed at the end.

Markers `root`, `bpf`, `e2e` are registered; a test marked `root` is skipped, saying why,
when pytest does not run as root. `running_lab()` and `private_central()` are the context
managers behind the fixtures, for module- or session-scoped fixtures of your own.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# The plugin loads in every pytest session of an environment where ovnbpf is installed:
# the lab, the central and the packet API (scapy, bcc's neighbours) load when a fixture
# first needs them, not here.

__all__ = ["CentralOnly", "private_central", "running_lab"]

MARKERS = {
    "root": "needs root (namespaces, daemons, BPF syscalls)",
    "bpf": "loads programs into the kernel (bcc, BPF_PROG_TEST_RUN)",
    "e2e": "brings up a lab of real OVN daemons and namespaces",
}


def pytest_configure(config):
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (namespaces, daemons or BPF): run as root, as CI does")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


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


class CentralOnly:
    """NB, SB and northd with chassis that exist only as Southbound rows.

        ovn_sb.nbctl("ls-add", "ls1", "--", "lsp-add", "ls1", "vm1", ...)
        ovn_sb.add_chassis("hv1")
        ovn_sb.bind("vm1", "hv1")
        pipeline = ovn_sb.pipeline()          # waits for northd, reads the SB

    `nbctl`/`sbctl` run ovn-nbctl/ovn-sbctl against it and return their output; `env()`
    gives OVN_NB_DB/OVN_SB_DB for other tools (ovn-trace)."""

    def __init__(self, central):
        self.central = central
        self._pipelines = []
        self._encaps = 0

    @property
    def nb_remote(self) -> str:
        return self.central.nb_remote

    @property
    def sb_remote(self) -> str:
        return self.central.sb_remote

    def env(self) -> dict:
        return self.central.env()

    def nbctl(self, *args, timeout=60) -> str:
        return self.central.nbctl(*args, timeout=timeout)

    def sbctl(self, *args, timeout=60) -> str:
        return self.central.sbctl(*args, timeout=timeout)

    def add_chassis(self, name: str, encap_ip: str | None = None) -> str:
        """Register chassis `name` with a Geneve encap (`ovn-sbctl chassis-add`); returns
        its encap IP (default: the next of 192.0.2.11, .12, ...: SB data only, no address
        is configured anywhere)."""
        self._encaps += 1
        ip = encap_ip or f"192.0.2.{10 + self._encaps}"
        self.sbctl("chassis-add", name, "geneve", ip)
        return ip

    def bind(self, port: str, chassis: str) -> None:
        """Bind logical port `port` to `chassis` and mark it up, as the chassis' controller
        would on claiming it (northd then marks the NB port up). Waits for northd to have
        made the port's Port_Binding first."""
        self.sync()
        self.sbctl("lsp-bind", port, chassis)
        self.sbctl("set", "Port_Binding", port, "up=true")

    def sync(self) -> None:
        """Wait until northd has written every NB change so far into the SB."""
        self.nbctl("--wait=sb", "sync", timeout=30)

    def pipeline(self, chassis: str | None = None):
        """A `Pipeline` on this SB after `sync()`, closed with the fixture."""
        from controller.packettest import Pipeline
        self.sync()
        p = Pipeline(self.sb_remote, chassis)
        self._pipelines.append(p)
        return p

    def close(self) -> None:
        while self._pipelines:
            self._pipelines.pop().close()


@pytest.fixture
def ovn_central():
    """NB + SB + northd (a `topologies.lab.central.Central`), stopped at the end."""
    with private_central() as central:
        yield central


@pytest.fixture
def ovn_sb():
    """NB + SB + northd, chassis registered by ovn-sbctl (a `CentralOnly`)."""
    with private_central() as central:
        sb = CentralOnly(central)
        try:
            yield sb
        finally:
            sb.close()


@pytest.fixture
def make_lab():
    """Factory: make_lab(topology, name) brings a lab up; every lab made is taken down."""
    with contextlib.ExitStack() as labs:
        yield lambda topology="two-chassis", name="t1": labs.enter_context(
            running_lab(name, topology))


@pytest.fixture
def ovn_pipeline():
    """Factory: ovn_pipeline(sb=REMOTE | lab=NAME, chassis=None) -> a `Pipeline`; each
    one made is closed (programs unloaded, namespace deleted) at the end."""
    from controller.packettest import Pipeline
    with contextlib.ExitStack() as made:
        def make(sb=None, lab=None, chassis=None):
            if (sb is None) == (lab is None):
                raise TypeError("ovn_pipeline: give exactly one of sb= or lab=")
            p = Pipeline.of_lab(lab, chassis) if lab else Pipeline(sb, chassis)
            return made.enter_context(p)
        yield make
