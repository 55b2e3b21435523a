"""`ovnbpf demo`: bring up the default lab, show it, ping across it, count a broadcast,
show what the eBPF chassis counted, tear it down."""
import ipaddress
import signal
import subprocess
import time

from controller.ctl import format_text, gather

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
        lines += [f"    WARNING {w}" for w in c.get("not_compiled") or []]
    for v in status["vms"]:
        lines.append(f"  vm {v['name']:<5} on {v['chassis']:<5} {v['switch']:<4} {v['mac']}  {v['ip']}")
    return "\n".join(lines)


SEND_ARP = ("import socket;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind(('eth0',0));"
            "s.send(bytes.fromhex('{frame}'))")


def _arp_request(src_mac, src_ip, target_ip):
    mac = bytes.fromhex(src_mac.replace(":", ""))
    ip = lambda a: bytes(int(x) for x in a.split("."))  # noqa: E731
    return (b"\xff" * 6 + mac + b"\x08\x06" + bytes.fromhex("0001080006040001") + mac + ip(src_ip)
            + b"\x00" * 6 + ip(target_ip)).hex()


def _capture(netns, dev, bpf_filter):
    argv = ["tcpdump", "-ni", dev, "-l", "-Q", "in", bpf_filter]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _count(proc):
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=10)[0]
    return sum(1 for line in out.splitlines() if line.strip())


def broadcast_copies(lab, status, src="vm1", target_ip="10.0.1.99"):
    """One ARP request for an unknown address from `src`: Geneve copies on the underlay
    (OVN sends one per remote chassis with members) and copies at every other VM of the
    switch (exactly one each)."""
    vms = {v["name"]: v for v in status["vms"]}
    me = vms[src]
    peers = [v for v in status["vms"] if v["switch"] == me["switch"] and v["name"] != src]
    plan = lab.plan()
    # only this ARP: guests run IPv6 (RS, DAD, MLD go to multicast groups as well). Inner
    # frame at udp[24] (UDP 8 + Geneve 8 + OVN's option 8): ethertype, then the ARP target
    tpa = int(ipaddress.IPv4Address(target_ip))
    caps = {"underlay": _capture(None, plan.bridge,
                                 f"udp port 6081 and udp[36:2] = 0x0806 and udp[62:4] = {tpa}")}
    for v in peers:
        caps[v["name"]] = _capture(v["netns"], "eth0", f"arp and host {target_ip}")
    time.sleep(1.0)                                   # tcpdump is listening
    frame = _arp_request(me["mac"], me["ip"], target_ip)
    subprocess.run(["ip", "netns", "exec", me["netns"], "/usr/bin/python3", "-c",
                    SEND_ARP.format(frame=frame)], check=True)
    time.sleep(0.5)
    return {name: _count(p) for name, p in caps.items()}


def run_demo(topology="ebpf", name="demo", log=print):
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
        copies = broadcast_copies(lab, status)
        remotes = len({c["name"] for c in status["chassis"]}) - 1
        vm_ok = all(n == 1 for k, n in copies.items() if k != "underlay")
        ok = copies["underlay"] == remotes and vm_ok
        results.append(("broadcast", "vm1", "ff:ff:ff:ff:ff:ff", ok))
        log(f"  {'PASS' if ok else 'FAIL'}  broadcast ARP from vm1: {copies['underlay']} Geneve "
            f"copies on the underlay ({remotes} remote chassis), at the VMs: "
            + ", ".join(f"{k} {n}" for k, n in copies.items() if k != "underlay"))
        for c in status["chassis"]:
            if c["kind"] == "ovnbpf":
                log(f"--- ovnbpf ctl --chassis {c['name']}")
                log(_ctl(name, c["name"]))
    finally:
        lab.down(log=log)
    passed = sum(1 for r in results if r[3])
    ok = passed == len(CHECKS) + 1
    log(f"demo: {'PASS' if ok else 'FAIL'}: {passed} of {len(CHECKS) + 1} checks "
        "(5 ping paths, 1 broadcast)")
    return ok


def _ctl(lab_name, chassis):
    node = next(n for n in Lab(lab_name).nodes() if n.name == chassis)
    return format_text(gather(node.status_file, top=5))
