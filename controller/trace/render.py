"""The three output formats of `ovnbpf trace`, from a TraceResult.

--minimal: ovn-trace's style, one line per delivered copy: the rewritten fields as
assignments (found by diffing the delivered packet with the input one) then output("P").
--detailed: per chassis, the pipelines and lflows hit, the Geneve header of each copy
that leaves it, then the outcome. --json: machine-readable, as the issue specifies.
"""
from __future__ import annotations

import json

from .fields import assignments
from .frame import build_frame
from .model import TraceResult

__all__ = ["render_minimal", "render_detailed", "render_json", "geneve_text"]


def _copy_line(result: TraceResult, out) -> str:
    actions = [a + ";" for a in assignments(dict(result.packet), out.field_map)]
    actions.append(f'output("{out.port}");')
    line = " ".join(actions)
    return f"{out.generated_by} {{ {line} }};" if out.generated_by else line


def render_minimal(result: TraceResult) -> str:
    lines = [f"# {result.flow_line}"]
    lines += [_copy_line(result, out) for out in result.outputs]
    return "\n".join(lines)


def geneve_text(t) -> str:
    return (f"geneve {t.src or '?'} -> {t.dst or '?'}: vni {t.vni}, option class 0x0102 type 0x80 "
            f"data {t.inport << 16 | t.outport:08x} (ingress {t.inport}, egress {t.outport})")


def render_detailed(result: TraceResult) -> str:
    lines = [f"# {result.flow_line}", f"# engine: {result.engine}"]
    for p in result.passes:
        title = f"chassis {p.chassis or '(unbound)'}"
        lines += ["", title, "=" * len(title)]
        pipeline = None
        for s in p.steps:
            if isinstance(s, str):
                shown = s[len(pipeline) + 2:] if pipeline and s.startswith(pipeline + ": ") else s
                lines.append(f"  * {shown}")
                continue
            if s.pipeline != pipeline:
                pipeline = s.pipeline
                lines.append(pipeline)
            table = f"{s.table:2d}. " if s.table is not None else "    "
            prio = f", priority {s.priority}" if s.priority is not None else ""
            uuid = f", uuid {s.lflow[:8]}" if s.lflow else ""
            lines.append(f" {table}{s.name}: {s.match}{prio}{uuid}")
            lines += [f"     {a}" for a in s.actions]
        lines += [f"  > {geneve_text(t)}" for t in result.tunnels if t.src == p.chassis]
    lines += ["", "outcome", "======="]
    for out in result.outputs:
        lines.append(f"  delivered on {out.chassis or '?'}: {_copy_line(result, out)}")
    for d in result.drops:
        lflow = f" (lflow {d.lflow}, {d.stage})" if d.lflow else ""
        lines.append(f"  dropped on {d.chassis or '?'}: {d.reason}{lflow}")
    if not result.outputs and not result.drops:
        lines.append("  no output and no drop recorded")
    return "\n".join(lines)


def to_json(result: TraceResult) -> dict:
    return {
        "engine": result.engine,
        "flow": result.flow_line,
        "outputs": [{"port": o.port, "chassis": o.chassis,
                     "packet": (o.packet or build_frame(o.field_map)).hex(),
                     "rewrites": assignments(dict(result.packet), o.field_map),
                     **({"generated_by": o.generated_by} if o.generated_by else {})}
                    for o in result.outputs],
        "drops": [{"chassis": d.chassis, "reason": d.reason, "lflow": d.lflow, "stage": d.stage}
                  for d in result.drops],
        "tunnels": [{"from": t.src, "to": t.dst, "vni": t.vni, "inport": t.inport,
                     "outport": t.outport} for t in result.tunnels],
    }


def render_json(result: TraceResult) -> str:
    return json.dumps(to_json(result), indent=1)
