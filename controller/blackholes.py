"""What flows that are not compiled cost, per datapath, in OVN's terms.

A flow that cannot run is a counted drop at its place (plan.py), which is safe but can
drop much more than its own traffic: one ct_lb_mark flow in ls_in_pre_stateful stands
between every IP packet of a switch and its destination. A list of lflow UUIDs does not
say that, so `ovnbpf compile`, `ovnbpf ctl`, `ovnbpf lab status` and the controller log
also say it per datapath:

    ls web: 14 flows need ct_lb_mark (load balancing / NAT (conntrack NAT ...)):
        IP traffic on this switch may be dropped

Input: the coverage report's "unsupported" list ({uuid, datapath, stage, category,
reason}); pure, no I/O.
"""
from __future__ import annotations

from collections import OrderedDict

__all__ = ["datapath_lines"]

_KIND = {"ls": ("ls", "switch"), "lr": ("lr", "router")}


def _need(reason: str) -> tuple[str, str]:
    """(what is missing, why) from a reason such as 'ct_lb_mark: load balancing / NAT'."""
    first = reason.split("; ")[0]
    head, sep, rest = first.partition(": ")
    if not sep:
        return first, ""
    if head.startswith("match") or " " in head:
        return first, ""
    return head, rest


def _scope(stage: str) -> str:
    """What traffic a failing flow of this stage may take with it."""
    if "stateful" in stage or "pre_lb" in stage or "_lb" in stage or "acl" in stage:
        return "IP traffic"
    return "traffic these flows match"


def datapath_lines(missing, name_flows: int = 0) -> list[str]:
    """One line per (datapath, what is missing), most flows first; with name_flows > 0
    each line also names that many of its flows by lflow UUID (the log's line: what a
    user looks up with ovn-sbctl)."""
    groups: "OrderedDict[tuple, dict]" = OrderedDict()
    for m in missing or []:
        need, why = _need(m.get("reason", ""))
        key = (m.get("datapath", "?"), need)
        g = groups.setdefault(key, {"n": 0, "why": why, "stages": set(), "uuids": []})
        g["n"] += 1
        g["uuids"].append(m.get("uuid", "?"))
        g["stages"].add(m.get("stage", ""))
    out = []
    for (dp, need), g in sorted(groups.items(), key=lambda kv: (-kv[1]["n"], kv[0])):
        prefix = next((p for p in _KIND if any(s.startswith(p + "_") for s in g["stages"])), None)
        kind, noun = _KIND.get(prefix, ("dp", "datapath"))
        scope = ("IP traffic" if any(_scope(s) == "IP traffic" for s in g["stages"])
                 else "traffic these flows match")
        flows = f"{g['n']} flow{'s' if g['n'] != 1 else ''}"
        if g["why"]:
            what = f"need{'s' if g['n'] == 1 else ''} {need} ({g['why']})"
        else:
            what = f"cannot be compiled ({need})"
        line = f"{kind} {dp}: {flows} {what}: {scope} on this {noun} may be dropped"
        if name_flows > 0:
            named = g["uuids"][:name_flows]
            more = g["n"] - len(named)
            line += (f" (lflow{'s' if g['n'] != 1 else ''} {', '.join(named)}"
                     f"{f' and {more} more' if more else ''})")
        out.append(line)
    return out
