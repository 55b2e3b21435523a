"""`ovnbpf bench compile`: compile time and map-update time vs port count.

The SB state: real ovn-northd writes one switch with a few ports (topo_gen), and
topo_gen.replicate_ports grows it to N ports (it yields exactly what northd yields at 1,000
ports: tests/controller/test_compile_load.py; running northd itself for 10,000 ports costs
~140 s). For each N:
  cold_compile_s   compile_state with an empty analysis cache (controller start)
  port_add         one more port: compile_state with the cache and id allocators of the
                   previous compile (what the controller does on that SB change), whether
                   it needs a recompile (shape_hash), and the map update: entries encoded
                   (inside compile) and diffed against the previous ones.
Figures only; nothing here asserts a time.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from controller.compile import allocators, compile_state, snapshot
from controller.lflow.plan import AnalysisCache
from .topo_gen import populate_one_switch, replicate_ports
from topologies.lab.cli import ERRORS  # noqa: F401  reported as "error: message"

HELP = "compile time and map-update time vs port count"   # `ovnbpf bench compile` (entry point ovnbpf.benches)

__all__ = ["bench", "add_arguments", "diff_entries"]


def add_arguments(parser):
    parser.add_argument("--ports", default="10,1000,10000",
                        help="comma-separated port counts (default: 10,1000,10000)")


def diff_entries(old: dict, new: dict) -> dict:
    """{map: (added, changed, removed)} between two compile results' entries."""
    out = {}
    for name in sorted(set(old) | set(new)):
        a, b = dict(old.get(name, ())), dict(new.get(name, ()))
        added = sum(1 for k in b if k not in a)
        changed = sum(1 for k, v in b.items() if k in a and a[k] != v)
        removed = sum(1 for k in a if k not in b)
        if added or changed or removed:
            out[name] = (added, changed, removed)
    return out


def _base_state():
    from topologies.lab.central import Central
    rundir = Path(tempfile.mkdtemp(prefix="obb-", dir="/tmp"))
    central = Central(rundir)
    try:
        central.start()
        populate_one_switch(central, 3)
        return snapshot(central.sb_remote, timeout=60)
    finally:
        central.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def _one(base, n: int) -> dict:
    state = replicate_ports(base, n)
    bigger = replicate_ports(base, n + 1)
    cache = AnalysisCache()
    synthetic, cookie = allocators()          # the controller's (controller/limits.py)
    t0 = time.monotonic()
    first = compile_state(state, "hv1", cache=cache, cookie=cookie, synthetic_key=synthetic)
    cold = time.monotonic() - t0
    t0 = time.monotonic()
    second = compile_state(bigger, "hv1", cache=cache, cookie=cookie, synthetic_key=synthetic)
    warm = time.monotonic() - t0
    t0 = time.monotonic()
    diff = diff_entries(first.entries, second.entries)
    diff_s = time.monotonic() - t0
    return {
        "flows": first.coverage["total"],
        "entries": sum(len(v) for v in first.entries.values()),
        "cold_compile_s": round(cold, 3),
        "port_add": {
            "compile_s": round(warm, 3),
            "recompile": second.shape_hash != first.shape_hash,
            "encode_s": second.timings["encode_s"],
            "diff_s": round(diff_s, 4),
            "map_update_s": round(second.timings["encode_s"] + diff_s, 4),
            "entries_changed": {m: dict(zip(("added", "changed", "removed"), d))
                                for m, d in diff.items()},
        },
    }


def bench(args) -> dict:
    counts = [int(x) for x in str(getattr(args, "ports", "10,1000,10000")).split(",") if x]
    t0 = time.monotonic()
    base = _base_state()
    out = {"source": "real ovn-northd for 3 ports, grown to N by topologies/bench/topo_gen.py",
           "northd_s": round(time.monotonic() - t0, 2)}
    for n in counts:
        out[f"ports_{n}"] = _one(base, n)
    return out
