"""The differential test on topologies hypothesis makes up: switches, VMs spread over
chassis, with or without a router. Each one is written to a real NB (real northd), its
chassis registered and ports bound with ovn-sbctl, and every case of its matrix goes through
ovn-trace and through our real programs (one Walker per topology). A disagreement fails
with the topology's YAML and the microflow; hypothesis shrinks to the smallest topology.

No chassis namespaces are needed: ovn-trace reads only the SB, and the Walker loads each
chassis' programs into a private namespace of its own."""
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from topologies.lab import logical, topology
from controller.trace.bind import bind
from controller.trace.compare import compare
from controller.trace.frame import build_frame
from controller.trace.matrix import lab_matrix
from controller.trace.microflow import parse_microflow
from controller.trace.oracle import oracle_result, run_ovn_trace
from controller.trace.sb import snapshot
from controller.trace.walk import Walker, require
from tests.trace.test_trace_lab import KNOWN_GAPS

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

CHASSIS = ("hv1", "hv2", "hv3")
EXAMPLES = int(os.environ.get("OVNBPF_TRACE_EXAMPLES", "3"))


@st.composite
def topologies(draw):
    """A topology file's text: 1-3 switches (a router joins them when there are several),
    1-3 VMs per switch, each on one of 1-3 chassis."""
    n_switches = draw(st.integers(1, 3))
    with_router = n_switches > 1 or draw(st.booleans())
    chassis = CHASSIS[:draw(st.integers(1, 3))]
    lines = ["name: generated", "chassis:"]
    lines += [f"  {c}: {{kind: ovs}}" for c in chassis]
    lines.append("switches:")
    lines += [f"  ls{s}: {{subnet: 10.0.{s}.0/24, key: {s}}}" for s in range(1, n_switches + 1)]
    if with_router:
        lines += ["routers:", "  lr1:", "    key: 10", "    ports:"]
        lines += [f'      lrp-ls{s}: {{switch: ls{s}, mac: "02:00:00:00:0{s}:01", '
                  f"ip: 10.0.{s}.1/24, key: {s}}}" for s in range(1, n_switches + 1)]
    lines.append("vms:")
    n = 0
    for s in range(1, n_switches + 1):
        for where in draw(st.lists(st.sampled_from(chassis), min_size=1, max_size=3)):
            n += 1
            lines.append(f'  vm{n}: {{chassis: {where}, switch: ls{s}, '
                         f'mac: "0a:00:00:00:0{s}:{n:02x}", ip: 10.0.{s}.{10 + n}, key: {n}}}')
    return "\n".join(lines) + "\n"


def _reset(central):
    """Empty NB and SB chassis, so one central serves every example."""
    for cmd in (["lr-list"], ["ls-list"]):
        for line in central.nbctl(*cmd).splitlines():
            if line.strip():
                central.nbctl("--if-exists", "lr-del" if cmd == ["lr-list"] else "ls-del",
                              line.split()[0])
    for name in central.chassis_names():
        central.sbctl("chassis-del", name)


def _deploy(central, text):
    topo = topology.parse(text, "<generated>")
    _reset(central)
    logical.create(central, topo)
    for i, c in enumerate(topo.chassis, start=1):
        # encap IPs exist only as SB data: the Walker's tunnels stay in its own namespace
        central.sbctl("chassis-add", c.name, "geneve", f"192.0.2.{10 + i}")
    for vm in topo.vms:
        central.sbctl("lsp-bind", vm.port, vm.chassis)
    central.nbctl("--wait=sb", "sync", timeout=30)
    return snapshot(central.sb_remote)


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=topologies())
def test_generated_topologies_agree_with_ovn_trace(ovn_central, text):
    require()
    state = _deploy(ovn_central, text)
    cases = lab_matrix(state)
    assert cases, "every generated topology has VMs, so a matrix"
    unexpected = {}
    with Walker(state, stages=False) as walker:
        for case in cases:
            micro = parse_microflow(case.microflow)
            where = bind(state, case.datapath, micro.inport)
            theirs = oracle_result(micro.fields,
                                   run_ovn_trace(ovn_central.sb_remote, case.datapath, case.microflow, "minimal"),
                                   run_ovn_trace(ovn_central.sb_remote, case.datapath, case.microflow, "detailed"),
                                   state, where.chassis)
            ours = walker.trace(where, build_frame(micro.fields), micro.fields, theirs.flow_line)
            d = compare(theirs, ours)
            gap = KNOWN_GAPS.get(case.kind)
            if d and (gap is None or len(d) != 1 or gap not in d[0]):
                unexpected[case.name] = (case.datapath, case.microflow, d)
    detail = "\n".join(f"  {name}: ovnbpf trace {dp} '{mf}'\n    " + "\n    ".join(d)
                       for name, (dp, mf, d) in unexpected.items())
    assert not unexpected, f"topology:\n{text}\n{len(unexpected)} of {len(cases)} cases differ:\n{detail}"
