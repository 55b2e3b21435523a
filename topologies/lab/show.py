"""`ovnbpf lab show`: the running lab as a picture. A text tree for the terminal and a
Graphviz drawing (SVG through `dot` when it is installed, else the .dot file): chassis with
their kind and encap IP, the VMs each one runs, switches, routers and their ports, the
Geneve tunnels (OVN's full mesh; an ovnbpf chassis' own programmed list when it has one)
and, on ovnbpf chassis, the drops counted by reason and by lflow (controller/ctl.py).

gather() collects, the renderers only format (no lab needed to test them)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from controller import ctl

NL = "\n"     # (no backslash inside an f-string's braces before Python 3.12)


def _chassis_live(node) -> dict:
    """What an ovnbpf chassis' controller programmed and its datapath counted; {} for an
    OVS chassis, {"error": ...} when it cannot be read (the picture is drawn anyway)."""
    if node.kind != "ovnbpf":
        return {}
    try:
        s = ctl.gather(Path(node.status_file), top=0)
    except (SystemExit, OSError, ValueError, KeyError) as e:
        return {"error": str(e) or type(e).__name__}
    name = ctl.chassis_namer(s)
    return {"tunnels": {name(c): ip for c, ip in s.get("tunnels", {}).items()},
            "drops": s["live"]["drops"], "drops_by_lflow": s["live"]["drops_by_lflow"][:5],
            "not_compiled": len(s.get("pipeline", {}).get("not_compiled") or [])}


def gather(lab) -> dict:
    status = lab.status()
    plan = lab.plan()
    topo = plan.topo
    nodes = {n.name: n for n in plan.chassis_nodes("")}
    return {
        "name": status["name"], "topology": status["topology"], "underlay": status["underlay"],
        "bridge": plan.bridge, "central": status["central"],
        "chassis": [{**c, "live": _chassis_live(nodes[c["name"]])} for c in status["chassis"]],
        "vms": status["vms"],
        "switches": [{"name": s.name, "subnet": str(s.subnet),
                      "subnet6": str(s.subnet6) if s.subnet6 else None} for s in topo.switches],
        "routers": [{"name": r.name, "ports": [{"name": p.name, "switch": p.switch, "mac": p.mac,
                                                  "ip": str(p.ip), "ip6": str(p.ip6) if p.ip6 else None}
                                                 for p in r.ports]} for r in topo.routers],
    }


def _drop_lines(live) -> list:
    if not live:
        return []
    if "error" in live:
        return [f"counters unreadable: {live['error']}"]
    out = ["drops: " + (", ".join(f"{k} {v}" for k, v in live["drops"].items()) or "none")]
    out += [f"  {d['drops']} by lflow {d['lflow'][:8]} {d['datapath']} {d['stage']} "
            f"({d['reason']}): {d['match']}" for d in live["drops_by_lflow"]]
    if live.get("not_compiled"):
        out.append(f"{live['not_compiled']} lflow(s) not compiled (counted drops): ovnbpf ctl lists them")
    return out


def _tree(lines, items, prefix=""):
    """Append `items` ([(text, children)]) as a tree with box-drawing branches."""
    for i, (text, children) in enumerate(items):
        last = i == len(items) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{text}")
        _tree(lines, children, prefix + ("   " if last else "│  "))


def text_tree(p: dict) -> str:
    c = p["central"]
    lines = [f"lab {p['name']} (topology {p['topology']}), underlay {p['underlay']} "
             f"on bridge {p['bridge']}"]
    items = [(f"central: NB {c['nb']}, SB {c['sb']} "
              f"({'Raft x3' if c['sb_cluster'] == 3 else 'single server'}), northd "
              f"[{'healthy' if c['healthy'] else 'UNHEALTHY'}]", [])]
    names = [ch["name"] for ch in p["chassis"]]
    for ch in p["chassis"]:
        kids = [(f"vm {v['name']}  {v['ip']}  {v['mac']}  on switch {v['switch']}", [])
                for v in p["vms"] if v["chassis"] == ch["name"]]
        live = ch["live"]
        tunnels = live.get("tunnels") if live and "error" not in live else None
        if tunnels is not None:
            kids.append(("tunnels (programmed): " + (", ".join(f"{n} {ip}" for n, ip in tunnels.items())
                                                     or "none"), []))
        else:
            kids.append(("tunnels (Geneve, OVN's full mesh): "
                         + (", ".join(n for n in names if n != ch["name"]) or "none"), []))
        for line in _drop_lines(live):      # an indented line belongs to the one above
            if line.startswith("  ") and kids:
                kids[-1][1].append((line.strip(), []))
            else:
                kids.append((line, []))
        items.append((f"chassis {ch['name']}  kind={ch['kind']}  encap {ch['encap_ip']}  "
                      f"[{'healthy' if ch['healthy'] else 'UNHEALTHY'}]", kids))
    for s in p["switches"]:
        ports = [(f"vm {v['name']} on {v['chassis']}", []) for v in p["vms"] if v["switch"] == s["name"]]
        ports += [(f"router port {rp['name']} of {r['name']}", []) for r in p["routers"]
                  for rp in r["ports"] if rp["switch"] == s["name"]]
        items.append((f"switch {s['name']}  {s['subnet']}" + (f" {s['subnet6']}" if s["subnet6"] else ""),
                      ports))
    for r in p["routers"]:
        items.append((f"router {r['name']}",
                      [(f"{rp['name']}  {rp['ip']}" + (f" {rp['ip6']}" if rp["ip6"] else "")
                        + f"  {rp['mac']} -> switch {rp['switch']}", []) for rp in r["ports"]]))
    _tree(lines, items)
    return "\n".join(lines)


def _q(text) -> str:
    """A DOT quoted string; a newline becomes DOT's centred line break."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def dot_text(p: dict) -> str:
    """The lab as a Graphviz graph: a cluster per chassis holding its VMs, switches and
    routers as nodes, dashed Geneve tunnels between chassis, drops in red on the chassis."""
    title = f"lab {p['name']} ({p['topology']}), underlay {p['underlay']}"
    out = [f"graph {_q('lab ' + p['name'])} {{", "  compound=true; rankdir=LR; fontname=Helvetica;",
           "  node [fontname=Helvetica, fontsize=10]; edge [fontname=Helvetica, fontsize=9];",
           f"  label={_q(title)};"]
    for ch in p["chassis"]:
        drops = _drop_lines(ch["live"])
        label = f"{ch['name']} ({ch['kind']})\nencap {ch['encap_ip']}"
        out.append(f"  subgraph {_q('cluster_' + ch['name'])} {{")
        out.append(f"    label={_q(label)}; style=rounded; color={'blue' if ch['kind'] == 'ovnbpf' else 'gray40'};")
        out.append(f"    {_q('ch_' + ch['name'])} [shape=point, width=0.05, label=\"\"];")
        for v in p["vms"]:
            if v["chassis"] == ch["name"]:
                out.append(f"    {_q('vm_' + v['name'])} [shape=box, label={_q(v['name'] + NL + v['ip'])}];")
        if drops and drops != ["drops: none"]:
            out.append(f"    {_q('drops_' + ch['name'])} [shape=note, color=red, fontcolor=red, "
                       f"label={_q(NL.join(drops))}];")
        out.append("  }")
    for s in p["switches"]:
        out.append(f"  {_q('ls_' + s['name'])} [shape=ellipse, style=filled, fillcolor=lightyellow, "
                   f"label={_q(s['name'] + NL + s['subnet'])}];")
    for r in p["routers"]:
        out.append(f"  {_q('lr_' + r['name'])} [shape=octagon, style=filled, fillcolor=lightblue, "
                   f"label={_q(r['name'])}];")
        for rp in r["ports"]:
            out.append(f"  {_q('lr_' + r['name'])} -- {_q('ls_' + rp['switch'])} [label={_q(rp['ip'])}];")
    for v in p["vms"]:
        out.append(f"  {_q('vm_' + v['name'])} -- {_q('ls_' + v['switch'])};")
    names = [ch["name"] for ch in p["chassis"]]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out.append(f"  {_q('ch_' + a)} -- {_q('ch_' + b)} [style=dashed, color=gray50, "
                       f"label=\"geneve\", ltail={_q('cluster_' + a)}, lhead={_q('cluster_' + b)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def write_svg(p: dict, svg_path) -> str:
    """SVG with Graphviz `dot` when installed; else the .dot file beside it. Says which."""
    svg = Path(svg_path)
    dot_file = svg.with_suffix(".dot")
    dot_file.write_text(dot_text(p))
    dot = shutil.which("dot")
    if not dot:
        return (f"Graphviz `dot` is not installed: wrote {dot_file} (render it with "
                f"`dot -Tsvg {dot_file} -o {svg}` where Graphviz is, e.g. apt-get install graphviz)")
    subprocess.run([dot, "-Tsvg", str(dot_file), "-o", str(svg)], check=True, timeout=60)
    return f"wrote {svg} (and {dot_file})"
