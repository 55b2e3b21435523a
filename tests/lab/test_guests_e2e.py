"""Guests as real VMs are: every VM pair carries TCP (a transfer large enough for GSO and
many full-size segments), UDP (small and near-MTU datagrams) and ping, on one chassis,
across chassis and through the router, with the guests' offloads at the kernel's defaults
(tx checksum, TSO/GSO, IPv6 on) and, on two VMs of each lab, turned off by the topology
(`offloads: false`): both directions of every on/off combination. Labs: `ebpf` (two ovnbpf
chassis) and `mixed` (OVS userspace reference in the middle)."""
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from topologies.lab.chassis import ping
from topologies.lab.proc import run
from tests.conftest import running_lab

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]

AGENT = str(Path(__file__).with_name("guest_agent.py"))
PORT = 5301
NBYTES = 4 << 20
OFFLOADS_OFF = ("vm2", "vm5")


def _topology(tmp_path_factory, base):
    doc = yaml.safe_load((Path(__file__).parents[2] / "topologies" / f"{base}.yaml").read_text())
    for vm in OFFLOADS_OFF:
        doc["vms"][vm]["offloads"] = False
    path = tmp_path_factory.mktemp(base) / f"{base}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _agents(lab):
    procs = []
    for vm in lab.plan().topo.vms:
        p = subprocess.Popen(["ip", "netns", "exec", lab.plan().vm_netns(vm.name), sys.executable,
                              AGENT, "serve", str(PORT)], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout.readline().strip() == "ready"
    return procs


def _client(lab, vm, *args):
    r = subprocess.run(["ip", "netns", "exec", lab.plan().vm_netns(vm), sys.executable, AGENT,
                        *map(str, args)], capture_output=True, text=True, timeout=120)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


def all_pairs(lab):
    """{(src, dst): [what failed]} over every ordered VM pair."""
    vms = lab.plan().topo.vms
    procs = _agents(lab)
    try:
        failed = {}
        for a, b in itertools.permutations(vms, 2):
            dst = str(b.ip.ip)
            bad = []
            for what, args in (("tcp", ("tcp", dst, PORT, NBYTES)), ("udp", ("udp", dst, PORT))):
                ok, why = _client(lab, a.name, *args)
                if not ok:
                    bad.append(f"{what}: {why}")
            if not ping(lab.plan().vm_netns(a.name), dst, count=1, wait=2):
                bad.append("ping")
            if bad:
                failed[(a.name, b.name)] = bad
        return len(vms) * (len(vms) - 1), failed
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _offloads(lab, vm):
    out = run(["ethtool", "-k", "eth0"], netns=lab.plan().vm_netns(vm))
    return {k.strip(): v.split()[0] for k, v in
            (l.split(":", 1) for l in out.splitlines()[1:] if ":" in l)}


def _check(lab, kind, capsys):
    for vm in lab.plan().topo.vms:
        feats = _offloads(lab, vm.name)
        want = "off" if vm.name in OFFLOADS_OFF else "on"
        assert feats["tx-checksumming"] == want, (vm.name, feats["tx-checksumming"])
        # GSO as asked (TSO itself the kernel fixes off on a veth whose peer has XDP)
        assert feats["generic-segmentation-offload"] == want, (vm.name, feats)
        v6 = run(["sysctl", "-n", "net.ipv6.conf.eth0.disable_ipv6"],
                 netns=lab.plan().vm_netns(vm.name)).strip()
        assert v6 == "0", f"{vm.name}: IPv6 is on in a guest by default"
    tried, failed = all_pairs(lab)
    with capsys.disabled():
        print(f"\n[figure] {kind} lab, guests at default offloads (off on "
              f"{', '.join(OFFLOADS_OFF)}): {tried - len(failed)}/{tried} VM pairs carry "
              f"TCP ({NBYTES >> 20} MiB) + UDP + ping")
        for pair, bad in sorted(failed.items()):
            print(f"  {pair[0]} -> {pair[1]}: {'; '.join(bad)}")
    assert failed == {}


def _ctl_drops(lab, chassis):
    ovnbpf = Path(sys.executable).with_name("ovnbpf")
    out = subprocess.run([str(ovnbpf), "ctl", "--lab", lab.name, "--chassis", chassis, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["live"]["drops"]


def _check_mtu(lab):
    """The VM MTU is the underlay's minus Geneve's 58 bytes (OVN's rule); a guest that
    raises its MTU past that sends frames the tunnel cannot carry: counted, not lost."""
    hv1 = next(n for n in lab.nodes() if n.name == "hv1")
    ns = lab.plan().vm_netns("vm1")
    assert int(run(["cat", "/sys/class/net/eth0/mtu"], netns=ns)) == hv1.uplink_mtu() - 58
    before = _ctl_drops(lab, "hv1").get("ENCAP_TOO_BIG", 0)
    run(["ip", "link", "set", "eth0", "mtu", str(hv1.uplink_mtu())], netns=ns)
    try:
        run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "-M", "do", "-s", "1472", "10.0.1.13"],
            netns=ns, check=False)
        assert _ctl_drops(lab, "hv1").get("ENCAP_TOO_BIG", 0) >= before + 2
    finally:
        run(["ip", "link", "set", "eth0", "mtu", str(hv1.uplink_mtu() - 58)], netns=ns)


def test_ebpf_lab_guests_all_pairs(tmp_path_factory, capsys):
    with running_lab("g1", _topology(tmp_path_factory, "ebpf")) as lab:
        _check_mtu(lab)
        _check(lab, "ebpf", capsys)


def test_mixed_lab_guests_all_pairs(tmp_path_factory, capsys):
    with running_lab("g2", _topology(tmp_path_factory, "mixed")) as lab:
        _check(lab, "mixed", capsys)
