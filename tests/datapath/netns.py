"""Namespaces and veths for datapath tests: unique `obt-` names, and everything created is
removed again, also when the test fails (use `Lab` as a context manager)."""
from __future__ import annotations

import secrets
import subprocess


def sh(*args: str, ns: str | None = None, check: bool = True) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


class Lab:
    def __init__(self):
        self.tag = "obt" + secrets.token_hex(3)
        self.namespaces: list[str] = []

    def ns(self, role: str) -> str:
        name = f"{self.tag}-{role}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=name)   # no ND noise
        sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=name)
        sh("ip", "link", "set", "lo", "up", ns=name)
        return name

    def veth(self, a: str, a_ns: str, b: str, b_ns: str, mac_a: str | None = None,
             mac_b: str | None = None) -> None:
        """a (in a_ns) <-> b (in b_ns), both up. Created in a_ns so no name ever exists
        in the root namespace."""
        sh("ip", "link", "add", a, "type", "veth", "peer", "name", b, "netns", b_ns, ns=a_ns)
        for ifname, ns, mac in ((a, a_ns, mac_a), (b, b_ns, mac_b)):
            if mac:
                sh("ip", "link", "set", ifname, "address", mac, ns=ns)
            sh("ip", "link", "set", ifname, "up", ns=ns)

    def ifindex(self, ifname: str, ns: str) -> int:
        return int(sh("cat", f"/sys/class/net/{ifname}/ifindex", ns=ns))

    def counter(self, ifname: str, ns: str, which: str = "rx_packets") -> int:
        return int(sh("cat", f"/sys/class/net/{ifname}/statistics/{which}", ns=ns))

    def send_raw(self, ns: str, ifname: str, frame: bytes, count: int = 1) -> None:
        """Send frames from inside a namespace (a short-lived child we wait for)."""
        code = ("import socket,sys;s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);"
                f"s.bind(({ifname!r},0));f=bytes.fromhex({frame.hex()!r});"
                f"[s.send(f) for _ in range({count})]")
        sh("/usr/bin/python3", "-c", code, ns=ns)

    def close(self) -> None:
        for name in reversed(self.namespaces):   # deleting a netns deletes its veths
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- helpers for ChassisDatapath tests ---------------------------------------------------

def gro_on(ns: str, ifname: str) -> None:
    """XDP-redirected frames reach a veth only when its peer has NAPI (the kernel drops them
    otherwise; controller/chassisd/napi.py reports such VIFs): GRO on the VM side of a VIF
    gives it that."""
    sh("ethtool", "-K", ifname, "gro", "on", ns=ns)


_SNIFF = """
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(({ifname!r}, 0))
s.settimeout(0.2)
want, end, got = {want}, time.time() + {timeout}, []
print("ready", flush=True)
while time.time() < end and len(got) < want:
    try:
        f, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    if len(f) >= 38 and f[12:14] == b"\\x08\\x00" and f[23] == 17 and f[36:38] == {port!r}:
        got.append(f.hex())
print("\\n".join(got), flush=True)
"""


class Sniffer:
    """Collects UDP frames to `dport` arriving on an interface of a namespace."""

    def __init__(self, ns: str, ifname: str, dport: int, want: int = 1, timeout: float = 3.0):
        code = _SNIFF.format(ifname=ifname, want=want, timeout=timeout,
                             port=dport.to_bytes(2, "big"))
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def frames(self) -> list[bytes]:
        try:
            out, _ = self.proc.communicate(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return [bytes.fromhex(x) for x in out.split() if x]


_SEND = """
import os, socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(({ifname!r}, 0))
f = bytes.fromhex({frame!r})
n, batch, period, stop = 0, {batch}, {period}, {stop!r}
nxt = time.monotonic()
while not os.path.exists(stop):
    for _ in range(batch):
        s.send(f)
    n += batch
    nxt += period
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
print(n, flush=True)
"""


class PacedSender:
    """Sends one frame at a steady rate (batch every period) until stopped; reports how
    many it sent."""

    def __init__(self, ns: str, ifname: str, frame: bytes, pps: int = 5000, batch: int = 25):
        import tempfile
        self.stop_file = tempfile.mktemp(prefix="obt-stop-")
        code = _SEND.format(ifname=ifname, frame=frame.hex(), batch=batch,
                            period=batch / pps, stop=self.stop_file)
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", code],
                                     stdout=subprocess.PIPE, text=True)

    def stop(self) -> int:
        import os
        open(self.stop_file, "w").close()
        try:
            out, _ = self.proc.communicate(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.unlink(self.stop_file)
        return int(out.strip())
