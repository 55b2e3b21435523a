"""`ovnbpf bench dhcp`: DHCP answers per second per chassis, ovnbpf's punt path vs the OVS
reference (ovn-controller's pinctrl), in one mixed lab with native DHCP on ls1.

From a VM on each chassis, a sender in the VM's namespace writes DHCPDISCOVERs on a raw
socket, `--count` of them (distinct xids) at `--rate` a second, while a receiver counts the
OFFERs that come back; the figure is OFFERs / seconds from the first DISCOVER to the last
OFFER (or the `--wait` window). Also printed: how many were answered, and the punt meter
ovnbpf runs with (its default `--punt-rate` caps what a chassis answers; OVN's default has
no controller meter). Figures only: compare within one run.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from topologies.lab.cli import ERRORS  # noqa: F401  reported as "error: message"
from topologies.lab.lab import Lab

HELP = "DHCP answers per second per chassis, ovnbpf vs OVS reference"  # entry point ovnbpf.benches
ROOT = Path(__file__).resolve().parents[1]

# Runs inside the VM's namespace: send DISCOVERs, count OFFERs, print JSON.
BLASTER = r'''
import json, select, socket, struct, sys, time
ifname, mac, count, wait, rate = (sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]),
                                  float(sys.argv[4]), float(sys.argv[5]))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((ifname, 0))
def csum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16: t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF
def discover(xid):
    bootp = struct.pack("!BBBBIHHIIII", 1, 1, 6, 0, xid, 0, 0, 0, 0, 0, 0) + mac + bytes(10) + bytes(192)
    dhcp = bootp + struct.pack("!I", 0x63825363) + bytes([53, 1, 1, 255])
    udp = struct.pack("!HHHH", 68, 67, 8 + len(dhcp), 0) + dhcp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + b"\x08\x00" + ip + udp
frames = [discover(0x10000 + i) for i in range(count)]
got, last = set(), None
t0 = time.monotonic()
for i, f in enumerate(frames):
    while rate and time.monotonic() < t0 + i / rate:       # paced: `rate` DISCOVERs a second
        if select.select([s], [], [], max(0, t0 + i / rate - time.monotonic()))[0]:
            d = s.recv(2048)
            if len(d) > 42 + 8 and d[36:38] == b"\x00\x44" and d[42] == 2:
                got.add(struct.unpack("!I", d[46:50])[0]); last = time.monotonic()
    s.send(f)
    while select.select([s], [], [], 0)[0]:
        d = s.recv(2048)
        if len(d) > 42 + 8 and d[36:38] == b"\x00\x44" and d[42] == 2:
            got.add(struct.unpack("!I", d[46:50])[0]); last = time.monotonic()
sent = time.monotonic()
while time.monotonic() < sent + wait and len(got) < count:
    if select.select([s], [], [], 0.05)[0]:
        d = s.recv(2048)
        if len(d) > 42 + 8 and d[36:38] == b"\x00\x44" and d[42] == 2:
            got.add(struct.unpack("!I", d[46:50])[0]); last = time.monotonic()
print(json.dumps({"sent": count, "send_s": sent - t0, "answered": len(got),
                  "answer_s": (last - t0) if last else None}))
'''


def add_arguments(p):
    p.add_argument("--lab", help="use this running lab (a mixed lab with dhcp on ls1) instead of "
                   "bringing one up")
    p.add_argument("--name", default="dhb", help="name of the lab to bring up (default dhb)")
    p.add_argument("--count", type=int, default=2000, help="DISCOVERs per chassis (default 2000)")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the last OFFERs")
    p.add_argument("--rate", type=float, default=2000.0,
                   help="DISCOVERs per second (default 2000; 0: as fast as the socket takes them)")


def _blast(lab, vm, count, wait, rate) -> dict:
    v = lab.plan().topo.vm_named(vm)
    r = subprocess.run(["ip", "netns", "exec", lab.plan().vm_netns(vm), sys.executable, "-c", BLASTER,
                        "eth0", v.mac.replace(":", ""), str(count), str(wait), str(rate)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise RuntimeError(r.stderr.strip())
    out = json.loads(r.stdout)
    out["answers_per_s"] = round(out["answered"] / out["answer_s"], 1) if out["answer_s"] else 0.0
    out["send_s"] = round(out["send_s"], 3)
    out["answer_s"] = out["answer_s"] and round(out["answer_s"], 3)
    return out


def bench(args) -> dict:
    lab, made = None, False
    tmp = Path(tempfile.mkdtemp(prefix="ovnbpf-dhcpbench-"))
    try:
        if args.lab:
            lab = Lab(args.lab)
        else:
            doc = yaml.safe_load((ROOT / "mixed.yaml").read_text())
            doc["name"] = "mixed-dhcp"
            doc.pop("underlay", None)
            doc["switches"]["ls1"]["dhcp"] = {"dns_server": ["8.8.8.8"], "mtu": 1400}
            (tmp / "mixed-dhcp.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
            lab = Lab(args.name)
            lab.up(str(tmp / "mixed-dhcp.yaml"), log=lambda *_: None)
            made = True
        figures = {"ovnbpf (hv1, vm1)": _blast(lab, "vm1", args.count, args.wait, args.rate),
                   "ovs reference (hv2, vm3)": _blast(lab, "vm3", args.count, args.wait, args.rate)}
        figures["note"] = ("ovnbpf runs with its default punt meter (--punt-rate 1000/s per CPU, "
                           "burst 100); OVN's reference has no controller meter by default")
        return figures
    finally:
        if made:
            lab.down(log=lambda *_: None)
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
