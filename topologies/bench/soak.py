"""`ovnbpf bench soak`: hours of a live deployment compressed into minutes, with figures.

Brings up a lab (two chassis of --kind, a 3-member Raft SB), runs the seeded soak of
topologies/lab/soak.py against it (NB churn that never touches the traffic VMs' switches,
pings between running VMs, controller kill -9, SB restart, SB freeze, northd stop, Raft
leader kill)
and prints: changes applied, faults with their windows and packets sent/lost in each,
packets lost outside every window, RSS and fds over time, full compiles by reason, log
entries at WARN or above that name no UUID, and `violations` (what the e2e test asserts
empty). Run the same seed with --kind ovnbpf and --kind ovs to compare with the reference.
The lab is always taken down; its logs and the change log are copied to --out first.
"""
import contextlib
import shutil
import tempfile
import time
from pathlib import Path

from topologies.lab import soak, soakrun
from topologies.lab.lab import Lab
from topologies.lab.cli import ERRORS  # noqa: F401  reported as "error: message"

HELP = "NB churn + faults under traffic: loss per fault, RSS, fds"   # `ovnbpf bench soak` (entry point ovnbpf.benches)


def add_arguments(parser):
    parser.add_argument("--minutes", type=float, default=2.0, help="soak length (default 2)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--kind", choices=sorted(soakrun.BASES), default="ovnbpf",
                        help="chassis kind of the lab (ovs: the OVS reference)")
    parser.add_argument("--lab", "--name", dest="name", default="soak", help="lab name (default soak)")
    parser.add_argument("--rate", type=float, default=1.5, help="NB changes per second")
    parser.add_argument("--pps", type=int, default=50, help="pings per second per flow")
    parser.add_argument("--faults", default=None,
                        help="comma-separated fault kinds to inject, or 'none' (default: "
                             f"{','.join(soak.DEFAULT_KINDS)}; from {soak.LONG / 60:.0f} minutes "
                             f"on also {', '.join(soak.FAULT_KINDS[len(soak.DEFAULT_KINDS):])})")
    parser.add_argument("--out", help="keep the change log, ping outputs and chassis logs here")


@contextlib.contextmanager
def soak_lab(name, kind, tmp, sb_cluster=3, log=lambda *_: None):
    """A lab for the soak, always taken down (also when bring-up fails half way)."""
    lab = Lab(name)
    try:
        lab.up(str(soakrun.soak_topology(kind, tmp, name, sb_cluster)), log=log)
        yield lab
    finally:
        lab.down(log=log)


def run_soak(lab, seed, seconds, out_dir, rate=1.5, pps=50, kinds=None, log=print):
    """Plan and run a soak on a running lab: the figures, with `violations`. rate 0: no
    churn; kinds: the fault kinds (default all the lab supports; () for none)."""
    topo = lab.plan().topo
    raft = topo.sb_cluster > 1
    if kinds is not None:
        kinds = tuple(k for k in kinds if raft or k != "raft_leader_kill")
    plan = soak.make_plan(seed, seconds, [c.name for c in topo.chassis], raft=raft,
                          rate=rate, kinds=kinds)
    runner = soakrun.Soak(lab, plan, out_dir, interval=1.0 / pps, log=log)
    t = time.monotonic()
    figures = runner.run()
    figures["wall_s"] = round(time.monotonic() - t, 1)
    kinds = {c.kind for c in topo.chassis}
    # within fault windows: 0 for ovnbpf chassis (the stated bound: what these faults cost
    # them without churn); where an OVS chassis carries the traffic, its figures are printed
    # (the reference itself loses a few packets in an SB freeze or ovn-controller restart)
    figures["violations"] = soakrun.judge(figures, fault_bound=0 if kinds == {"ovnbpf"} else None,
                                          check_logs="ovnbpf" in kinds)
    return figures


def keep_logs(lab, out_dir):
    """Copy the chassis and central logs beside the soak's own files."""
    out = Path(out_dir)
    for node in lab.nodes():
        for log in node.rundir.glob("*.log"):
            shutil.copy(log, out / f"{node.name}-{log.name}")
    for log in lab.central().rundir.glob("*.log"):
        shutil.copy(log, out / f"central-{log.name}")


def bench(args):
    tmp = Path(tempfile.mkdtemp(prefix="ovnbpf-soak-"))
    out = Path(args.out) if args.out else tmp / "out"
    try:
        with soak_lab(args.name, args.kind, tmp, log=lambda *a: None) as lab:
            try:
                kinds = (None if args.faults is None else () if args.faults == "none"
                         else tuple(args.faults.split(",")))
                unknown = set(kinds or ()) - set(soak.FAULT_KINDS)
                if unknown:
                    raise SystemExit(f"ovnbpf bench soak: unknown fault kinds {sorted(unknown)}")
                return run_soak(lab, args.seed, args.minutes * 60, out, rate=args.rate,
                                pps=args.pps, kinds=kinds, log=lambda m: print(m, flush=True))
            finally:
                if args.out:
                    keep_logs(lab, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
