"""The punt path live, in a lab of eBPF chassis (real northd + SB, `ovnbpf controller` per
chassis, VMs in namespaces): the router's packet-generating and learning actions are done
by the controller (OVN's pinctrl) and their packets come back through the datapath.

    ping -t 1 across the router   -> ICMP time exceeded from the router IP (icmp4 {})
    UDP to the router IP          -> ICMP port unreachable (icmp4 {}, then next;)
    ping an IP no MAC_Binding has -> the router ARPs for it (arp {}, broadcast in the
                                     switch); the answer is learned (put_arp -> an SB
                                     MAC_Binding row) and the pings then get through
"""
import json
import random
import string
import subprocess

import pytest

from topologies.lab import topology

from tests.conftest import running_lab

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    name = "pu" + "".join(random.choices(string.ascii_lowercase + string.digits, k=3))
    path = topology.variant("two-chassis", tmp_path_factory.mktemp("topo"), "ebpf", {"*": "ovnbpf"})
    with running_lab(name, path) as lab:
        yield lab


def vm(lab, name, *cmd, timeout=30):
    return subprocess.run(["ip", "netns", "exec", lab.plan().vm_netns(name), *cmd],
                          capture_output=True, text=True, timeout=timeout)


def punt_status(lab):
    out = {}
    for n in lab.nodes():
        st = json.loads(n.status_file.read_text())
        out[n.name] = st.get("punt", {})
    return out


def test_ttl1_ping_gets_time_exceeded_from_the_router(lab):
    assert lab.ping("vm1", "10.0.2.15", count=1)          # the route works at all
    r = vm(lab, "vm1", "ping", "-c", "1", "-t", "1", "-W", "3", "10.0.2.15")
    assert "From 10.0.1.1 icmp_seq=1 Time to live exceeded" in r.stdout, r.stdout + str(punt_status(lab))


def test_udp_to_the_router_ip_is_port_unreachable(lab):
    code = ("import socket, time\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.settimeout(3)\n"
            "s.connect(('10.0.1.1', 9))\n"
            "t = time.monotonic()\n"
            "s.send(b'x')\n"
            "try:\n"
            "    s.recv(100)\n"
            "    print('answered')\n"
            "except ConnectionRefusedError:\n"
            "    print('refused', round((time.monotonic() - t) * 1e3, 2))\n"
            "except socket.timeout:\n"
            "    print('timeout')\n")
    r = vm(lab, "vm1", "/usr/bin/python3", "-c", code)
    assert r.stdout.split()[0] == "refused", r.stdout + r.stderr + str(punt_status(lab))
    print(f"\n[figure] UDP -> router IP, ICMP port unreachable back through the punt path: "
          f"{r.stdout.split()[1]} ms (one sample, shared machine)")


def test_router_arps_for_an_unknown_neighbour_and_learns_the_answer(lab):
    """vm6 (ls2, hv1) also owns 10.0.2.99, which no Port_Binding names: the router has no
    MAC for it, so `arp {}` asks ls2, vm6 answers, put_arp writes the MAC_Binding."""
    vm(lab, "vm6", "ip", "addr", "add", "10.0.2.99/32", "dev", "eth0")
    cap = subprocess.Popen(["ip", "netns", "exec", lab.plan().vm_netns("vm5"), "tcpdump", "-l", "-n",
                            "-c", "1", "-i", "eth0", "arp and host 10.0.2.99"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        cap.stderr.readline()                      # "listening on eth0 ...": it is capturing
        r = vm(lab, "vm1", "ping", "-c", "8", "-i", "0.3", "-W", "2", "10.0.2.99")
        seen = cap.communicate(timeout=10)[0]
    finally:
        if cap.poll() is None:
            cap.kill()
            cap.wait()
    # the request reached the other chassis' VM too (broadcast in ls2)
    assert "Request who-has 10.0.2.99 tell 10.0.2.1" in seen, seen + str(punt_status(lab))
    rows = lab.central().sbctl("--bare", "--columns=logical_port,mac", "find", "MAC_Binding",
                               "ip=10.0.2.99")
    mac6 = "0a:00:00:00:02:06"
    assert "lrp-ls2" in rows and mac6 in rows, rows
    assert lab.ping("vm1", "10.0.2.99", count=2), r.stdout
    handled = punt_status(lab)["hv1"]["handled"]
    assert handled.get("arp", 0) >= 1 and handled.get("put_arp", 0) >= 1, handled
