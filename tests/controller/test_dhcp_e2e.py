"""Native DHCPv4 and DNS with real clients: busybox udhcpc in lab VMs gets its lease (address,
netmask, router, DNS servers, domain, MTU, classless routes, lease time, server id) from
OVN's DHCP_Options, answered on the punt path of ovnbpf chassis and by ovn-controller on
the OVS reference chassis of the mixed lab. The replies are compared byte for byte:

- the same request: the DISCOVER and REQUEST udhcpc sent on the OVS chassis, put through
  ovnbpf's punt handler and northd's response flow, give OVN's OFFER and ACK exactly;
- in one run: the OFFER/ACK ovnbpf delivered to vm1 equals the one OVN delivered to vm3
  once the fields that name the client are swapped (its MAC in eth.dst and chaddr, its
  address in ip.dst and yiaddr, the xid and secs its request carried, the IP checksum);
- busybox nslookup's A and PTR queries from vm3 (OVS chassis), put through ovnbpf's
  handler and northd's dns response flow, give OVN's responses exactly."""
import random
import shutil
import string
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.controller.traffic import ctl

pytestmark = [pytest.mark.root, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
DHCP = {"dns_server": ["8.8.8.8", "1.1.1.1"], "domain_name": "ovn.org", "mtu": 1400,
        "classless_static_route": ["30.0.0.0/24", "10.0.1.4", "0.0.0.0/0", "10.0.1.1"]}
SCRIPT = """#!/bin/sh
# udhcpc's event script: record what the server gave; take the lease when bound
echo "event=$1 ip=$ip mask=$mask subnet=$subnet router=$router dns=$dns domain=$domain mtu=$mtu \
lease=$lease serverid=$serverid staticroutes=$staticroutes" >> "$UDHCPC_OUT"
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    for r in $router; do ip route replace default via "$r" dev "$interface"; done ;;
esac
"""


DNS = {"vm1.ovn.org": "10.0.1.11", "vm3.ovn.org": ["10.0.1.13", "fd00::13"],
       "13.1.0.10.in-addr.arpa": "vm3.ovn.org"}


def dhcp_topology(base, tmp_path):
    doc = yaml.safe_load((ROOT / "topologies" / f"{base}.yaml").read_text())
    doc["name"] = f"{base}-dhcp"
    doc.pop("underlay", None)                        # a free subnet of its own
    doc["switches"]["ls1"]["dhcp"] = DHCP
    doc["switches"]["ls1"]["dns"] = DNS
    path = tmp_path / f"{base}-dhcp.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def lab_name():
    return "j" + "".join(random.choices(string.ascii_lowercase, k=3))


def udhcpc(lab, vm, tmp: Path):
    """Run udhcpc in `vm` with its address flushed: (the bound event's variables, the DHCP
    frames captured at the VM)."""
    ns = lab.plan().vm_netns(vm)
    script, out, pcap = tmp / "script.sh", tmp / f"{vm}.out", tmp / f"{vm}.pcap"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    subprocess.run(["ip", "netns", "exec", ns, "ip", "addr", "flush", "dev", "eth0"], check=True)
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-U", "--immediate-mode", "-n", "-i", "eth0", "-w",
                            str(pcap), "udp and (port 67 or port 68)"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        cap.stderr.readline()                       # "listening on eth0": capturing
        r = subprocess.run(["ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q",
                            "-f", "-t", "5", "-T", "2", "-O", "staticroutes", "-O", "mtu",
                            "-s", str(script)], env={"UDHCPC_OUT": str(out), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                           capture_output=True, text=True, timeout=60)
        time.sleep(1)                               # the last frames reach the capture file
    finally:
        cap.terminate()
        cap.wait(timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    from scapy.utils import rdpcap
    frames = [bytes(p) for p in rdpcap(str(pcap))]
    bound = [line for line in out.read_text().splitlines() if line.startswith("event=bound")]
    assert bound, out.read_text()
    fields = dict(kv.split("=", 1) for kv in _split_vars(bound[-1]))
    return fields, frames


def _split_vars(line):
    """`a=1 b=x y c=` -> ['a=1', 'b=x y', 'c=']: values may hold spaces."""
    out = []
    for word in line.split(" "):
        if "=" in word and word.split("=", 1)[0].isidentifier():
            out.append(word)
        else:
            out[-1] += " " + word
    return out


def assert_lease(vm, fields):
    assert fields["ip"] == vm.ip.ip.exploded and fields["mask"] == "24", fields
    assert fields["router"] == "10.0.1.1" and fields["serverid"] == "10.0.1.1", fields
    assert fields["dns"].split() == ["8.8.8.8", "1.1.1.1"] and fields["domain"] == "ovn.org", fields
    assert fields["mtu"] == "1400" and fields["lease"] == "3600", fields
    assert fields["staticroutes"] == "30.0.0.0/24 10.0.1.4 0.0.0.0/0 10.0.1.1", fields


def dhcp_type(frame):
    """The DHCP message type of a captured frame (option 53), or None."""
    opts = frame[14 + 20 + 8 + 240:]
    i = 0
    while i + 2 <= len(opts) and opts[i] != 255:
        if opts[i] == 0:
            i += 1
            continue
        if opts[i] == 53:
            return opts[i + 2]
        i += 2 + opts[i + 1]
    return None


def by_type(frames, t):
    found = [f for f in frames if dhcp_type(f) == t]
    assert found, [dhcp_type(f) for f in frames]
    return found[0]


@pytest.fixture
def tmp():
    d = Path(tempfile.mkdtemp(prefix="ovnbpf-dhcp-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_udhcpc_leases_on_an_ebpf_lab(make_lab, tmp_path, tmp):
    lab = make_lab(dhcp_topology("ebpf", tmp_path), lab_name())
    topo = lab.plan().topo
    for name in ("vm1", "vm3"):                    # hv1 and hv2, both ovnbpf
        fields, _ = udhcpc(lab, name, tmp)
        assert_lease(topo.vm_named(name), fields)
        assert lab.ping(name, "10.0.1.1", count=1)  # the lease works: the gateway answers
    handled = {c: ctl(lab, c)["punt"]["handled"] for c in ("hv1", "hv2")}
    for c in handled:
        assert handled[c].get("dhcp_offer", 0) >= 1 and handled[c].get("dhcp_ack", 0) >= 1, handled


def test_udhcpc_on_a_mixed_lab_and_replies_byte_for_byte(make_lab, tmp_path, tmp):
    lab = make_lab(dhcp_topology("mixed", tmp_path), lab_name())
    topo = lab.plan().topo
    got = {}
    for name in ("vm1", "vm3", "vm7"):             # hv1 ovnbpf, hv2 OVS, hv3 ovnbpf
        fields, frames = udhcpc(lab, name, tmp)
        assert_lease(topo.vm_named(name), fields)
        assert lab.ping(name, "10.0.1.1", count=1)
        got[name] = frames
    assert ctl(lab, "hv1")["punt"]["handled"].get("dhcp_ack", 0) >= 1

    # a resolver asks OVN (ovn-controller on hv2, ovnbpf on hv1): A and PTR records
    dns = {name: nslookup(lab, name, tmp) for name in ("vm1", "vm3")}
    for name, (out, _) in dns.items():
        assert "10.0.1.13" in out["vm3.ovn.org"] and "vm3.ovn.org" in out["13.1.0.10.in-addr.arpa"], (name, out)
    assert ctl(lab, "hv1")["punt"]["handled"].get("dns_answer", 0) >= 2
    # the same query: OVN's responses at vm3 come out of our handler for vm3's queries
    frames = dns["vm3"][1]
    queries = [f for f in frames if f[36:38] == b"\x00\x35"]
    responses = [f for f in frames if f[34:36] == b"\x00\x35"]
    assert len(queries) == len(responses) == 2, [f.hex() for f in frames]
    for q, theirs in zip(queries, responses):
        ours = through_handler(lab, "lsp-vm3", q, ("ls_in_dns_lookup", "ls_in_dns_response"), "dns_lookup")
        assert ours.hex() == theirs.hex(), (ours.hex(), theirs.hex())

    # ovnbpf trace --compare agrees with ovn-trace on a DHCPDISCOVER (it crashed on the
    # comment line ovn-trace prints for put_dhcp_opts before)
    mf = ('inport == "lsp-vm1" && eth.src == 0a:00:00:00:01:01 && eth.dst == ff:ff:ff:ff:ff:ff && '
          'ip4.src == 0.0.0.0 && ip4.dst == 255.255.255.255 && udp.src == 68 && udp.dst == 67 && ip.ttl == 64')
    r = subprocess.run([str(Path(sys.executable).with_name("ovnbpf")), "trace", "--sb", lab.central().sb_remote,
                        "--compare", "ls1", mf], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "0 difference(s)" in r.stdout, r.stdout + r.stderr

    # the same request: OVN's answers to vm3 come out of our handler for vm3's requests
    for req_type, reply_type in ((1, 2), (3, 5)):
        request, theirs = by_type(got["vm3"], req_type), by_type(got["vm3"], reply_type)
        ours = through_handler(lab, "lsp-vm3", request)
        assert ours.hex() == theirs.hex(), (req_type, ours.hex(), theirs.hex())

    # one run: ovnbpf's reply to vm1 is OVN's to vm3 with the client's own fields swapped
    vm1, vm3 = topo.vm_named("vm1"), topo.vm_named("vm3")
    for req_type, reply_type in ((1, 2), (3, 5)):
        ours = by_type(got["vm1"], reply_type)
        theirs = as_if_for(by_type(got["vm3"], reply_type), vm1, by_type(got["vm1"], req_type))
        assert differing_bytes(ours, theirs) == [], (ours.hex(), theirs.hex())
        assert differing_bytes(ours, by_type(got["vm3"], reply_type)), "the swap is not vacuous"
    assert vm3.ip != vm1.ip


def nslookup(lab, vm, tmp: Path):
    """busybox nslookup of vm3.ovn.org (A) and 13.1.0.10.in-addr.arpa (PTR) against the router address,
    from `vm`: ({query: output}, the DNS frames captured at the VM)."""
    ns = lab.plan().vm_netns(vm)
    pcap = tmp / f"{vm}-dns.pcap"
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-U", "--immediate-mode", "-n", "-i",
                            "eth0", "-w", str(pcap), "udp port 53"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = {}
    try:
        cap.stderr.readline()
        for q in ("vm3.ovn.org", "13.1.0.10.in-addr.arpa"):
            r = subprocess.run(["ip", "netns", "exec", ns, "busybox", "nslookup", "-type=a" if "ovn" in q
                                else "-type=ptr", q, "10.0.1.1"], capture_output=True, text=True, timeout=60)
            out[q] = r.stdout + r.stderr
        time.sleep(1)
    finally:
        cap.terminate()
        cap.wait(timeout=10)
    from scapy.utils import rdpcap
    return out, [bytes(p) for p in rdpcap(str(pcap))]


def through_handler(lab, port, request, stages=("ls_in_dhcp_options", "ls_in_dhcp_response"),
                    action="put_dhcp_opts"):
    """The frame ovnbpf's punt handler makes of `request` at the port's `action` flow
    (ls_in_dhcp_options), carried through the response flow after it by the reference
    evaluator."""
    from controller.lflow.evaluator import run_actions
    from controller.lflow.parser import parse_actions
    from controller.punt import packets as P
    from controller.punt.event import CONSUME, STAGE_INGRESS, encode_event
    from controller.punt.handler import PuntHandler
    from controller.trace.sb import snapshot
    state = snapshot(lab.central().sb_remote)
    ls1 = next(d for d in state.datapaths if d.name == "ls1")
    lsp = next(p for p in state.ports if p.logical_port == port)
    mine = lambda f: f'inport == "{port}"' in f.match or stages[0] == "ls_in_dns_lookup"  # noqa: E731
    opts = next(f for f in state.flows if f.stage == stages[0] and mine(f) and action in f.actions
                and ls1.uuid in f.datapaths)
    v4 = request[12:14] == b"\x08\x00"
    resp = next(f for f in state.flows if f.stage == stages[1] and mine(f) and ls1.uuid in f.datapaths
                and ("ip4" in f.match + f.actions) == v4)
    fields = P.parse(request)
    fields.update({"dp": ls1.tunnel_key, "inport": lsp.tunnel_key})
    h = PuntHandler(state, {1: opts.uuid})
    r = h.handle_bytes(encode_event(CONSUME, 1, STAGE_INGRESS, fields, request))
    assert r.injections and r.injections[0].table == resp.table_id, (r, h.counters)
    inj = r.injections[0]
    pkt = P.parse(inj.frame, into={**P.blank_flow(), **inj.meta})
    names = {p.logical_port: p.tunnel_key for p in state.ports if p.datapath == ls1.uuid}
    verdict = run_actions(parse_actions(resp.actions), pkt, lambda n: names[n])
    assert verdict[0] == "output"
    return P.apply(inj.frame, pkt)


def as_if_for(reply, vm, request):
    """`reply` with the fields that name its client set to vm's and its request's."""
    b = bytearray(reply)
    mac = bytes.fromhex(vm.mac.replace(":", ""))
    bootp = 14 + 20 + 8
    b[0:6] = mac                                                     # eth.dst
    b[30:34] = vm.ip.ip.packed                                       # ip.dst
    b[bootp + 4:bootp + 10] = request[bootp + 4:bootp + 10]          # xid, secs
    b[bootp + 16:bootp + 20] = vm.ip.ip.packed                       # yiaddr
    b[bootp + 28:bootp + 34] = mac                                   # chaddr
    b[24:26] = b"\0\0"
    from controller.punt.packets import checksum
    b[24:26] = struct.pack("!H", checksum(bytes(b[14:34])))
    return bytes(b)


def differing_bytes(a, b):
    return [i for i in range(max(len(a), len(b))) if a[i:i + 1] != b[i:i + 1]]


# OVN 23.03 writes domain_search as one length byte + the text + 0: a proper DNS name only
# for a single label, which is what a client can read back
DHCP6 = {"dns_server": ["fd00::53"], "domain_search": "ovn"}
SCRIPT6 = """#!/bin/sh
# dhclient's script: record what the server gave (the address is the VM's already)
echo "reason=$reason ip6=$new_ip6_address dns=$new_dhcp6_name_servers search=$new_dhcp6_domain_search" >> "{out}"
"""


def dhclient6(lab, vm, tmp: Path):
    """ISC dhclient -6 (stateful) in `vm`: (its BOUND6 line, the DHCPv6 frames at the VM)."""
    ns = lab.plan().vm_netns(vm)
    script, out, pcap = tmp / "script6.sh", tmp / f"{vm}.out6", tmp / f"{vm}.pcap6"
    lease, pid = tmp / f"{vm}.leases6", tmp / f"{vm}.pid6"
    script.write_text(SCRIPT6.format(out=out))       # dhclient gives its script an env of its own
    script.chmod(0o755)
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-U", "--immediate-mode", "-n", "-i",
                            "eth0", "-w", str(pcap), "udp and (port 546 or port 547)"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        cap.stderr.readline()
        r = subprocess.run(["ip", "netns", "exec", ns, "dhclient", "-6", "-1", "-v", "-sf", str(script),
                            "-lf", str(lease), "-pf", str(pid), "eth0"],
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                           capture_output=True, text=True, timeout=90)
        time.sleep(1)
    finally:
        if pid.exists():                  # dhclient stays to renew: stop the one we started
            subprocess.run(["kill", pid.read_text().strip()])
        cap.terminate()
        cap.wait(timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    bound = [line for line in out.read_text().splitlines() if line.startswith("reason=BOUND6")]
    assert bound, out.read_text()
    from scapy.utils import rdpcap
    return bound[-1], [bytes(p) for p in rdpcap(str(pcap))]


def test_dhclient6_on_a_mixed6_lab_and_replies_byte_for_byte(make_lab, tmp_path, tmp):
    doc = yaml.safe_load((ROOT / "topologies" / "mixed6.yaml").read_text())
    doc["name"] = "mixed6-dhcp"
    doc.pop("underlay", None)
    doc["switches"]["ls1"]["dhcp6"] = DHCP6
    path = tmp_path / "mixed6-dhcp.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    lab = make_lab(path, lab_name())
    got = {}
    for name in ("vm1", "vm3"):                    # hv1 ovnbpf, hv2 OVS
        line, frames = dhclient6(lab, name, tmp)
        ip6 = lab.plan().topo.vm_named(name).ip6.ip
        assert f"ip6={ip6}" in line and "dns=fd00::53" in line and "search=ovn" in line, line
        got[name] = frames
    assert ctl(lab, "hv1")["punt"]["handled"].get("dhcpv6_reply", 0) >= 1
    # the same request: OVN's ADVERTISE and REPLY to vm3 come out of our handler
    for req_type, reply_type in ((1, 2), (3, 7)):
        request = next(f for f in got["vm3"] if f[62] == req_type)
        theirs = next(f for f in got["vm3"] if f[62] == reply_type)
        ours = through_handler(lab, "lsp-vm3", request, ("ls_in_dhcp_options", "ls_in_dhcp_response"),
                               "put_dhcpv6_opts")
        assert ours.hex() == theirs.hex(), (req_type, ours.hex(), theirs.hex())
