"""The benchmark runs and reports every key (no timing assertions: the machines are noisy)."""
import pytest

from .conftest import needs_bpf

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]


def test_bench_reports_all_keys():
    from datapath import bench
    r = bench.run(repeat=1000)
    for k in ("floor_redirect_ns", "floor_encap_ns", "pipeline_l2_ns", "pipeline_encap_ns",
              "ratio_l2", "ratio_encap"):
        assert k in r and r[k] > 0
