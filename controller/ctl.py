"""`ovnbpf ctl`: what one running chassis has loaded and what its datapath counted.

Two sources: the controller's status file (pipeline shape hash and generation, map sizes,
tunnels, coverage, rows it could not use) and the live per-CPU counters in the pinned maps
(forwarding events, flow cache hits/misses/fills, drops by reason, per-lflow hits), read
directly from bpffs so it works even while the controller is down.

Per-lflow hits count pipeline runs, i.e. flow cache misses (bpf/lib/fcache.h): a packet
replayed from the cache runs no logical flow. Like OVS's OpenFlow statistics, which lag
its datapath flow cache, they show which flows decide traffic, not how many packets each
one saw; `fcache_hit` in the forwarding line counts the rest. `ovnbpf trace` bypasses the
cache and shows every lflow.
"""
import json
import sys
from pathlib import Path

from .rundir import STATUS_FILE, lab_chassis_dir, lab_dir


def add_arguments(p):
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--status-file", help="the controller's --status-file")
    where.add_argument("--chassis", help="a chassis of a lab (with --lab)")
    p.add_argument("--lab", "--name", dest="lab", default="lab", metavar="LAB",
                   help="lab name (default: lab; --name is the same option)")
    p.add_argument("--top", type=int, default=10, help="lflows to list by hits (default 10)")
    p.add_argument("--json", action="store_true")


def _status_path(args):
    if args.status_file:
        return Path(args.status_file)
    # a lab chassis' run directory, by the convention the testbed follows (controller.rundir)
    rundir = lab_chassis_dir(args.lab, args.chassis)
    if not rundir.is_dir():
        raise SystemExit(f"ovnbpf ctl: lab {args.lab!r} has no chassis {args.chassis!r} "
                         f"(no {rundir}; {_what_exists(args.lab)})")
    status = rundir / STATUS_FILE
    if not status.exists() and not (rundir / "ovnbpf-controller.pid").exists():
        raise SystemExit(f"ovnbpf ctl: chassis {args.chassis} runs no ovnbpf controller: "
                         "ctl inspects ovnbpf chassis (use ovs-appctl/ovn-appctl for ovs ones)")
    return status


def _what_exists(lab):
    """The labs, or this lab's chassis, that the run directory holds: what to ask for."""
    here = lab_dir(lab)
    if here.is_dir():
        chassis = sorted(p.name for p in here.iterdir() if (p / STATUS_FILE).exists())
        return f"lab {lab!r} has ovnbpf chassis: {', '.join(chassis) or 'none'}"
    root = lab_dir(lab).parent
    up = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return f"labs: {', '.join(up)}" if up else "no lab is up"


def live_counters(pin_dir, cookies=()):
    """The datapath's counters, read from the pinned maps (no controller needed)."""
    import os
    from datapath.chassis import read_counters   # lazy: loads bcc, which `ctl --help` needs not
    from datapath.libbpf import obj_get
    fds = {}
    try:
        def map_fd(name):
            fds[name] = obj_get(os.path.join(pin_dir, name))
            return fds[name]
        return read_counters(map_fd, cookies)
    finally:
        for fd in fds.values():
            os.close(fd)


def gather(status_path, top=10):
    if not status_path.exists():
        raise SystemExit(f"ovnbpf ctl: no status at {status_path} (is the controller running "
                         "with --status-file?)")
    status = json.loads(status_path.read_text())
    cookies = status.get("pipeline", {}).get("cookies", {})
    counters = live_counters(status["pin_dir"], [int(c) for c in cookies])
    labels = status.get("pipeline", {}).get("lflows", {})
    all_hits = counters.get("lflow_hits", {})
    hits = sorted(all_hits.items(), key=lambda kv: -kv[1])[:top]

    def lflow(c, n):
        uuid = cookies.get(str(c), "?")
        label = _label(labels.get(uuid))
        return {"cookie": c, "lflow": uuid, "hits": n, "pipeline": label[0], "table": label[1],
                "stage": label[2], "priority": label[3], "match": label[4],
                "datapath": label[5]}
    not_compiled = {m["uuid"]: m for m in status.get("pipeline", {}).get("not_compiled") or []}
    status["live"] = {
        "stats": counters.get("stats", {}),
        "drops": {k: v for k, v in counters.get("drops", {}).items() if v},
        "drops_by_lflow": lflow_drops(all_hits, cookies, labels, not_compiled),
        "lflows": [lflow(c, n) for c, n in hits if n],
        "stages": stage_hits(all_hits, cookies, labels),
    }
    return status


def _label(label):
    """A status file's lflow label, padded: older controllers wrote 5 fields (no datapath,
    no actions)."""
    label = list(label or ("?", "?", "?", "?", "?"))
    return label + ["?", ""][len(label) - 5:] if len(label) < 7 else label


def drops_flow(actions: str) -> bool:
    """Does an lflow's action text end the packet with `drop;` (POLICY drops)?"""
    last = [a.strip() for a in actions.split(";") if a.strip()]
    return bool(last) and last[-1] == "drop"


def lflow_drops(hits, cookies, labels, not_compiled) -> list:
    """The drops the datapath counts by reason (POLICY, NOT_COMPILED), by the lflow that
    made them: a `drop;` flow, or a flow the compiler could not lower (its cookie is its
    counted drop). Drops never fill the flow cache, so such a flow's hits are its drops."""
    out = []
    for c, n in hits.items():
        uuid = cookies.get(str(c))
        if not n or uuid is None:
            continue
        label = _label(labels.get(uuid))
        if uuid in not_compiled:
            reason = "NOT_COMPILED: " + not_compiled[uuid].get("reason", "?")
        elif drops_flow(label[6]):
            reason = "POLICY"
        else:
            continue
        out.append({"lflow": uuid, "drops": n, "reason": reason, "datapath": label[5],
                    "pipeline": label[0], "table": label[1], "stage": label[2],
                    "priority": label[3], "match": label[4]})
    return sorted(out, key=lambda d: -d["drops"])


def _datapath_kind(stage: str) -> str:
    return "router" if stage.startswith("lr_") else "switch" if stage.startswith("ls_") else "?"


def stage_hits(hits, cookies, labels) -> list:
    """Hits summed per stage, switch stages before router stages, each in pipeline order
    (ingress then egress, by table), with the datapaths whose flows ran there (a flow
    northd shares between switches through a datapath group counts for the group: its
    hits cannot be split per datapath). A packet counts once per lflow it ran, so a
    stage's figure is the packets through it."""
    per, dps = {}, {}
    for c, n in hits.items():
        raw = labels.get(cookies.get(str(c), ""))
        if n and raw:
            label = _label(raw)
            key = (_datapath_kind(label[2]) != "switch", label[0] != "ingress", label[1], label[2])
            per[key] = per.get(key, 0) + n
            dps.setdefault(key, set()).update(d for d in str(label[5]).split(",") if d)
    return [{"kind": _datapath_kind(k[3]), "datapaths": sorted(dps[k]),
             "datapath": ",".join(sorted(dps[k])),
             "pipeline": "egress" if k[1] else "ingress", "table": k[2], "stage": k[3], "hits": n}
            for k, n in sorted(per.items(), key=lambda kv: tuple(map(str, kv[0][:2])) + kv[0][2:])]


def _view_check(v):
    """The SB view against the server's flows (controller/db/viewcheck.py)."""
    if not v:
        return ""
    if not v["interval_s"]:
        return "; view check off"
    text = f"; view checked {v['checks']} time(s), {v['mismatches']} mismatch(es)"
    m = v.get("last_mismatch")
    if m:
        text += (f" (last: {m['missing']} missing, {m['extra']} extra, e.g. "
                 f"{', '.join((m['missing_uuids'] + m['extra_uuids'])[:3])}; "
                 f"{v['repairs']} repaired by resync)")
    return text


def session_line(sb) -> str:
    """The SB session as its reconnect machine sees it (controller/db/sbhealth.py)."""
    if "state" not in sb:
        return "southbound session: unknown (an older controller)"
    ago = sb.get("last_message_s_ago")
    return (f"southbound session: {sb['state']}, last message "
            + (f"{ago:g} s ago" if ago is not None else "never")
            + f", {sb['attempts']} attempt(s) since the last good session"
            + (f", last failure: {sb['last_failure']}" if sb.get("last_failure") else "")
            + f", probe interval {sb.get('probe_interval_ms')} ms")


def chassis_namer(s):
    """chassis id (the datapath's tunnel index) -> its SB name, from the status file's
    `chassis_ids` (an older status without it: `chassis#ID`)."""
    names = {str(i): n for n, i in (s.get("chassis_ids") or {}).items()}
    return lambda cid: names.get(str(cid), f"chassis#{cid}")


def format_text(s):
    p = s.get("pipeline", {})
    cname = chassis_namer(s)
    lines = [f"chassis {s['chassis']} (controller pid {s['pid']}), maps at {s['pin_dir']}",
             f"southbound {s['sb']['remote']}: "
             + (f"connected to {s['sb'].get('member', '?')}"
                + (" but NOT ANSWERING our probe" if s['sb'].get('state') == "probe_unanswered" else "")
                if s['sb']['connected'] else
                "DISCONNECTED" + (f" ({s['sb']['problem']})" if s['sb'].get('problem') else ""))
             + f", {s['sb']['rx_bytes']} bytes received over {s['sb']['connections']} connection(s)"
             + (f", last (re)sync {s['sb']['sync_bytes'][-1]} bytes" if s['sb'].get('sync_bytes') else "")
             + (f", {s['sb']['full_resyncs']} full resync(s)" if s['sb'].get('full_resyncs') else "")
             + _view_check(s['sb'].get('view_check')),
             session_line(s["sb"]),
             f"pipeline shape_hash {str(p.get('shape_hash'))[:12]} generation {p.get('gen', '?')}, "
             f"insns {p.get('insns', '?')}, recompiles {s['counters']['recompiles']}, "
             f"map-only updates {s['counters']['map_updates']}",
             f"local datapaths: {', '.join(s.get('local_datapaths', [])) or 'none'}",
             "vifs: " + (", ".join(f"{d}=dp{k[0]}/port{k[1]}" for d, k in s.get("vifs", {}).items()) or "none"),
             "tunnels: " + (", ".join(f"{cname(c)} {ip}" for c, ip in s.get("tunnels", {}).items()) or "none"),
             f"egress pipeline of unicast on the {'sending' if s.get('egress_on') == 'ingress' else 'receiving'} "
             f"chassis (--egress-on={s.get('egress_on', 'egress')})" +
             (", egress-done bit toward " + (", ".join(cname(c) for c in s.get("egress_done_peers", []))
                                             or "no chassis") if s.get("egress_on") == "ingress" else "")
             + "; egress-done bit honoured from " + (", ".join(
                 cname(c) for c in s.get("egress_done_trusted", [])) or "no chassis")]
    i = s.get("identity")
    if i:       # who owns our SB rows (controller/db/ownership.py)
        o = i.get("other") or {}
        lines.append(f"identity: {i['role']} of our Chassis rows (token {i['token']}, heartbeat "
                     f"{i['heartbeat']}); contenders seen {i['contenders_seen']}, takeovers "
                     f"refused {i['refused_takeover']}, overwrites seen {i['overwrites_seen']}, "
                     f"rows written back {i['reasserts']}, took over {i['took_over']}, stood "
                     f"down {i['stood_down']}"
                     + (f"; other writer: encap {o.get('encap')} host {o.get('host')}" if o else ""))
    c = s.get("config")
    if c:       # the local config in effect (controller/chassisd/reconfig.py)
        lines.append(f"config: system-id {c['system_id']}, encap {c['encap_type']} {c['encap_ip']} "
                     f"on {c['uplink']}, probe interval "
                     f"{c['probe_interval_ms'] if c['probe_interval_ms'] is not None else 'default'}"
                     + (", SSL " + ", ".join(c["ssl"]) if c.get("ssl") else "")
                     + f"; {c['changes']} change(s) applied at run time"
                     + (f"; NOT APPLIED: {c['problem']}" if c.get("problem") else ""))
    napi = s.get("vif_napi") or {}
    if napi.get("without_napi"):     # controller/chassisd/napi.py
        lines += [f"VIF {d} CANNOT RECEIVE: {why}" for d, why in napi["without_napi"].items()]
    live = s["live"]
    lines.append("forwarding: " + ", ".join(f"{k} {v}" for k, v in live["stats"].items()))
    lines.append("drops by reason: " + (", ".join(f"{k} {v}" for k, v in live["drops"].items()) or "none")
                 + " (reasons: docs/drops.md)")
    punt = s.get("punt") or {}
    lines.append("punt handler: " + (", ".join(f"{k} {v}" for k, v in punt.get("handled", {}).items())
                                     or "nothing handled yet")
                 + (f"; {punt['perf_lost']} events lost in the perf ring" if punt.get("perf_lost") else ""))
    lines += lflow_drop_lines(live.get("drops_by_lflow") or [])
    if live["stages"]:
        lines.append("hits by stage, switches then routers, in pipeline order (lflow runs; the "
                     "flow cache's hits skip the pipeline):")
        last = None
        for h in live["stages"]:
            if h.get("kind") != last:
                last = h.get("kind")
                names = sorted({d for x in live["stages"] if x.get("kind") == last
                                for d in x.get("datapaths", [])})
                plural = {"switch": "switches", "router": "routers"}.get(last, "datapaths")
                lines.append(f"  {plural} {', '.join(names) or '?'}")
            lines.append(f"    {h['hits']:10d}  {h['pipeline']:7s} {h['table']:>2} {h['stage']:28s} "
                         f"{h.get('datapath', '')}")
    if live["lflows"]:
        lines.append("top lflows by hits (pipeline runs: flow cache hits run no lflow):")
        lines += [f"  {h['hits']:10d}  {h['lflow'][:8]} {h.get('datapath', '?')} {h['stage']} "
                  f"prio {h['priority']}: {h['match']}" for h in live["lflows"]]
    lines += blackhole_lines(p.get("not_compiled") or [])
    lines += not_compiled_lines(p.get("not_compiled") or [])
    for f in s.get("step_failures") or []:
        lines.append(f"STEP FAILING ({f['count']} times): {f['error']}")
    if s.get("problems"):
        lines.append(f"rows not used ({len(s['problems'])}):")
        lines += [f"  {p['uuid']}: {p['reason']}" for p in s["problems"][:20]]
    return "\n".join(lines)


def lflow_drop_lines(drops, limit=20) -> list:
    """POLICY and NOT_COMPILED drops by the lflow that made them (docs/drops.md)."""
    if not drops:
        return []
    out = ["drops by lflow (POLICY: a `drop;` flow; NOT_COMPILED: a flow not lowered):"]
    out += [f"  {d['drops']:10d}  {d['lflow']}  {d['datapath']} {d['pipeline']} {d['table']} "
            f"{d['stage']} prio {d['priority']}  {d['reason']}\n{'':14s}match: {d['match']}"
            for d in drops[:limit]]
    if len(drops) > limit:
        out.append(f"  ... and {len(drops) - limit} more (--json lists all)")
    return out


def blackhole_lines(missing) -> list:
    """Per datapath, what its flows that are not compiled may drop (blackholes.py)."""
    from .blackholes import datapath_lines
    return [f"WARNING {line}" for line in datapath_lines(missing)]


def not_compiled_lines(missing, limit=50) -> list:
    """The lflows the pipeline runs as counted drops, by UUID with their reason (also
    `ovnbpf compile`)."""
    if not missing:
        return []
    # grouped as a user reads a pipeline: switches before routers, by datapath, ingress
    # before egress, by stage (the records carry no table number)
    missing = sorted(missing, key=lambda m: (_datapath_kind(m.get("stage", "")) != "switch",
                                             str(m.get("datapath")), "_out_" in m.get("stage", ""),
                                             m.get("stage", ""), m["uuid"]))
    out = [f"lflows not compiled, dropped and counted under their UUID ({len(missing)}):"]
    out += [f"  {m['uuid']}  {m['datapath']} {m['stage']}  {m['category']}: {m['reason']}"
            for m in missing[:limit]]
    if len(missing) > limit:
        out.append(f"  ... and {len(missing) - limit} more (--json lists all)")
    return out


def run(args):
    status = gather(_status_path(args), args.top)
    print(json.dumps(status, indent=1) if args.json else format_text(status))
    return 0


if __name__ == "__main__":
    sys.exit(0)
