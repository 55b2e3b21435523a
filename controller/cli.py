"""The `ovnbpf` command: one entry point, one subcommand per job."""
import argparse
import importlib
import json
import os
import sys

from . import limits
from .compile import CompileError, compile_chassis, format_report
from .db.southbound import SouthboundError
from .plugins import COMMANDS, plugins

# Subcommands whose code lives in its own module: it defines add_arguments(parser) and
# run(args) -> exit status.
DELEGATED = {
    "controller": ("controller.chassisd.cli", "run the chassis controller (instead of ovn-controller)"),
    "trace": ("controller.trace.cli", "trace a microflow through the real eBPF programs"),
    "bench": ("controller.bench.cli", "benchmarks that print figures (datapath, compile, control, lab)"),
    "ctl": ("controller.ctl", "inspect a running chassis: programs, maps, counters, drops"),
}


def _cmd_compile(args):
    report = compile_chassis(args.sb, args.chassis, args.out, limits=limits.from_args(args))
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


def build_parser(extra=None):
    """The parser; `extra` ({name: loaded command}) defaults to the installed plugins."""
    if extra is None:
        extra = {name: ep.load() for name, ep in plugins(COMMANDS).items()}
    parser = argparse.ArgumentParser(prog="ovnbpf", description="An eBPF/XDP chassis for OVN.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in extra.items():
        command.add_arguments(sub.add_parser(name, help=command.help))
    comp = sub.add_parser("compile", help="compile one chassis' logical flows from a real SB to C")
    comp.add_argument("--sb", required=True, help="SB remote(s): unix:PATH or tcp:IP:PORT, comma-separated")
    comp.add_argument("--chassis", required=True, help="chassis name (Chassis.name in the SB)")
    comp.add_argument("--out", help="write pipeline.c, maps.json and coverage.json here")
    comp.add_argument("--json", action="store_true")
    limits.add_arguments(comp)
    for name, (module, what) in DELEGATED.items():
        importlib.import_module(module).add_arguments(sub.add_parser(name, help=what))
    return parser


def main(argv=None):
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader went away (`ovnbpf ... | head -1`): no traceback; stdout goes to
        # /dev/null so the interpreter's own flush at exit cannot raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141      # as a command killed by SIGPIPE, which the shell reports so


def _main(argv):
    extra = {name: ep.load() for name, ep in plugins(COMMANDS).items()}
    args = build_parser(extra).parse_args(argv)
    errors = (TimeoutError, CompileError, SouthboundError)
    try:
        if args.command in extra:
            command = extra[args.command]
            errors += tuple(getattr(command, "errors", ()))
            return command.run(args)
        if args.command == "compile":
            return _cmd_compile(args)
        return importlib.import_module(DELEGATED[args.command][0]).run(args)
    except errors as e:
        print(f"ovnbpf {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
