"""hypothesis: random and mutated frames through every entry program. Only valid verdicts
(never XDP_ABORTED, never an error from the kernel), whatever the bytes."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from .conftest import LO, canonical_topology, needs_bpf
from .test_cases import VIF_CASES
from .test_encap import capture_frame

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]

XDP_OK = {1, 2, 4}        # DROP, PASS, REDIRECT
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

random_frames = st.binary(min_size=14, max_size=1600)


@st.composite
def mutated(draw, seeds):
    b = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(b) - 1))
        b[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(14, len(b)))
    return bytes(b[:cut])


@pytest.fixture
def topo(env):
    from datapath import maps as M
    env.reset()
    canonical_topology(env)
    env.maps["ovnbpf_tunnel_srcs"].apply({0xAC1FFA0B: 1, 0xAC1FFA0C: 2})
    return env


def _seeds():
    frame = capture_frame()
    return [frame, frame[58:]] + [c[1] for c in VIF_CASES if len(c[1]) >= 14]


@pytest.mark.parametrize("prog", ["ovnbpf_xdp_vif", "ovnbpf_xdp_tunnel"])
def test_random_bytes(topo, prog):
    from datapath import testrun

    @SETTINGS
    @given(random_frames)
    def run(pkt):
        assert testrun.run(topo.dp.fd(prog), pkt, ingress_ifindex=LO).verdict in XDP_OK

    run()


@pytest.mark.parametrize("prog", ["ovnbpf_xdp_vif", "ovnbpf_xdp_tunnel"])
def test_mutated_valid_frames(topo, prog):
    from datapath import testrun
    seeds = _seeds()

    @SETTINGS
    @given(mutated(seeds))
    def run(pkt):
        assert testrun.run(topo.dp.fd(prog), pkt, ingress_ifindex=LO).verdict in XDP_OK

    run()


@pytest.mark.parametrize("prog", ["ovnbpf_tc_mcast", "ovnbpf_tc_mcast_cont"])
def test_tc_programs_without_metadata(topo, prog):
    """Without ovnbpf metadata (test-run cannot supply any) on a VIF (test-run's lo is vm1's
    VIF here) the entry drops the frame as one XDP never saw (a tap's GSO frame, counted
    GSO_UNSUPPORTED); the continuation finds no group and drops it. Either way: no error."""
    from datapath import testrun

    @settings(max_examples=100, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(random_frames)
    def run(pkt):
        v = testrun.run(topo.dp.fd(prog), pkt).verdict
        assert v == testrun.TC_ACT_SHOT

    run()
