"""`ovnbpf bench WHAT [--json]`: each benchmark lives beside the code it measures and
exposes `bench(args) -> dict` (the figures) plus optionally `add_arguments(parser)` and
`ERRORS` (exception types reported as "error: message", exit 1).

The product's benchmarks are listed here; those that need a lab or a real northd (compile,
control, lab, soak) live in the testbed (topologies/bench) and are found through the
`ovnbpf.benches` entry-point group, so the product never imports them."""
import importlib
import json
import sys

from pathlib import Path

from . import plot
from ..plugins import BENCHES as PLUGIN_BENCHES, plugins

BENCHES = {
    "datapath": ("datapath.bench", "ns/packet through BPF_PROG_TEST_RUN, floors vs pipeline"),
    "split": ("datapath.splitbench", "egress on the receiver vs the sender: underlay, maps, ns"),
    "ct": ("datapath.ctbench", "conntrack ns/packet (established, new) vs the same pipeline without"),
}


def _modules():
    """{name: (module, help)}: the product's benchmarks, then the installed plugins'."""
    mods = {name: (importlib.import_module(m), what) for name, (m, what) in BENCHES.items()}
    for name, ep in plugins(PLUGIN_BENCHES).items():
        mod = ep.load()
        mods.setdefault(name, (mod, mod.HELP))
    return mods


def add_arguments(parser):
    sub = parser.add_subparsers(dest="bench", required=True, metavar="WHAT")
    for name, (mod, what) in _modules().items():
        p = sub.add_parser(name, help=what)
        p.add_argument("--json", action="store_true", help="print the figures as JSON")
        p.add_argument("--plot", metavar="FILE.svg", help="also draw the figures as SVG bar charts")
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(p)


def _plain(figures, indent=""):
    for k, v in figures.items():
        if isinstance(v, dict):
            print(f"{indent}{k}:")
            _plain(v, indent + "  ")
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            print(f"{indent}{k}:")
            for line in v:
                print(f"{indent}  {line}")
        else:
            print(f"{indent}{k}: {v}")


def run(args):
    mod = _modules()[args.bench][0]
    try:
        figures = mod.bench(args)
    except tuple(getattr(mod, "ERRORS", ())) as e:
        print(f"ovnbpf bench {args.bench}: error: {e}", file=sys.stderr)
        return 1
    if getattr(args, "plot", None):
        Path(args.plot).write_text(plot.svg(figures, f"ovnbpf bench {args.bench}"))
        print(f"ovnbpf bench {args.bench}: figures drawn in {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        _plain(figures)
    return 0
