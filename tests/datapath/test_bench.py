"""The benchmark runs and reports every key (no timing assertions: the machines are noisy)."""
import pytest

from .conftest import needs_bpf

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]


def test_bench_reports_all_keys():
    from datapath import bench
    r = bench.run(repeat=1000)
    for k in ("floor_redirect_ns", "floor_encap_ns", "pipeline_l2_ns", "pipeline_encap_ns",
              "ratio_l2", "ratio_encap", "pipeline_l2_nocache_ns", "pipeline_encap_nocache_ns",
              "ratio_l2_nocache", "ratio_encap_nocache"):
        assert k in r and r[k] > 0
    # the cache-on figures are hits: one miss per figure and CPU the test-run used
    assert r["fcache"]["hits"] > 0 and r["fcache"]["fills"] == r["fcache"]["misses"]
