"""A security group as OpenStack builds it, enforced with real traffic (issue 16):
a port group of every VM, default drop both ways, egress allowed (allow-related), ingress
ICMP and TCP 80 from anywhere and TCP 22 from an address set (vm1 only). Checked on an
ebpf lab and on a mixed one (an OVS reference chassis in the middle): pings both ways,
TCP connections whose replies pass only as established traffic, and new connections the
group denies. Before conntrack, the first ACL dropped every IP packet of the switch."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import running_lab
from tests.controller.traffic import ctl

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

LABS = {"ebpf": "h1", "mixed": "h2"}
PAIRS = (("vm1", "vm2"), ("vm2", "vm1"), ("vm1", "vm3"), ("vm3", "vm1"), ("vm3", "vm2"),
         ("vm1", "vm5"), ("vm5", "vm1"))
SERVER = """
import socket, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); c.settimeout(5)
        try:
            c.sendall(b"echo:" + c.recv(64))
        finally:
            c.close()
for p in (80, 22, 5000):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait()
"""
CLIENT = """
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(b"hi"); got = s.recv(64); assert got == b"echo:hi", got
"""
SG = [("to-lport", "1001", "outport == @pg_sg && ip4", "drop"),
      ("from-lport", "1001", "inport == @pg_sg && ip4", "drop"),
      ("from-lport", "1002", "inport == @pg_sg && ip4", "allow-related"),
      ("to-lport", "1002", "outport == @pg_sg && icmp4", "allow-related"),
      ("to-lport", "1002", "outport == @pg_sg && tcp.dst == 80", "allow-related"),
      ("to-lport", "1002", "outport == @pg_sg && ip4.src == $as_ssh && tcp.dst == 22",
       "allow-related")]


@pytest.fixture(scope="module", params=sorted(LABS))
def sg_lab(request):
    with running_lab(LABS[request.param], request.param) as lab:
        topo = lab.plan().topo
        central = lab.central()
        central.nbctl("pg-add", "pg_sg", *[v.port for v in topo.vms])
        central.nbctl("create", "Address_Set", "name=as_ssh",
                      f'addresses="{topo.vm_named("vm1").ip.ip}"')
        for direction, prio, match, verdict in SG:
            central.nbctl("acl-add", "pg_sg", direction, prio, match, verdict)
        central.nbctl("--wait=hv", "sync", timeout=120)
        servers = [subprocess.Popen(["ip", "netns", "exec", lab.plan().vm_netns(v.name),
                                     sys.executable, "-c", SERVER]) for v in topo.vms]
        try:
            time.sleep(1)      # the servers listen
            yield request.param, lab
        finally:
            for p in servers:
                p.kill()
                p.wait()


def _ip(lab, name):
    return str(lab.plan().topo.vm_named(name).ip.ip)


def tcp(lab, src, dst, port) -> bool:
    r = subprocess.run(["ip", "netns", "exec", lab.plan().vm_netns(src), sys.executable, "-c",
                        CLIENT, _ip(lab, dst), str(port)], capture_output=True, text=True,
                       timeout=30)
    return r.returncode == 0


def test_security_group_with_real_traffic(sg_lab, capsys):
    kind, lab = sg_lab
    topo = lab.plan().topo
    rows, wrong = [], []
    for src, dst in PAIRS:
        want = {"icmp": True, "tcp80": True, "tcp22": src == "vm1", "tcp5000": False}
        got = {"icmp": lab.ping(src, _ip(lab, dst), count=2),
               "tcp80": tcp(lab, src, dst, 80), "tcp22": tcp(lab, src, dst, 22),
               "tcp5000": tcp(lab, src, dst, 5000)}
        where = (f"{topo.vm_named(src).chassis}->{topo.vm_named(dst).chassis}"
                 + (" routed" if topo.vm_named(src).switch != topo.vm_named(dst).switch else ""))
        rows.append(f"  {src}->{dst} ({where}): " + ", ".join(
            f"{k} {'pass' if v else 'DENIED'}" for k, v in got.items()))
        if got != want:
            wrong.append((src, dst, got, want))
    with capsys.disabled():
        print(f"\nsecurity group on the {kind} lab (want: icmp/tcp80 pass, tcp22 only from "
              f"vm1, tcp5000 denied):\n" + "\n".join(rows))
    assert not wrong


def test_conntrack_did_the_work_and_only_load_balancer_hooks_are_not_compiled(sg_lab):
    _, lab = sg_lab
    live = ctl(lab, "hv1")
    stats = live["live"]["stats"]
    assert stats["ct_created"] > 0 and stats["ct_hit"] > 0, stats
    missing = live["pipeline"]["not_compiled"]
    # northd writes ct_lb_mark, or ct_lb when a chassis does not advertise ct_lb_mark
    assert missing and {m["reason"].split(":")[0] for m in missing} <= {"ct_lb", "ct_lb_mark"}, missing
    status = lab.status()
    hv1 = next(c for c in status["chassis"] if c["name"] == "hv1")
    assert any(w.startswith("ls ls1: ") and "need ct_lb" in w for w in hv1["not_compiled"]), hv1
