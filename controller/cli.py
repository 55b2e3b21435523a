"""The `ovnbpf` command: one entry point, one subcommand per job."""
import argparse
import json
import os
import sys

# Subcommands whose code lives in its own module: "module" must define
# add_arguments(parser) and run(args) -> exit status. Until that module exists the
# subcommand says "not implemented yet" (exit 2) instead of pretending to work.
DELEGATED = {
    "controller": ("controller.chassisd.cli", "run the chassis controller (instead of ovn-controller)"),
    "trace": ("controller.trace.cli", "trace a microflow through the real eBPF programs"),
    "bench": ("controller.bench.cli", "benchmarks that print figures (datapath, compile, control, lab)"),
    "ctl": ("controller.ctl", "inspect a running chassis: programs, maps, counters, drops"),
}


def _delegate(name):
    """The subcommand's module, or None when it has not landed yet."""
    import importlib
    module = DELEGATED[name][0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and module.startswith(e.name):
            return None
        raise


def _lab_parser(sub):
    lab = sub.add_parser("lab", help="bring up, inspect and remove labs of OVN chassis in namespaces")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    up = lab_sub.add_parser("up", help="bring up a lab from a topology (name or YAML path)")
    up.add_argument("topology", nargs="?", default="ebpf")
    down = lab_sub.add_parser("down", help="remove every namespace, link and process of a lab")
    status = lab_sub.add_parser("status", help="nodes, daemons and their health")
    status.add_argument("--json", action="store_true")
    ex = lab_sub.add_parser("exec", help="run a command in a VM or chassis namespace")
    ex.add_argument("node")
    ex.add_argument("cmd", nargs=argparse.REMAINDER)
    for p in (up, down, status, ex):
        p.add_argument("--name", default="lab", help="lab name (prefixes its objects; default: lab)")


def _cmd_lab(args):
    from .lab.demo import format_status
    from .lab.lab import Lab

    lab = Lab(args.name)
    if args.lab_command == "up":
        lab.up(args.topology)
    elif args.lab_command == "down":
        lab.down()
    elif args.lab_command == "status":
        status = lab.status()
        print(json.dumps(status, indent=1) if args.json else format_status(status))
        return 0 if all(c["healthy"] for c in status["chassis"]) and status["central"]["healthy"] else 1
    elif args.lab_command == "exec":
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            raise SystemExit("ovnbpf lab exec: usage: ovnbpf lab exec NODE -- CMD [ARGS...]")
        ns, env = lab.node_netns(args.node)
        os.environ.update(env)
        os.execvp("ip", ["ip", "netns", "exec", ns, *cmd])
    return 0


def _cmd_demo(args):
    from .lab.demo import run_demo
    return 0 if run_demo(args.topology) else 1


def _cmd_compile(args):
    from .compile import compile_chassis, format_report
    from .limits import from_args
    report = compile_chassis(args.sb, args.chassis, args.out, limits=from_args(args))
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="ovnbpf", description="An eBPF/XDP chassis for OVN.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _lab_parser(sub)
    comp = sub.add_parser("compile", help="compile one chassis' logical flows from a real SB to C")
    comp.add_argument("--sb", required=True, help="SB remote(s): unix:PATH or tcp:IP:PORT, comma-separated")
    comp.add_argument("--chassis", required=True, help="chassis name (Chassis.name in the SB)")
    comp.add_argument("--out", help="write pipeline.c, maps.json and coverage.json here")
    comp.add_argument("--json", action="store_true")
    from .limits import add_arguments as limit_arguments
    limit_arguments(comp)
    demo = sub.add_parser("demo", help="bring up the default lab, ping across it, tear it down")
    demo.add_argument("topology", nargs="?", default="ebpf")
    for name, (_, what) in DELEGATED.items():
        mod = _delegate(name)
        p = sub.add_parser(name, help=what if mod else f"{what} (not implemented yet)")
        if mod:
            mod.add_arguments(p)
        else:
            p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .lab.chassis import ChassisKindNotReady
    from .lab.lab import LabError
    from .lab.proc import CommandError
    from .lab.topology import TopologyError
    from .compile import CompileError
    from .db.southbound import SouthboundError
    try:
        if args.command == "lab":
            return _cmd_lab(args)
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "compile":
            return _cmd_compile(args)
        mod = _delegate(args.command)
        if mod is None:
            print(f"ovnbpf {args.command}: not implemented yet ({args.command} has not landed)",
                  file=sys.stderr)
            return 2
        return mod.run(args)
    except (LabError, TopologyError, ChassisKindNotReady, CommandError, TimeoutError,
            CompileError, SouthboundError) as e:
        print(f"ovnbpf {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
