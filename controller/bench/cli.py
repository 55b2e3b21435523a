"""`ovnbpf bench WHAT [--json]`: each benchmark lives beside the code it measures and
exposes `bench(args) -> dict` (the figures) plus optionally `add_arguments(parser)`.
A benchmark whose module has not landed says "not implemented yet" (exit 2)."""
import importlib
import json
import sys

BENCHES = {
    "datapath": ("datapath.bench", "ns/packet through BPF_PROG_TEST_RUN, floors vs pipeline"),
    "compile": ("controller.lflow.bench", "compile time and map-update time vs port count"),
    "control": ("controller.chassisd.bench", "VIF bind -> first forwarded packet, SB bytes"),
    "lab": ("controller.bench.lab", "pps and TCP throughput, ovnbpf vs ovs vs kernel"),
    "split": ("datapath.splitbench", "egress on the receiver vs the sender: underlay, maps, ns"),
    "soak": ("controller.bench.soak", "NB churn + faults under traffic: loss per fault, RSS, fds"),
    "scale": ("controller.bench.scale", "N chassis clients vs a standalone, Raft or relayed SB"),
    "dhcp": ("controller.punt.bench", "DHCP answers per second per chassis, ovnbpf vs OVS reference"),
}


def _module(name):
    module = BENCHES[name][0]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None
        raise
    return mod if hasattr(mod, "bench") else None


def add_arguments(parser):
    sub = parser.add_subparsers(dest="bench", required=True, metavar="WHAT")
    for name, (_, what) in BENCHES.items():
        mod = _module(name)
        p = sub.add_parser(name, help=what if mod else f"{what} (not implemented yet)")
        p.add_argument("--json", action="store_true", help="print the figures as JSON")
        if mod and hasattr(mod, "add_arguments"):
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
    mod = _module(args.bench)
    if mod is None:
        print(f"ovnbpf bench {args.bench}: not implemented yet", file=sys.stderr)
        return 2
    figures = mod.bench(args)
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        _plain(figures)
    return 0
