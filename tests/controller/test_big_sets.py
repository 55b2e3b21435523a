"""Address sets and port groups of 100,000 members compile in time linear in their size
(issue 13): one map entry per member, no skipped flow. A benchmark: it prints figures and
asserts behaviour, never time. Before: _fold and normalize were quadratic (a 20,000-address
set took 50 s here) and any set over 4,096 members was skipped (fail open)."""
import time

import pytest

from controller import compile as C
from controller.db import oneshot
from controller.lflow.flows import DpFlow
from controller.lflow.passes import Env
from controller.lflow.plan import AnalysisCache, NotCompiled, build_plan


def _addresses(n):
    return [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(n)]


@pytest.mark.root
@pytest.mark.parametrize("n", [20_000, 100_000])
def test_address_set_acl_compiles_one_entry_per_address(ovn_central, n):
    c = ovn_central
    c.nbctl("ls-add", "ls1", "--", "lsp-add", "ls1", "p1",
            "--", "lsp-set-addresses", "p1", "0a:00:00:00:01:01 10.0.1.1",
            "--", "create", "Address_Set", "name=big")
    addrs = _addresses(n)
    for i in range(0, n, 5000):          # one argument may not exceed 128 KiB
        c.nbctl("add", "Address_Set", "big", "addresses", *addrs[i:i + 5000])
    c.nbctl("acl-add", "ls1", "from-lport", "1002", "ip4.src == $big", "drop")
    c.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("lsp-bind", "p1", "hv1")
    state = oneshot.snapshot(c.sb_remote, timeout=60)
    t = time.perf_counter()
    result = C.compile_state(state, "hv1")
    took = time.perf_counter() - t
    [flow] = [f for f in state.flows if "$big" in f.match and f.stage == "ls_in_acl"]
    mine = [e for e in result.plan.entries if e.lflow == flow.uuid]
    assert len(mine) == n
    assert not any(isinstance(a, NotCompiled) for e in mine[:1]
                   for a in result.plan.shapes[e.shape].template)
    print(f"\n[figure] ACL with a {n}-address set: compile_state {took:.2f} s "
          f"({result.timings}), {sum(len(v) for v in result.entries.values())} map entries")


@pytest.mark.parametrize("n", [20_000, 100_000])
def test_port_group_of_n_members_plans_one_entry_each(n):
    ports = tuple(f"lsp{i}" for i in range(n))
    env = Env(port_groups={"1_pg": ports}, datapath_keys={"ls1": 1})
    flow = DpFlow("ls1", "egress", 4, "ls_out_acl", 2002, "outport == @pg && ip4",
                       "drop;", "f" * 32)
    t = time.perf_counter()
    plan = build_plan([flow], env=env, cache=AnalysisCache())
    took = time.perf_counter() - t
    assert len(plan.entries) == n and plan.skipped == ()
    print(f"\n[figure] port group of {n} members: build_plan {took:.2f} s")
