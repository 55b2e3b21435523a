"""Limits that follow the work (controller/limits.py): a chassis with more than 65,535 lflow
rows compiles with the controller's own allocators and loads with maps sized for it; one
beyond its limits leaves whole datapaths out (their packets are dropped), says which limit
and which datapaths, and `ovnbpf compile` says exactly the same. SB contents from real
ovn-northd."""
from __future__ import annotations

import pytest

from controller import compile as C
from controller.chassisd import desired as D
from controller.chassisd.pipeline import PipelineBuilder
from topologies.bench.topo_gen import replicate_ports
from controller.limits import Limits, capacity

pytestmark = pytest.mark.root       # ovsdb-server + ovn-northd processes


class Stub:
    """A datapath that records what it is asked to hold (the pure part of PipelineBuilder)."""

    def __init__(self):
        self.builds, self.sizes = [], None

    def outgrown(self, sizes):
        return None if self.sizes is None or sizes == self.sizes else "sizes changed"

    def install_pipeline(self, path, entries, sizes=None):
        self.builds.append(path)
        self.sizes = sizes
        return {}

    def update_pipeline_entries(self, entries):
        return (0, 0, 0)


def test_capacity_has_room_and_stops_at_the_ceiling():
    assert capacity(10, 1 << 16, 1 << 20) == 1 << 16
    assert capacity(70_000, 1 << 16, 1 << 20) == 1 << 18
    assert capacity(1 << 20, 1 << 16, (1 << 20) + 1) == (1 << 20) + 1


@pytest.fixture(scope="module")
def one_switch():
    """A switch of 3 ports written by real northd (grown by topo_gen.replicate_ports)."""
    from tests.conftest import private_central
    from topologies.bench.topo_gen import populate_one_switch
    with private_central("obu-") as central:
        populate_one_switch(central, 3)
        return C.snapshot(central.sb_remote, timeout=60)


@pytest.mark.bpf
def test_more_than_65535_lflows_compile_and_load(one_switch, tmp_path):
    """Before: the controller's cookie allocator stopped at 65,535 (CompileError: out of
    ids (1..65535)) and `ovnbpf compile` used unbounded ids; the hit counters had 65,536
    slots whatever the SB held."""
    state = replicate_ports(one_switch, 22_000)        # ~3 rows a port: 66,000 rows
    builder = PipelineBuilder(Stub(), tmp_path)
    want = D.compute(state, "hv1", {"p1": "p1-dev"}, D.ChassisIds())
    result = builder.compile(state, "hv1", want)       # the controller's compile
    assert max(result.cookies) > 65_535
    assert result.coverage["limits"]["refused_datapaths"] == []
    builder.install(result)
    sizes = builder.datapath.sizes
    assert sizes["lflow_hits"] > max(result.cookies) and sizes["pl_flows"] >= len(
        result.entries["ovnbpf_pl_flows"])
    # `ovnbpf compile`: the same allocators, the same cookies and sizes, loaded by the kernel
    report = C.compile_and_load(state, "hv1")
    assert {int(c): u for c, u in report["cookies"].items()} == result.cookies
    assert report["program"]["loaded"]
    assert report["program"]["map_sizes"] == {"ovnbpf_lflow_hits": sizes["lflow_hits"],
                                              "ovnbpf_pl_flows": sizes["pl_flows"]}
    print(f"\n{len(result.cookies)} lflows with cookies, map sizes {sizes}, "
          f"compile {report['compile_s']} s, verified {report['program']['insns']} insns")


def _two_switches(c):
    c.nbctl("ls-add", "ls1", "--", "ls-add", "ls2", "--", "lr-add", "lr1",
            "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1", "0a:00:00:00:01:01 10.0.1.1",
            "--", "lsp-add", "ls2", "p2", "--", "lsp-set-addresses", "p2", "0a:00:00:00:02:02 10.0.2.2",
            "--", "lrp-add", "lr1", "lrp1", "02:00:00:00:01:ff", "10.0.1.254/24",
            "--", "lrp-add", "lr1", "lrp2", "02:00:00:00:02:ff", "10.0.2.254/24",
            "--", "lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router",
            "--", "lsp-set-addresses", "ls1-lr1", "router",
            "--", "lsp-set-options", "ls1-lr1", "router-port=lrp1",
            "--", "lsp-add", "ls2", "ls2-lr1", "--", "lsp-set-type", "ls2-lr1", "router",
            "--", "lsp-set-addresses", "ls2-lr1", "router",
            "--", "lsp-set-options", "ls2-lr1", "router-port=lrp2")
    c.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("lsp-bind", "p1", "hv1")
    c.nbctl("--wait=sb", "sync")
    return C.snapshot(c.sb_remote)


def test_beyond_the_limit_leaves_whole_datapaths_out(ovn_central, tmp_path, capsys):
    """Before: exhausting the cookies raised CompileError for the whole chassis, and
    nothing was programmed at all."""
    state = _two_switches(ovn_central)
    everything = C.compile_state(state, "hv1")
    alone = C.compile_state(state, "hv1", limits=Limits(lflows=10**6, datapaths=1))
    assert alone.coverage["limits"]["refused_datapaths"] == ["lr1", "ls2"]
    ls1_rows = len(alone.cookies)
    assert ls1_rows < len(everything.cookies)
    # room for ls1's rows and a few more, not for lr1's: ls1 (its port is bound here) and
    # nothing else; the message names the limit, what was needed and what was left out
    limits = Limits(lflows=ls1_rows + 5)
    group_keys, cookies = C.allocators(limits)
    assert cookies.limit == limits.lflows + 1
    cut = C.compile_state(state, "hv1", synthetic_key=group_keys, cookie=cookies, limits=limits)
    assert cut.coverage["datapaths"] == ["ls1"]
    assert cut.coverage["limits"]["refused_datapaths"] == ["lr1", "ls2"]
    need = len(everything.cookies)
    assert cut.coverage["limits"]["reached"] == {"lflows": {"limit": ls1_rows + 5, "needed": need}}
    assert cut.warnings[0] == (f"limit reached: lflows {ls1_rows + 5} (needs {need}): "
                               "2 datapath(s) not programmed, their packets are dropped: lr1, ls2")
    # fail closed: no pipeline record for a datapath left out (no flow of it runs)
    keys = {d.name: d.tunnel_key for d in state.datapaths}
    dps = {int.from_bytes(k[:4], "little") for k, _ in cut.entries["ovnbpf_pl_dps"]}
    assert dps == {keys["ls1"]}
    assert cut.entries == alone.entries and cut.cookies == alone.cookies

    # the controller: the same refusal, the same entries; a later change is a full compile
    builder = PipelineBuilder(Stub(), tmp_path, limits=limits)
    want = D.compute(state, "hv1", {"p1": "p1-dev"}, D.ChassisIds())
    ctl = builder.compile(state, "hv1", want)
    assert ctl.entries == cut.entries and ctl.cookies == cut.cookies
    assert ("chassis", cut.warnings[0]) in ctl.problems
    ovn_central.nbctl("--wait=sb", "lsp-add", "ls1", "p3",
                      "--", "lsp-set-addresses", "p3", "0a:00:00:00:01:03 10.0.1.3")
    again = C.snapshot(ovn_central.sb_remote)
    later = builder.compile(again, "hv1", D.compute(again, "hv1", {"p1": "p1-dev"}, D.ChassisIds()))
    assert builder.incremental.last_full.startswith("datapaths left out at a limit")
    assert later.coverage["limits"]["refused_datapaths"] == ["lr1", "ls2"]

    # `ovnbpf compile --max-lflows` reports exactly that
    from controller.cli import main
    rc = main(["compile", "--sb", ovn_central.sb_remote, "--chassis", "hv1",
               "--max-lflows", str(ls1_rows + 5)])
    out = capsys.readouterr().out
    assert rc == 0 and later.warnings[0] in out and "datapaths: ls1;" in out
