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
