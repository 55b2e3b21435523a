"""`ovnbpf controller`: the chassis daemon's command line (ovn-controller's conventions:
the local DB as the argument/option, --pidfile, --detach, --log-file, -v levels)."""
import logging
import os
import sys
from pathlib import Path

from .. import limits
from . import log as L

DEFAULT_DB = "unix:/var/run/openvswitch/db.sock"


DEFAULT_VIF_XDP = "native"


def add_arguments(p):
    p.add_argument("--ovs-db", default=DEFAULT_DB,
                   help=f"the local Open_vSwitch DB (default {DEFAULT_DB})")
    p.add_argument("--pin-dir", help="bpffs directory for this chassis' maps "
                   "(default /sys/fs/bpf/ovnbpf/<system-id>)")
    p.add_argument("--uplink", help="underlay device (default: the one holding ovn-encap-ip)")
    p.add_argument("--egress-on", choices=("egress", "ingress"), default="egress",
                   help="which chassis runs the logical egress pipeline of unicast: egress "
                   "(the one hosting the egress port, as OVN; the default) or ingress (the "
                   "sender, before encap, marking the Geneve option; only toward chassis that "
                   "advertise they accept the mark, i.e. other ovnbpf chassis)")
    p.add_argument("--vif-xdp", choices=("native", "skb"), default=DEFAULT_VIF_XDP,
                   help="how VIFs get their XDP program: skb (generic XDP, outputs sent by TC: "
                   "a guest keeps TSO/GSO and its 64 KiB frames cross the datapath whole) "
                   "or native (driver XDP, the fastest per packet, the default: a controller "
                   "restart replaces it atomically; the kernel then "
                   "turns TSO/GSO off in a veth guest). See bpf/README.md, \"Guests' offloads\"")
    p.add_argument("--punt-rate", type=int, default=1000, metavar="PPS",
                   help="at most PPS packets per second per CPU go to the controller (ICMP "
                   "errors, ARP/ND, learning); the rest are dropped and counted as PUNT_RATE, "
                   "so a flood cannot starve the Southbound work (default 1000; 0: no limit)")
    p.add_argument("--punt-burst", type=int, default=100, metavar="N",
                   help="punts allowed back to back before the rate applies (default 100)")
    p.add_argument("--run-dir", help="where generated pipeline sources are kept "
                   "(default /run/ovnbpf/<system-id>)")
    p.add_argument("--view-check-interval", type=float, default=60.0, metavar="SECONDS",
                   help="compare the Southbound view with the server's flows for the local "
                   "datapaths this often when idle, and soon after datapath groups change; "
                   "a difference is counted, logged and repaired by a resync (0: never; "
                   "default 60)")
    p.add_argument("--sb-wait-warn", type=float, default=30.0, metavar="S",
                   help="at start, log a warning once the Southbound has not answered for S "
                   "seconds; the controller keeps retrying with backoff as long as it takes, "
                   "as ovn-controller does (default 30)")
    p.add_argument("--status-file", help="write state for `ovnbpf ctl` here (JSON, each change)")
    p.add_argument("--log-file", help="append log lines here")
    p.add_argument("--pidfile", help="write our PID here (removed on exit)")
    limits.add_arguments(p)
    p.add_argument("--detach", action="store_true",
                   help="run in the background once initialised (the parent exits 0)")
    p.add_argument("-v", "--verbose", nargs="?", const="dbg", default="info",
                   choices=sorted(L.LEVELS), help="log level (default info; -v alone: dbg)")


def _detach():
    """Fork; the parent waits until the child reports readiness (or failure) on a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        status = os.read(r, 4096)
        if status[:1] == b"1":
            sys.exit(0)
        reason = status[1:].decode(errors="replace") or "it exited before it was ready"
        print(f"ovnbpf controller: error: {reason}", file=sys.stderr)
        sys.exit(1)
    os.close(r)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    return w


def run(args):
    from .pidfile import alive, read_pidfile
    from .daemon import Controller
    pid = read_pidfile(Path(args.pidfile)) if args.pidfile else None
    if pid and alive(pid):
        print(f"ovnbpf controller: already running (pidfile {args.pidfile})", file=sys.stderr)
        return 1
    try:   # errors found before detaching reach the terminal
        ctl = Controller(args.ovs_db, pin_dir=args.pin_dir, uplink=args.uplink,
                         status_file=args.status_file, run_dir=args.run_dir,
                         egress_on=args.egress_on, vif_xdp=args.vif_xdp, punt_rate=(args.punt_rate, args.punt_burst),
                         view_check_s=args.view_check_interval,
                         sb_wait_warn_s=args.sb_wait_warn, limits=limits.from_args(args))
    except (RuntimeError, ValueError) as e:
        print(f"ovnbpf controller: error: {e}", file=sys.stderr)
        return 1
    ready = _detach() if args.detach else None
    L.setup(args.verbose, args.log_file, console=not args.detach)
    log = logging.getLogger("ovnbpf.controller")
    failure = ""
    try:
        if args.pidfile:
            Path(args.pidfile).write_text(f"{os.getpid()}\n")
        def detached():          # the parent returns once the config is checked
            nonlocal ready
            if ready is not None:
                os.write(ready, b"1")
                os.close(ready)
                ready = None
        ctl.start(waiting=detached)
        detached()
        ctl.run_forever()
        return 0
    except Exception as e:   # startup failures: one clear line, then exit 1
        log.error("%s", e, exc_info=log.isEnabledFor(logging.DEBUG))
        failure = str(e)
        if not args.detach:
            print(f"ovnbpf controller: error: {e}", file=sys.stderr)
        return 1
    finally:
        if ready is not None:
            os.write(ready, b"0" + failure.encode()[:4000])
        ctl.close()
        if args.pidfile:
            Path(args.pidfile).unlink(missing_ok=True)
