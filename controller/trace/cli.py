"""`ovnbpf trace [DATAPATH] MICROFLOW`: ovn-trace's question, answered by our programs.

Exit status: 0 done (for --compare: no difference), 1 bad input / a difference /
an error, 2 not implemented yet (named)."""
from __future__ import annotations

import json
import os
import sys

from .bind import bind
from .compare import compare
from .frame import build_frame
from .microflow import MicroflowError, MicroflowUnsupported, parse_microflow
from .ofline import openflow_line
from .oracle import OracleError, oracle_result, run_ovn_trace
from .render import render_detailed, render_json, render_minimal, to_json
from .walk import walk

DEFAULT_SB = "unix:/var/run/ovn/ovnsb_db.sock"    # ovn-trace's default


def add_arguments(p):
    p.add_argument("--sb", default=os.environ.get("OVN_SB_DB", DEFAULT_SB),
                   help="SB remote(s), as ovn-trace's --db (default: $OVN_SB_DB or ovn-trace's)")
    p.add_argument("--chassis", help="the chassis the packet enters on (default: the inport's)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--detailed", dest="format", action="store_const", const="detailed",
                     help="per chassis: stages and lflows hit, Geneve headers (the default)")
    fmt.add_argument("--minimal", dest="format", action="store_const", const="minimal",
                     help="one line per delivered copy, in ovn-trace's style")
    fmt.add_argument("--json", dest="format", action="store_const", const="json")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--compare", action="store_true",
                     help="also run ovn-trace and report differences (exit 1 on any)")
    how.add_argument("--oracle", action="store_true",
                     help="ovn-trace's answer (run on the same SB) in ovnbpf's formats")
    p.add_argument("args", nargs="+", metavar="[DATAPATH] MICROFLOW")
    p.set_defaults(format="detailed")


def _render(result, fmt):
    return {"minimal": render_minimal, "json": render_json}.get(fmt, render_detailed)(result)


def trace(sb, datapath, text, chassis=None, engine="ovnbpf"):
    """(ovnbpf result or None, ovn-trace result or None) for engine ovnbpf|ovn-trace|both."""
    from ..db.oneshot import snapshot
    micro = parse_microflow(text)
    state = snapshot(sb)
    where = bind(state, datapath, micro.inport, chassis)
    packet = micro.fields
    line = openflow_line(packet, where.inport.tunnel_key)
    ours = theirs = None
    if engine in ("ovn-trace", "both"):
        dp_arg = datapath or where.datapath.name
        theirs = oracle_result(packet, run_ovn_trace(sb, dp_arg, text, "minimal"),
                               run_ovn_trace(sb, dp_arg, text, "detailed"), state, where.chassis)
    if engine in ("ovnbpf", "both"):
        if where.inport.type != "":
            raise MicroflowUnsupported(f'inport "{where.inport.logical_port}" is a '
                                       f'{where.inport.type} port: ovnbpf trace sends packets '
                                       "from VIFs only (not implemented yet)")
        if where.chassis is None:
            raise MicroflowError(f'logical port "{where.inport.logical_port}" is not bound to a '
                                 "chassis: say where the packet enters with --chassis")
        ours = walk(state, where, build_frame(packet), packet, line)
    return ours, theirs


def run(args) -> int:
    if len(args.args) > 2:
        print("ovnbpf trace: expected [DATAPATH] MICROFLOW (quote the microflow)", file=sys.stderr)
        return 1
    datapath, text = (None, args.args[0]) if len(args.args) == 1 else args.args
    engine = "both" if args.compare else "ovn-trace" if args.oracle else "ovnbpf"
    try:
        ours, theirs = trace(args.sb, datapath, text, args.chassis, engine)
    except MicroflowUnsupported as e:
        print(f"ovnbpf trace: {e}", file=sys.stderr)
        return 2
    except MicroflowError as e:
        print(f"ovnbpf trace: error parsing microflow: {e}", file=sys.stderr)
        return 1
    except OracleError as e:
        print(f"ovnbpf trace: {e}", file=sys.stderr)
        return 1
    if not args.compare:
        print(_render(ours or theirs, args.format))
        return 0
    differences = compare(theirs, ours)
    if args.format == "json":
        print(json.dumps({"differences": differences, "ovn-trace": to_json(theirs),
                          "ovnbpf": to_json(ours)}, indent=1))
    else:
        if args.format == "detailed":
            print(_render(ours, "detailed"), end="\n\n")
        for d in differences:
            print(f"DIFFERENCE {d}")
        n = len(theirs.outputs)
        print(f"{len(differences)} difference(s); ovn-trace delivers {n} cop{'y' if n == 1 else 'ies'}, "
              f"ovnbpf {len(ours.outputs)}")
    return 1 if differences else 0
