"""Where run-time state lives on a host, for the controller's own tools.

A testbed that runs chassis (topologies/lab) keeps each lab under `labs/NAME` of this root and
each chassis' controller state under `labs/NAME/CHASSIS`; `ovnbpf ctl --lab --chassis` finds
a status file by this convention alone, so the product never imports the testbed.
"""
import os
from pathlib import Path

RUN_ROOT = Path(os.environ.get("OVNBPF_RUNDIR", "/run/ovnbpf"))
STATUS_FILE = "ovnbpf-controller.status.json"   # in a chassis' run directory


def lab_dir(name):
    return RUN_ROOT / "labs" / name


def lab_chassis_dir(lab, chassis):
    return lab_dir(lab) / chassis


def lab_sb_remote(name):
    """The local SB remote(s) of running lab `name`: its central's unix sockets
    (`labs/NAME/central/sb.sock`, or sb1..sbN.sock for a Raft SB), comma-separated."""
    central = lab_dir(name) / "central"
    socks = sorted(central.glob("sb*.sock"))
    if not socks:
        up = sorted(p.parent.parent.name for p in (RUN_ROOT / "labs").glob("*/central/sb*.sock"))
        raise LookupError(f"no lab named {name!r} is up (labs up: {', '.join(sorted(set(up))) or 'none'})")
    return ",".join(f"unix:{s}" for s in socks)
