"""`ovnbpf compile`: a real Southbound in, one chassis' pipeline C and map contents out,
with coverage (what compiled, what did not and why).

Steps: snapshot the SB (full monitor: this is a one-shot tool) -> the chassis' related
datapaths (from the ports bound to it) -> compiler records -> classify, plan, emit C.
"""
import collections
import json
import time
from pathlib import Path

from .db.southbound import Southbound
from .lflow import classify as lclassify
from .lflow.emit_c import emit_c, encode_entries
from .lflow.flows import LogicalFlow
from .lflow.passes import Env
from .lflow.plan import build_plan
from .local_datapaths import related_datapaths


class CompileError(RuntimeError):
    pass


def snapshot(remote, timeout=10.0):
    sb = Southbound(remote, chassis_name="", conditional=False)
    try:
        sb.run_until(sb.connected, timeout=timeout, what=f"the Southbound at {remote}")
        return sb.snapshot()
    finally:
        sb.close()


def chassis_flows(state, chassis_name):
    """The compiler's LogicalFlow records for the datapaths `chassis_name` needs, those
    datapaths, and the logical ports bound to the chassis."""
    if chassis_name not in {c.name for c in state.chassis}:
        known = ", ".join(c.name for c in state.chassis) or "none"
        raise CompileError(f"chassis {chassis_name!r} is not in the Southbound (known: {known})")
    bound = {p.logical_port for p in state.ports if p.chassis == chassis_name}
    local = related_datapaths(state.ports, bound)
    names = {d.uuid: d.name for d in state.datapaths}
    flows = []
    for row in state.flows:
        for dp in row.datapaths:
            if dp in local:
                flows.append(LogicalFlow(datapath=names.get(dp, dp), pipeline=row.pipeline,
                                         table=row.table_id, stage=row.stage, priority=row.priority,
                                         match=row.match, actions=row.actions, uuid=row.uuid))
    return flows, local, bound


def sb_env(state):
    """What matches may name: address sets ($name) and port groups (@name)."""
    return Env(address_sets=dict(state.address_sets), port_groups=dict(state.port_groups))


def coverage(flows, env=None):
    """{"total", "compiled", "by_category", "unsupported": [{uuid, stage, category, reason}]}"""
    by_category = collections.Counter()
    per_stage = collections.defaultdict(collections.Counter)
    missing = []
    for f in flows:
        c = lclassify.classify_flow(f, env=env)
        by_category[c.category] += 1
        per_stage[f.stage][c.category] += 1
        if c.category != "compiled":
            missing.append({"uuid": f.uuid, "datapath": f.datapath, "stage": f.stage,
                            "category": c.category, "reason": "; ".join(c.reasons)})
    return {"total": len(flows), "compiled": by_category.get("compiled", 0),
            "by_category": dict(sorted(by_category.items())),
            "per_stage": {s: dict(sorted(c.items())) for s, c in sorted(per_stage.items())},
            "unsupported": missing}


def compile_chassis(remote, chassis_name, out_dir=None):
    t0 = time.monotonic()
    state = snapshot(remote)
    flows, local, bound = chassis_flows(state, chassis_name)
    env = sb_env(state)
    report = coverage(flows, env)
    # outport names are ports or multicast groups (OVN gives a group name the same key in
    # every datapath); "none" is no port
    ports = {m.name: m.tunnel_key for m in state.mcast_groups}
    ports.update({p.logical_port: p.tunnel_key for p in state.ports})
    ports["none"] = 0
    dps = {d.name: d.tunnel_key for d in state.datapaths}
    plan = build_plan(flows, env=env, is_chassis_resident=bound.__contains__)
    source = emit_c(plan)
    entries = encode_entries(plan, port_key=lambda n: ports[n], datapath_key=lambda n: dps[n])
    report["maps"] = {name: len(rows) for name, rows in sorted(entries.items())}
    report["shapes"] = len(plan.shapes)
    report["shape_hash"] = plan.shape_hash
    report["datapaths"] = sorted(d.name for d in state.datapaths if d.uuid in local)
    report["compile_s"] = round(time.monotonic() - t0, 3)
    # Loading into the kernel (the verifier's verdict) needs the datapath's entry programs
    # around the generated pipeline; until they are wired, say so instead of guessing.
    report["program"] = {"loaded": False, "reason": "kernel load of the generated pipeline is "
                         "not implemented yet"}
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pipeline.c").write_text(source)
        (out / "maps.json").write_text(json.dumps(
            {name: [[k.hex(), v.hex()] for k, v in rows] for name, rows in sorted(entries.items())}, indent=0))
        (out / "coverage.json").write_text(json.dumps(report, indent=1))
    return report


def format_report(r):
    lines = [f"flows: {r['total']} total, {r['compiled']} compiled, "
             + ", ".join(f"{n} {c}" for c, n in r["by_category"].items() if c != "compiled"),
             f"datapaths: {', '.join(r['datapaths'])}; {r['shapes']} shapes "
             f"(shape_hash {r['shape_hash'][:12]}), {sum(r['maps'].values())} map entries; "
             f"{r['compile_s']} s"]
    reasons = collections.Counter((u["category"], u["reason"]) for u in r["unsupported"])
    for (cat, reason), n in sorted(reasons.items()):
        lines.append(f"  {n:4d}  {cat:16s} {reason}")
    p = r["program"]
    lines.append("program: " + ("loaded" if p["loaded"] else f"not loaded: {p['reason']}"))
    return "\n".join(lines)
