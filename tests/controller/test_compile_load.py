"""The generated pipeline passes the kernel verifier, and its size does not depend on the
number of ports: a switch of 10 and of 1,000 ports (real northd) give the same program."""
import pytest

from controller.compile import CompileError, compile_state, snapshot, verify, write_outputs
from topologies.bench.topo_gen import populate_one_switch, replicate_ports

pytestmark = [pytest.mark.root, pytest.mark.bpf]


def _load(result, tmp_path, name):
    out = tmp_path / name
    report = result.summary()
    return verify(write_outputs(result, out, report))


@pytest.fixture(scope="module")
def one_switch_states():
    """SB snapshots of one switch with 10 and with 1,000 ports, written by real northd."""
    import shutil
    import tempfile
    from pathlib import Path
    from topologies.lab.central import Central
    states = {}
    for n in (10, 1000):
        rundir = Path(tempfile.mkdtemp(prefix="obc-", dir="/tmp"))
        central = Central(rundir)
        try:
            central.start()
            populate_one_switch(central, n)
            states[n] = snapshot(central.sb_remote, timeout=60)
        finally:
            central.stop()
            shutil.rmtree(rundir, ignore_errors=True)
    return states


def test_instruction_count_is_independent_of_port_count(one_switch_states, tmp_path):
    small = compile_state(one_switch_states[10], "hv1")
    big = compile_state(one_switch_states[1000], "hv1")
    assert big.coverage["total"] > 10 * small.coverage["total"]
    assert big.shape_hash == small.shape_hash and big.source == small.source
    assert len(big.entries["ovnbpf_pl_flows"]) > 1000
    insns_small = _load(small, tmp_path, "small")["insns"]
    insns_big = _load(big, tmp_path, "big")["insns"]
    print(f"\nverified instructions: 10 ports {insns_small}, 1,000 ports {insns_big}")
    assert insns_small == insns_big and sum(insns_small.values()) > 0


def test_generator_matches_real_northd(one_switch_states):
    """replicate_ports (used for 10,000-port benchmarks) yields what northd yields."""
    real = one_switch_states[1000]
    grown = replicate_ports(one_switch_states[10], 1000)
    assert len(grown.flows) == len(real.flows) and len(grown.ports) == len(real.ports)
    a, b = compile_state(real, "hv1"), compile_state(grown, "hv1")
    assert a.shape_hash == b.shape_hash
    assert {k: len(v) for k, v in a.entries.items()} == {k: len(v) for k, v in b.entries.items()}


def test_a_refused_pipeline_is_a_clear_error(tmp_path, one_switch_states):
    result = compile_state(one_switch_states[10], "hv1")
    path = write_outputs(result, tmp_path, {})
    # an unbounded loop the verifier must refuse
    path.write_text(path.read_text().replace(
        "    if (!d)\n        return OVNBPF_PL_DROP;  /* no logical flows for this datapath */",
        "    if (!d)\n        return OVNBPF_PL_DROP;  /* no logical flows for this datapath */\n"
        "    for (volatile __u32 i = 0; i != f->inport + 1; i += 2) f->reg[0]++;", 1))
    with pytest.raises(CompileError, match="the kernel refused the generated pipeline"):
        verify(path)
