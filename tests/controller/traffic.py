"""Helpers the controller e2e tests share: a chassis' status file, a background ping in a
VM, and its loss count."""
import json
import subprocess
import sys
from pathlib import Path


def status(lab, hv):
    node = next(n for n in lab.nodes() if n.name == hv)
    return json.loads(node.status_file.read_text())


def background_ping(lab, vm, ip, count, interval=0.01):
    ns = lab.plan().vm_netns(vm)
    return subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-c", str(count), "-i",
                             str(interval), "-W", "1", "-q", str(ip)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def loss(proc):
    """(sent, lost) from ping's summary line, once it has exited."""
    out = proc.communicate(timeout=120)[0]
    line = next(l for l in out.splitlines() if "packets transmitted" in l)
    sent, received = int(line.split()[0]), int(line.split()[3])
    return sent, sent - received


def ctl(lab, chassis, top=10):
    """`ovnbpf ctl --json` of one chassis: the status file plus the live counters (the
    `top` lflows by hits)."""
    ovnbpf = Path(sys.executable).with_name("ovnbpf")
    out = subprocess.run([str(ovnbpf), "ctl", "--lab", lab.name, "--chassis", chassis, "--json",
                          "--top", str(top)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)
