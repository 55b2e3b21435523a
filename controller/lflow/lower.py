"""Action rewrites that turn a northd idiom into actions the datapath already has.

`clone`: northd's ARP/ND responder for router IPs in ls_in_l2_lkup writes

    clone { outport = "ls1-lr1"; output; }; outport = "_MC_flood_l2"; output;

i.e. one copy to the router port and one flood. We lower it to a single output to a
*synthetic multicast group* named `clone:ls1-lr1+_MC_flood_l2`, whose members are the
port plus the group's members and whose wire key (what Geneve carries for remote copies)
is the group's own key. The name is a string like any port name: the caller's port-key
callable maps it to a local-only key (>= 65536) and programs the group. Any other use of
clone is left alone, and classify.py reports it unsupported.
"""
from __future__ import annotations

from . import actions as A
from . import ast

__all__ = ["CLONE_PREFIX", "synthetic_group_name", "parse_synthetic_group", "lower_clone"]

CLONE_PREFIX = "clone:"
OUTPORT = ast.FieldRef("outport")


def synthetic_group_name(port: str, group: str) -> str:
    return f"{CLONE_PREFIX}{port}+{group}"


def parse_synthetic_group(name: str) -> tuple[str, str] | None:
    """(port, group) of a synthetic group name, or None for any other name."""
    if not name.startswith(CLONE_PREFIX) or "+" not in name:
        return None
    port, _, group = name[len(CLONE_PREFIX):].rpartition("+")
    return port, group


def _output_to(acts) -> str | None:
    """P if `acts` is exactly `outport = "P"; output;`."""
    if (len(acts) == 2 and isinstance(acts[0], A.Assign) and acts[0].dst == OUTPORT
            and isinstance(acts[0].src, ast.StrConst) and isinstance(acts[1], A.Output)):
        return acts[0].src.value
    return None


def lower_clone(acts: tuple) -> tuple:
    """The actions with northd's clone-then-flood pattern made one synthetic-group output."""
    for i, act in enumerate(acts):
        if isinstance(act, A.Nested) and act.keyword == "clone":
            port, group = _output_to(act.actions), _output_to(acts[i + 1:])
            if port is None or group is None:
                return acts
            name = synthetic_group_name(port, group)
            return tuple(acts[:i]) + (A.Assign(OUTPORT, ast.StrConst(name)), A.Output())
    return acts
