"""The testbed's `ovnbpf` subcommands: `ovnbpf lab ...` and `ovnbpf demo`.

The product's CLI (controller/cli.py) never imports this module: it finds LAB and DEMO
through the `ovnbpf.commands` entry-point group in pyproject.toml. Each command object has
`help`, `add_arguments(parser)` and `run(args) -> exit status`; `errors` are the exception
types the CLI reports as "error: message" (exit 1) rather than a traceback.
"""
import argparse
import json
import os

from . import show
from .demo import format_status, run_demo
from .lab import DEFAULT_LAB, LAB_NAME_MAX, Lab, LabError
from .proc import CommandError
from .topology import TopologyError

ERRORS = (LabError, TopologyError, CommandError, TimeoutError)


def lab_option(p, default=DEFAULT_LAB):
    """The one spelling of the lab option in every command (`ovnbpf lab`, `demo`, `ctl`, the
    lab benchmarks); `--name` stays accepted for the scripts written before."""
    p.add_argument("--lab", "--name", dest="name", default=default, metavar="LAB",
                   help=f"lab name (default: {default}; up to {LAB_NAME_MAX} characters: a "
                        "lowercase letter, then lowercase letters, digits or '-'; "
                        "--name is the same option)")


def _lab_arguments(lab):
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    up = lab_sub.add_parser("up", help="bring up a lab from a topology (name or YAML path)")
    up.add_argument("topology", nargs="?", default="ebpf")
    down = lab_sub.add_parser("down", help="remove every namespace, link and process of a lab")
    status = lab_sub.add_parser("status", help="nodes, daemons and their health")
    status.add_argument("--json", action="store_true")
    env = lab_sub.add_parser("env", help="print `export OVN_NB_DB=... OVN_SB_DB=...` for "
                                         "ovn-nbctl/ovn-sbctl/ovn-trace: eval \"$(ovnbpf lab env)\"")
    show = lab_sub.add_parser("show", help="draw the lab: chassis, switches, routers, VMs, "
                                           "tunnels, drops (a text tree; --svg FILE via Graphviz)")
    show.add_argument("--svg", metavar="FILE", help="also draw it as SVG with Graphviz `dot` "
                                                    "(without dot: FILE.dot is written)")
    ex = lab_sub.add_parser("exec", help="run a command in a VM or chassis namespace",
                            usage="%(prog)s NODE [--lab LAB] -- CMD [ARGS...]")
    ex.add_argument("node")
    ex.add_argument("cmd", nargs=argparse.REMAINDER)
    for p in (up, down, status, env, show, ex):
        lab_option(p)


def split_exec(node_args, default_lab):
    """`lab exec NODE [--lab L] -- CMD...`: argparse's REMAINDER takes everything after
    NODE, so the lab option written before `--` is picked out here. Without `--`, all of
    it is the command (as before)."""
    if "--" not in node_args:
        return default_lab, node_args
    i = node_args.index("--")
    opts, cmd = node_args[:i], node_args[i + 1:]
    p = argparse.ArgumentParser(prog="ovnbpf lab exec NODE")
    lab_option(p, default_lab)
    return p.parse_args(opts).name, cmd


def env_line(central):
    """For `eval "$(ovnbpf lab env)"`: ovn-nbctl, ovn-sbctl and ovn-trace read these."""
    return f"export OVN_NB_DB={central.nb_remote} OVN_SB_DB={central.sb_remote}"


def _lab_run(args):
    if args.lab_command == "exec":
        name, cmd = split_exec(args.cmd, args.name)
        if not cmd:
            raise SystemExit("ovnbpf lab exec: usage: ovnbpf lab exec NODE [--lab LAB] -- CMD [ARGS...]")
        ns, env = Lab(name).node_netns(args.node)
        os.environ.update(env)
        os.execvp("ip", ["ip", "netns", "exec", ns, *cmd])
    lab = Lab(args.name)
    if args.lab_command == "up":
        lab.up(args.topology)
    elif args.lab_command == "down":
        lab.down()
    elif args.lab_command == "status":
        status = lab.status()
        print(json.dumps(status, indent=1) if args.json else format_status(status))
        return 0 if all(c["healthy"] for c in status["chassis"]) and status["central"]["healthy"] else 1
    elif args.lab_command == "env":
        print(env_line(lab.central()))
    elif args.lab_command == "show":
        picture = show.gather(lab)
        print(show.text_tree(picture))
        if args.svg:
            print(show.write_svg(picture, args.svg))
    return 0


def _demo_arguments(p):
    p.add_argument("topology", nargs="?", default="ebpf")
    lab_option(p, "demo")


def _demo_run(args):
    return 0 if run_demo(args.topology, name=args.name) else 1


class Command:
    def __init__(self, help, add_arguments, run):
        self.help, self.add_arguments, self.run, self.errors = help, add_arguments, run, ERRORS


LAB = Command("bring up, inspect and remove labs of OVN chassis in namespaces", _lab_arguments, _lab_run)
DEMO = Command("bring up the default lab, ping across it, tear it down", _demo_arguments, _demo_run)
