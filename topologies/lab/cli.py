"""The testbed's `ovnbpf` subcommands: `ovnbpf lab ...` and `ovnbpf demo`.

The product's CLI (controller/cli.py) never imports this module: it finds LAB and DEMO
through the `ovnbpf.commands` entry-point group in pyproject.toml. Each command object has
`help`, `add_arguments(parser)` and `run(args) -> exit status`; `errors` are the exception
types the CLI reports as "error: message" (exit 1) rather than a traceback.
"""
import argparse
import json
import os

from .demo import format_status, run_demo
from .lab import Lab, LabError
from .proc import CommandError
from .topology import TopologyError

ERRORS = (LabError, TopologyError, CommandError, TimeoutError)


def _lab_arguments(lab):
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


def _lab_run(args):
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


def _demo_arguments(p):
    p.add_argument("topology", nargs="?", default="ebpf")


def _demo_run(args):
    return 0 if run_demo(args.topology) else 1


class Command:
    def __init__(self, help, add_arguments, run):
        self.help, self.add_arguments, self.run, self.errors = help, add_arguments, run, ERRORS


LAB = Command("bring up, inspect and remove labs of OVN chassis in namespaces", _lab_arguments, _lab_run)
DEMO = Command("bring up the default lab, ping across it, tear it down", _demo_arguments, _demo_run)
