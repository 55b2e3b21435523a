"""`ovnbpf bench WHAT --plot FILE`: the figures as SVG bar charts (controller/bench/plot.py)."""
import subprocess
import sys
import xml.etree.ElementTree as ET

from controller.bench import plot

FIGURES = {"pps": {"ovnbpf_cross": 1.2e6, "ovs_cross": 4.1e4, "kernel": {"cross": 9e5}},
           "tcp_gbps": {"ovnbpf": 1.79, "kernel": 10.52}, "ratio_cross_vs_ovs": 29.2,
           "setup": {"frame": "64 bytes"}, "ok": True, "rounds": 3}


def test_a_panel_per_group_and_a_bar_per_figure():
    assert plot.panels(FIGURES, "t") == [
        ("t", [("ratio_cross_vs_ovs", 29.2), ("rounds", 3.0)]),
        ("pps", [("ovnbpf_cross", 1.2e6), ("ovs_cross", 4.1e4), ("kernel.cross", 9e5)]),
        ("tcp_gbps", [("ovnbpf", 1.79), ("kernel", 10.52)])]
    root = ET.fromstring(plot.svg(FIGURES, "t"))         # well-formed SVG
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{*}title") is not None]
    assert len(bars) == 7
    widths = {r.find("{*}title").text.split(" = ")[0]: int(r.get("width")) for r in bars}
    assert widths["ovnbpf_cross"] == plot.BAR_W and widths["ovs_cross"] < widths["kernel.cross"]


def test_bench_takes_plot():
    r = subprocess.run([sys.executable, "-m", "controller.cli", "bench", "lab", "--help"],
                       capture_output=True, text=True)
    assert "--plot FILE.svg" in r.stdout
