"""VIFs that cannot receive what XDP redirects into them, found and reported.

The kernel delivers an XDP-redirected frame into a veth only when the veth's peer (the
VM's end) has NAPI: the peer is up and has GRO on or an XDP program of its own. Otherwise
veth_xdp_xmit refuses the frame and no counter anywhere moves: a guest that turns GRO off
(`ethtool -K eth0 gro off`) silently receives nothing. The guest's settings are its own,
so we never change them; we look at the peer from its namespace (found by the netnsid
the veth reports), and report each VIF that cannot receive: logged once per change,
listed in the status file and `ovnbpf ctl`, counted.
"""
from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import socket
import struct
import threading
import time

log = logging.getLogger("ovnbpf.controller")

CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
ETHTOOL_GGRO = 0x0000002b
IFF_UP = 0x1


def _gro(name: str) -> bool:
    """GRO of `name` in this thread's namespace (the legacy ETHTOOL_GGRO ioctl)."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GGRO, 0))
    ifr = struct.pack("16sP", name.encode(), ctypes.addressof(value)).ljust(40, b"\0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
    return struct.unpack("II", value.raw[:8])[1] != 0


def _peer_state(ns_path: str, ifindex: int) -> dict:
    """In a thread of its own (setns changes only the calling thread): the peer's name,
    up, GRO and XDP program, read in its namespace."""
    from pyroute2 import IPRoute
    box = {}

    def look():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(ns_path, os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            with IPRoute() as ipr:
                link = ipr.get_links(ifindex)[0]
            xdp = link.get_attr("IFLA_XDP")
            name = link.get_attr("IFLA_IFNAME")
            box["state"] = {"name": name, "up": bool(link["flags"] & IFF_UP),
                            "gro": _gro(name),
                            "xdp": bool(xdp and dict(xdp["attrs"]).get("IFLA_XDP_ATTACHED"))}
        except Exception as e:   # noqa: BLE001 - reported by the caller
            box["error"] = e
    t = threading.Thread(target=look, name="vif-peer-look", daemon=True)
    t.start()
    t.join(5)
    if "error" in box:
        raise box["error"]
    return box.get("state") or {}


class NapiWatch:
    """Checks the attached VIFs every INTERVAL_S (and each newly attached one at once)."""
    INTERVAL_S = 3.0

    def __init__(self):
        self.problems: dict[str, str] = {}     # VIF device -> why it cannot receive
        self.counters = {"checks": 0, "found": 0, "unknown": 0}
        self._ns_paths: dict[int, str] = {}     # netnsid -> a path to that namespace
        self._checked: set[str] = set()
        self._next = 0.0

    def _ns_path(self, ipr, nsid):
        """A path to the namespace our netlink calls `nsid`: named namespaces first, then
        processes' (a container's), cached while it still names the same nsid."""
        path = self._ns_paths.get(nsid)
        candidates = ([path] if path else [])
        try:
            candidates += [f"/run/netns/{n}" for n in sorted(os.listdir("/run/netns"))]
        except OSError:
            pass
        candidates += [f"/proc/{p}/ns/net" for p in os.listdir("/proc") if p.isdigit()]
        seen = set()
        for c in candidates:
            try:
                st = os.stat(c)
                if st.st_ino in seen:
                    continue
                seen.add(st.st_ino)
                fd = os.open(c, os.O_RDONLY)
            except OSError:
                continue
            try:
                if ipr.get_netnsid(fd=fd).get("nsid") == nsid:
                    self._ns_paths[nsid] = c
                    return c
            except Exception:   # noqa: BLE001 - not a namespace we can ask about
                pass
            finally:
                os.close(fd)
        return None

    def why_not(self, ipr, dev) -> str | None:
        """Why `dev` cannot receive redirected frames, or None (it can, or it is not a
        veth whose peer we can see)."""
        links = ipr.get_links(ifname=dev)
        if not links:
            return None
        link = links[0]
        info = dict(link.get_attr("IFLA_LINKINFO", {"attrs": []})["attrs"])
        if info.get("IFLA_INFO_KIND") != "veth":
            return None
        peer, nsid = link.get_attr("IFLA_LINK"), link.get_attr("IFLA_LINK_NETNSID")
        path = self._ns_path(ipr, nsid) if nsid is not None else "/proc/self/ns/net"
        if path is None:
            self.counters["unknown"] += 1
            return None
        peer_state = _peer_state(path, peer)
        if peer_state.get("xdp"):
            return None
        if not peer_state.get("up"):
            return None      # a peer that is down receives nothing anyway: not our loss
        if not peer_state.get("gro"):
            return (f"its peer {peer_state['name']} has no NAPI (GRO off and no XDP "
                    "program): the kernel refuses every frame redirected into it")
        return None

    def run(self, attached) -> bool:
        """Check the VIFs now if they are due (or new); True if what we report changed."""
        devs = set(attached)
        new = devs - self._checked
        now = time.monotonic()
        if not new and now < self._next:
            return False
        self._next = now + self.INTERVAL_S
        self._checked = devs
        from pyroute2 import IPRoute
        problems = {}
        with IPRoute() as ipr:
            for dev in sorted(devs):
                self.counters["checks"] += 1
                try:
                    why = self.why_not(ipr, dev)
                except Exception as e:   # noqa: BLE001 - a VIF we cannot look at is not fatal
                    log.debug("VIF %s: peer not inspected: %s", dev, e)
                    why = self.problems.get(dev)
                if why:
                    problems[dev] = why
        changed = problems != self.problems
        for dev, why in problems.items():
            if self.problems.get(dev) != why:
                self.counters["found"] += 1
                log.error("VIF %s cannot receive: %s; packets to it are lost until the "
                          "guest turns GRO on (or attaches an XDP program)", dev, why)
        for dev in set(self.problems) - set(problems):
            if dev in devs:
                log.info("VIF %s receives again (its peer has NAPI)", dev)
        self.problems = problems
        return changed

    def status(self) -> dict:
        return {"without_napi": dict(sorted(self.problems.items())), **self.counters}
