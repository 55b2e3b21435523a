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

from .rundir import STATUS_FILE, lab_chassis_dir


def add_arguments(p):
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--status-file", help="the controller's --status-file")
    where.add_argument("--chassis", help="a chassis of a lab (with --lab)")
    p.add_argument("--lab", default="lab", help="lab name (default: lab)")
    p.add_argument("--top", type=int, default=10, help="lflows to list by hits (default 10)")
    p.add_argument("--json", action="store_true")


def _status_path(args):
    if args.status_file:
        return Path(args.status_file)
    # a lab chassis' run directory, by the convention the testbed follows (controller.rundir)
    rundir = lab_chassis_dir(args.lab, args.chassis)
    if not rundir.is_dir():
        raise SystemExit(f"ovnbpf ctl: lab {args.lab!r} has no chassis {args.chassis!r} "
                         f"(no {rundir})")
    status = rundir / STATUS_FILE
    if not status.exists() and not (rundir / "ovnbpf-controller.pid").exists():
        raise SystemExit(f"ovnbpf ctl: chassis {args.chassis} runs no ovnbpf controller: "
                         "ctl inspects ovnbpf chassis (use ovs-appctl/ovn-appctl for ovs ones)")
    return status


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
        pipeline, table, stage, prio, match = labels.get(uuid, ("?", "?", "?", "?", "?"))
        return {"cookie": c, "lflow": uuid, "hits": n, "pipeline": pipeline, "table": table,
                "stage": stage, "priority": prio, "match": match}
    status["live"] = {
        "stats": counters.get("stats", {}),
        "drops": {k: v for k, v in counters.get("drops", {}).items() if v},
        "lflows": [lflow(c, n) for c, n in hits if n],
        "stages": stage_hits(all_hits, cookies, labels),
    }
    return status


def stage_hits(hits, cookies, labels) -> list:
    """Hits summed per (pipeline, table, stage), in pipeline order: how far packets got.
    A packet counts once per lflow it ran, so a stage's figure is the packets through it."""
    per = {}
    for c, n in hits.items():
        label = labels.get(cookies.get(str(c), ""))
        if n and label:
            key = (label[0] != "ingress", label[1], label[2])
            per[key] = per.get(key, 0) + n
    return [{"pipeline": "egress" if k[0] else "ingress", "table": k[1], "stage": k[2], "hits": n}
            for k, n in sorted(per.items())]


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


def format_text(s):
    p = s.get("pipeline", {})
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
             "tunnels: " + (", ".join(f"chassis#{c} {ip}" for c, ip in s.get("tunnels", {}).items()) or "none"),
             f"egress pipeline of unicast on the {'sending' if s.get('egress_on') == 'ingress' else 'receiving'} "
             f"chassis (--egress-on={s.get('egress_on', 'egress')})" +
             (", egress-done bit toward " + (", ".join(f"chassis#{c}" for c in s.get("egress_done_peers", []))
                                             or "no chassis") if s.get("egress_on") == "ingress" else "")
             + "; egress-done bit honoured from " + (", ".join(
                 f"chassis#{c}" for c in s.get("egress_done_trusted", [])) or "no chassis")]
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
    lines.append("drops by reason: " + (", ".join(f"{k} {v}" for k, v in live["drops"].items()) or "none"))
    punt = s.get("punt") or {}
    lines.append("punt handler: " + (", ".join(f"{k} {v}" for k, v in punt.get("handled", {}).items())
                                     or "nothing handled yet")
                 + (f"; {punt['perf_lost']} events lost in the perf ring" if punt.get("perf_lost") else ""))
    if live["stages"]:
        lines.append("hits by stage (lflow runs; the flow cache's hits skip the pipeline):")
        lines += [f"  {h['hits']:10d}  {h['pipeline']:7s} {h['table']:>2} {h['stage']}"
                  for h in live["stages"]]
    if live["lflows"]:
        lines.append("top lflows by hits (pipeline runs: flow cache hits run no lflow):")
        lines += [f"  {h['hits']:10d}  {h['lflow'][:8]} {h['stage']} prio {h['priority']}: {h['match']}"
                  for h in live["lflows"]]
    lines += blackhole_lines(p.get("not_compiled") or [])
    lines += not_compiled_lines(p.get("not_compiled") or [])
    for f in s.get("step_failures") or []:
        lines.append(f"STEP FAILING ({f['count']} times): {f['error']}")
    if s.get("problems"):
        lines.append(f"rows not used ({len(s['problems'])}):")
        lines += [f"  {p['uuid']}: {p['reason']}" for p in s["problems"][:20]]
    return "\n".join(lines)


def blackhole_lines(missing) -> list:
    """Per datapath, what its flows that are not compiled may drop (blackholes.py)."""
    from .blackholes import datapath_lines
    return [f"WARNING {line}" for line in datapath_lines(missing)]


def not_compiled_lines(missing, limit=50) -> list:
    """The lflows the pipeline runs as counted drops, by UUID with their reason (also
    `ovnbpf compile`)."""
    if not missing:
        return []
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
