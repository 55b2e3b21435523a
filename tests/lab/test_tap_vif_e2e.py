"""A tap VIF as libvirt makes one for a VM (IFF_TAP | IFF_VNET_HDR), plugged into an
ovnbpf chassis: frames written behind a virtio_net_hdr with partial checksums, as
virtio-net hands them over, arrive intact at a VM on another chassis (valid IPv4 and L4
checksums, every byte). GSO super-frames (TCPV4, UDP_L4) cross the datapath whole (the
VIF's XDP runs in skb mode and TC encapsulates the skb, bpf/README.md "Guests' offloads")
and arrive as their segments, every byte; TCP segments may be merged again by the
receiving VM's GRO, which leaves the pseudo-header seed in the checksum field of the
merged frame, as the kernel does. Before skb mode these frames were counted drops
(GSO_UNSUPPORTED): this test failed on "gso" not delivered."""
import json
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from topologies.lab.proc import wait_for
from tests.conftest import running_lab
from tests.lab.skbtopo import skb_topology
from tests.lab import tap_guest

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

HELPER = str(Path(__file__).with_name("tap_guest.py"))
TAP, MAC, IP = "tap1", "0a:00:00:00:01:20", "10.0.1.20"


def _received(frames):
    """{(proto, sport): [payload, ...]} of IPv4 TCP/UDP frames from IP whose checksums are
    right, or (TCP merged by GRO: more than one segment's payload) hold the pseudo-header
    seed; frames with a wrong checksum are listed apart."""
    good, bad = {}, []
    for hexframe in frames:
        f = bytes.fromhex(hexframe)
        if f[12:14] != b"\x08\x00" or socket.inet_ntoa(f[26:30]) != IP:
            continue
        ihl = (f[14] & 0xF) * 4
        ip, l4 = f[14:14 + ihl], f[14 + ihl:14 + struct.unpack("!H", f[16:18])[0]]
        proto = ip[9]
        ok = tap_guest.csum16(ip) == 0xFFFF and tap_guest.csum16(
            l4, tap_guest.pseudo(IP, socket.inet_ntoa(ip[16:20]), proto, len(l4))) == 0xFFFF
        sport = struct.unpack("!H", l4[:2])[0]
        payload = l4[20:] if proto == 6 else l4[8:]
        if not ok and proto == 6 and len(payload) > tap_guest.GSO_SIZE:
            seed = tap_guest.pseudo(IP, socket.inet_ntoa(ip[16:20]), proto, len(l4))
            ok = struct.unpack("!H", l4[16:18])[0] == seed
        (good.setdefault((proto, sport), []) if ok else bad).append(payload)
    return good, bad


def _ctl(lab, chassis):
    ovnbpf = Path(sys.executable).with_name("ovnbpf")
    return json.loads(subprocess.run([str(ovnbpf), "ctl", "--lab", lab.name, "--chassis", chassis,
                                      "--json"], check=True, capture_output=True, text=True).stdout)


def test_tap_vif_virtio_frames_arrive_intact(capsys, tmp_path):
    with running_lab("g3", skb_topology("ebpf", tmp_path)) as lab:
        hv1 = next(n for n in lab.nodes() if n.name == "hv1")
        vm3 = next(v for v in lab.plan().topo.vms if v.name == "vm3")
        lab.central().nbctl("lsp-add", "ls1", "lsp-tap1", "--", "lsp-set-addresses", "lsp-tap1",
                            f"{MAC} {IP}")
        writer = subprocess.Popen(["ip", "netns", "exec", hv1.netns, sys.executable, HELPER, "write",
                                   TAP, MAC, vm3.mac, IP, str(vm3.ip.ip)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().strip() == "ready"
            hv1.run(["ip", "link", "set", TAP, "up"])
            hv1.vsctl("add-port", "br-int", TAP, "--", "set", "Interface", TAP,
                      "external_ids:iface-id=lsp-tap1")
            cases = tap_guest.cases(MAC, vm3.mac, IP, "0")
            want = {(6 if n.startswith("tcp") else 17, 40000 + i): (n, segs)
                    for i, (n, _, segs) in enumerate(cases)}
            deadline, last = time.monotonic() + 60, None
            while time.monotonic() < deadline:
                cap = subprocess.Popen(["ip", "netns", "exec", lab.plan().vm_netns("vm3"),
                                        sys.executable, HELPER, "capture", "2"],
                                       stdout=subprocess.PIPE, text=True)
                assert cap.stdout.readline().strip() == "ready"
                writer.stdin.write("go\n")
                writer.stdin.flush()
                assert writer.stdout.readline().strip() == "written"
                good, bad = _received(json.loads(cap.communicate(timeout=30)[0]))
                last = {want[k][0]: ("ok" if b"".join(good.get(k, [])) == b"".join(want[k][1])
                                     else f"{len(good.get(k, []))} intact of {len(want[k][1])}")
                        for k in want}
                last["bad checksums"] = len(bad)
                if all(last[want[k][0]] == "ok" for k in want):
                    break
                time.sleep(1)   # the port may not be bound yet
            with capsys.disabled():
                print(f"\n[figure] tap VIF on hv1 -> vm3 on hv2: {last}")
            assert all(last[want[k][0]] == "ok" for k in want), last
            assert last["bad checksums"] == 0, last
            drops = _ctl(lab, "hv1")["live"]["drops"]
            for reason in ("GSO_UNSUPPORTED", "SKB_OUT_FAILED", "SKB_L4_REWRITE"):
                assert drops.get(reason, 0) == 0, drops
        finally:
            writer.stdin.close()
            writer.kill()
            writer.wait()
