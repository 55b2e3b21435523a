"""`ovnbpf demo`: bring up the default lab, show it, ping across it, tear it down."""
import time

from .lab import Lab

# (label, source VM, destination VM): one of each kind of path through OVN
CHECKS = (
    ("same chassis (L2, hv1)", "vm1", "vm2"),
    ("across chassis (L2, Geneve hv1->hv2)", "vm1", "vm3"),
    ("across the router (L3, ls1->lr1->ls2)", "vm1", "vm5"),
    ("across the router, same chassis", "vm1", "vm6"),
    ("back across chassis (hv2->hv1)", "vm4", "vm2"),
)


def format_status(status):
    lines = [f"lab {status['name']}: topology {status['topology']}, underlay {status['underlay']}, "
             f"SB {'Raft x3' if status['central']['sb_cluster'] == 3 else 'single server'}"]
    for c in status["chassis"]:
        lines.append(f"  chassis {c['name']:<6} kind={c['kind']:<7} encap_ip={c['encap_ip']:<15} "
                     f"{'healthy' if c['healthy'] else 'UNHEALTHY'}")
    for v in status["vms"]:
        lines.append(f"  vm {v['name']:<5} on {v['chassis']:<5} {v['switch']:<4} {v['mac']}  {v['ip']}")
    return "\n".join(lines)


def run_demo(topology="two-chassis", name="demo", log=print):
    lab = Lab(name)
    results = []
    try:
        lab.up(topology, log=log)
        status = lab.status()
        log(format_status(status))
        ips = {v["name"]: v["ip"] for v in status["vms"]}
        for label, src, dst in CHECKS:
            t0 = time.monotonic()
            ok = lab.ping(src, ips[dst], count=3)
            results.append((label, src, dst, ok))
            log(f"  {'PASS' if ok else 'FAIL'}  {src} -> {dst} ({ips[dst]}): {label} "
                f"[{(time.monotonic() - t0) * 1000:.0f} ms]")
    finally:
        lab.down(log=log)
    passed = sum(1 for r in results if r[3])
    ok = passed == len(CHECKS)
    log(f"demo: {'PASS' if ok else 'FAIL'}: {passed} of {len(CHECKS)} paths forward")
    return ok
