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
