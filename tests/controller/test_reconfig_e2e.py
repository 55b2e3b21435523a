"""`ovnbpf controller` follows its local config at run time, as ovn-controller does
(controller/chassisd/reconfig.py): ovn-remote, the SSL table, the probe interval,
ovn-encap-ip, a refused encap type, system-id. One two-chassis lab (both ovnbpf, an SB
reachable over ssl: and its unix socket; real ovsdb-servers, northd, ovn-nbctl); pings
cross the eBPF datapath only. Every test puts hv1's config back."""
import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from topologies.lab import netns
from topologies.lab.chassis import UPLINK
from topologies.lab.proc import run, wait_for

from tests.conftest import running_lab
from tests.controller.traffic import background_ping, loss, status
from tests.controller.test_sb_resilience_e2e import ebpf_topology, new_port_works

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    name = os.environ.get("OVNBPF_TEST_RECONFIG", "cf1")
    with running_lab(name, ebpf_topology(tmp_path_factory.mktemp(name), name,
                                         sb_ssl=True)) as lab:
        yield lab


def hv1(lab):
    return next(n for n in lab.nodes() if n.name == "hv1")


def external_id(node, key):
    return node.vsctl("get", "Open_vSwitch", ".", f"external_ids:{key}").strip().strip('"')


def set_ids(node, **ids):
    node.vsctl("set", "Open_vSwitch", ".",
               *(f'external_ids:{k.replace("_", "-")}="{v}"' for k, v in ids.items()))


def reconnected(lab, change, what):
    """Make `change`, then wait until hv1 has a newer SB connection and is monitoring (the
    status file may still say connected for a moment after the switch began)."""
    before = status(lab, "hv1")["sb"]["connections"]
    change()
    wait_for(lambda: (s := status(lab, "hv1")["sb"])["connected"] and s["connections"] > before,
             timeout=20, interval=0.05, what=what)


def log_line(node, text, after=0):
    """The first line of the node's controller log (from byte `after`) holding `text`."""
    data = (node.rundir / "ovnbpf-controller.log").read_text()[after:]
    return next((line for line in data.splitlines() if text in line), None)


def log_size(node):
    return (node.rundir / "ovnbpf-controller.log").stat().st_size


def encap_of(lab, chassis):
    return lab.central().sbctl("--bare", "--columns=ip", "find", "Encap",
                               f"chassis_name={chassis}").strip()


def test_probe_interval_is_applied_to_the_live_session(lab):
    node = hv1(lab)
    at = log_size(node)
    before = status(lab, "hv1")["sb"]["connections"]
    try:
        set_ids(node, ovn_remote_probe_interval=30000)
        line = wait_for(lambda: log_line(node, "ovn-remote-probe-interval", at), timeout=10,
                        interval=0.1, what="the probe interval in the log")
        assert "probes every 30000 ms" in line
        assert status(lab, "hv1")["config"]["probe_interval_ms"] == 30000
        assert status(lab, "hv1")["sb"]["connections"] == before, "no reconnect for that"
        ctl = subprocess.run([str(Path(sys.executable).with_name("ovnbpf")), "ctl", "--lab",
                              lab.name, "--chassis", "hv1"], capture_output=True, text=True,
                             timeout=30).stdout
        assert "config: system-id hv1, encap geneve" in ctl and "probe interval 30000" in ctl
    finally:
        node.vsctl("remove", "Open_vSwitch", ".", "external_ids", "ovn-remote-probe-interval")
    wait_for(lambda: status(lab, "hv1")["config"]["probe_interval_ms"] is None, timeout=10,
             interval=0.1, what="the default probe interval back")


def test_ovn_remote_change_reconnects_without_losing_a_packet(lab):
    """ssl: -> the same SB's unix socket, under 100 pps across chassis; then back."""
    node = hv1(lab)
    central = lab.central()
    ssl = external_id(node, "ovn-remote")
    unix = central.sb_remote
    assert ssl.startswith("ssl:") and unix.startswith("unix:")
    before = status(lab, "hv1")
    probe = background_ping(lab, "vm1", "10.0.1.13", count=600)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        set_ids(node, ovn_remote=unix)
        wait_for(lambda: (s := status(lab, "hv1")["sb"])["connected"] and s["remote"] == unix
                 and s["connections"] > before["sb"]["connections"],
                 timeout=20, interval=0.05, what="hv1 connected to the new remote")
        took = time.monotonic() - t0
        sent, lost = loss(probe)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    after = status(lab, "hv1")
    print(f"\n[figure] ovn-remote {ssl} -> {unix} under 100 pps: {sent} sent, {lost} lost; "
          f"monitoring the new remote {took:.2f} s after the change; connections "
          f"{before['sb']['connections']} -> {after['sb']['connections']}, full resyncs "
          f"{before['sb']['full_resyncs']} -> {after['sb']['full_resyncs']}, sync bytes "
          f"{after['sb']['sync_bytes']}")
    assert sent == 600 and lost == 0
    assert after["sb"]["member"] == unix and after["config"]["remote"] == unix
    assert after["counters"]["recompiles"] == before["counters"]["recompiles"]
    assert after["sb"]["full_resyncs"] == before["sb"]["full_resyncs"] + 1, \
        "a single ovsdb-server keeps no history: the resync is counted as a full one"
    assert new_port_works(lab, "vm9", 9, chassis="hv1"), "a port added after the change works"
    reconnected(lab, lambda: set_ids(node, ovn_remote=ssl), "hv1 back on ssl")


def test_a_remote_that_does_not_answer_is_refused_and_the_session_stays(lab):
    node = hv1(lab)
    good = external_id(node, "ovn-remote")
    bad = "tcp:127.0.0.1:1"
    at = log_size(node)
    try:
        set_ids(node, ovn_remote=bad)
        line = wait_for(lambda: log_line(node, "local config:", at), timeout=10, interval=0.1,
                        what="the refusal in the log")
        print(f"\n[log] {line}")
        assert "refused" in line and bad in line and "the last good config stays" in line
        st = status(lab, "hv1")
        assert st["sb"]["connected"] and st["sb"]["remote"] == good
        assert st["config"]["waiting"] == ["session"] and "refused" in st["config"]["problem"]
        assert lab.ping("vm1", "10.0.1.13")
    finally:
        set_ids(node, ovn_remote=good)
    wait_for(lambda: status(lab, "hv1")["config"]["problem"] is None, timeout=10,
             interval=0.1, what="the problem cleared")


def test_invalid_encap_type_and_missing_key_keep_the_last_good_config(lab):
    node = hv1(lab)
    ip = encap_of(lab, "hv1")
    probe = background_ping(lab, "vm1", "10.0.1.13", count=300)
    at = log_size(node)
    try:
        set_ids(node, ovn_encap_type="vxlan")
        line = wait_for(lambda: log_line(node, "only geneve is supported", at), timeout=10,
                        interval=0.1, what="the refusal in the log")
        print(f"\n[log] {line}")
        assert "the last good config stays in effect" in line
        # the status file follows within a second (the log line comes first)
        wait_for(lambda: "only geneve" in (status(lab, "hv1")["config"]["problem"] or ""),
                 timeout=5, interval=0.1, what="the problem in the status file")
        assert status(lab, "hv1")["config"]["encap_type"] == "geneve"
        node.vsctl("remove", "Open_vSwitch", ".", "external_ids", "ovn-encap-ip")
        wait_for(lambda: log_line(node, "lacks ovn-encap-ip", at), timeout=10, interval=0.1,
                 what="the missing key in the log")
        sent, lost = loss(probe)
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
        set_ids(node, ovn_encap_type="geneve", ovn_encap_ip=ip)
    print(f"[figure] bad encap values under 100 pps: {sent} sent, {lost} lost")
    assert sent == 300 and lost == 0
    assert encap_of(lab, "hv1") == ip, "the SB Encap row was never touched"
    wait_for(lambda: status(lab, "hv1")["config"]["problem"] is None, timeout=10,
             interval=0.1, what="the problem cleared")


def test_encap_ip_change_updates_the_sb_and_peers_follow(lab):
    node = hv1(lab)
    old = external_id(node, "ovn-encap-ip")
    net = ipaddress.IPv4Interface(f"{old}/{node.prefixlen}").network
    new = str(net.network_address + 201)
    node.run(["ip", "addr", "add", f"{new}/{node.prefixlen}", "dev", UPLINK])
    probe = background_ping(lab, "vm1", "10.0.1.13", count=600)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        set_ids(node, ovn_encap_ip=new)
        wait_for(lambda: encap_of(lab, "hv1") == new, timeout=10, interval=0.05,
                 what="the SB Encap row with the new IP")
        wait_for(lambda: new in status(lab, "hv2")["tunnels"].values(), timeout=10,
                 interval=0.05, what="hv2's tunnel to the new IP")
        took = time.monotonic() - t0
        sent, lost = loss(probe)
        print(f"\n[figure] ovn-encap-ip {old} -> {new} under 100 pps: {sent} sent, {lost} "
              f"lost; hv2 tunnels to it {took:.2f} s after the change")
        st = status(lab, "hv1")
        assert st["config"]["encap_ip"] == new and st["config"]["uplink"] == UPLINK
        assert lab.ping("vm1", "10.0.1.13") and lab.ping("vm3", "10.0.1.11"), \
            "across chassis, both ways, at the new IP"
        assert lab.ping("vm5", "10.0.2.16"), "routed, hv2 -> hv1"
        assert lost <= 20, "at most the packets in flight to the old IP"
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
        set_ids(node, ovn_encap_ip=old)
        wait_for(lambda: encap_of(lab, "hv1") == old, timeout=10, interval=0.05,
                 what="the old encap IP back")
        node.run(["ip", "addr", "del", f"{new}/{node.prefixlen}", "dev", UPLINK])
    assert lab.ping("vm1", "10.0.1.13")


def port_chassis(lab, port):
    out = lab.central().sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                              f"logical_port={port}").strip()
    return lab.central().sbctl("--bare", "--columns=name", "list", "Chassis", out).strip() \
        if out else None


def test_system_id_change_moves_our_ports_to_the_new_chassis(lab):
    node = hv1(lab)
    central = lab.central()
    probe = background_ping(lab, "vm3", "10.0.1.11", count=600)     # hv2 -> hv1
    try:
        time.sleep(0.5)
        set_ids(node, system_id="cfhv1b")
        wait_for(lambda: "cfhv1b" in central.chassis_names() and "hv1" not in central.chassis_names(),
                 timeout=10, interval=0.05, what="Chassis cfhv1b instead of hv1")
        wait_for(lambda: port_chassis(lab, "lsp-vm1") == "cfhv1b", timeout=10, interval=0.05,
                 what="lsp-vm1 bound to cfhv1b")
        sent, lost = loss(probe)
        print(f"\n[figure] system-id hv1 -> cfhv1b under 100 pps: {sent} sent, {lost} lost")
        assert sent == 600 and lost == 0
        st = status(lab, "hv1")
        assert st["chassis"] == "cfhv1b" and st["config"]["system_id"] == "cfhv1b"
        assert encap_of(lab, "cfhv1b") == node.encap_ip and encap_of(lab, "hv1") == ""
        priv = central.sbctl("--bare", "--columns=name", "list", "Chassis_Private").split()
        assert "cfhv1b" in priv and "hv1" not in priv
        # nb_cfg is acked from the new Chassis_Private: --wait=hv returns
        central.nbctl("--wait=hv", "--timeout=20", "sync", timeout=30)
        assert lab.ping("vm1", "10.0.2.15"), "routed, hv1 -> hv2"
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
        set_ids(node, system_id="hv1")
    wait_for(lambda: "hv1" in central.chassis_names() and "cfhv1b" not in central.chassis_names(),
             timeout=10, interval=0.05, what="Chassis hv1 back")
    wait_for(lambda: port_chassis(lab, "lsp-vm1") == "hv1", timeout=10, interval=0.05,
             what="lsp-vm1 bound to hv1 again")
    assert lab.ping("vm3", "10.0.1.11")


def test_ssl_table_changes_a_wrong_ca_is_refused_a_new_certificate_applied(lab, tmp_path):
    """The SSL table names another PKI's files: refused with the reason, the session
    stays. Then a new key and certificate from the lab's CA (a rotation): reconnects."""
    node = hv1(lab)
    central = lab.central()
    right = [str(p) for p in central.ssl_files("hv1")]
    other = tmp_path / "other-pki"
    central.make_ca(pki=other, cn="some other CA")
    wrong = [str(p) for p in central.issue_cert("hv1", pki=other)]
    rotated = [str(p) for p in central.issue_cert("cfhv1-rotated")]
    before = status(lab, "hv1")["sb"]
    at = log_size(node)
    try:
        node.vsctl("set-ssl", *wrong)
        line = wait_for(lambda: log_line(node, "local config:", at), timeout=15, interval=0.1,
                        what="the refusal in the log")
        print(f"\n[log] {line}")
        assert "SSL table" in line and "refuse the server's certificate" in line
        st = status(lab, "hv1")
        assert st["sb"]["connected"] and st["sb"]["connections"] == before["connections"]
        assert st["config"]["ssl"] == right and "certificate" in st["config"]["problem"]
        assert lab.ping("vm1", "10.0.1.13")
        node.vsctl("set-ssl", *rotated)
        wait_for(lambda: (s := status(lab, "hv1"))["config"]["ssl"] == rotated
                 and s["sb"]["connected"] and s["sb"]["connections"] > before["connections"],
                 timeout=20, interval=0.05, what="hv1 reconnected with the new certificate")
        assert status(lab, "hv1")["config"]["problem"] is None
        assert lab.ping("vm1", "10.0.1.13")
    finally:
        reconnected(lab, lambda: node.vsctl("set-ssl", *right), "hv1 back on its own certificate")
    assert status(lab, "hv1")["config"]["ssl"] == right


def test_encap_ip_on_another_device_moves_the_underlay(lab):
    """The encap IP picks the underlay device: a new IP on a second uplink (its own veth
    into the underlay bridge, the route to hv2 through it) moves decapsulation there."""
    node = hv1(lab)
    plan = lab.plan()
    old = external_id(node, "ovn-encap-ip")
    net = ipaddress.IPv4Interface(f"{old}/{node.prefixlen}").network
    new = str(net.network_address + 202)
    hv2_ip = next(n.encap_ip for n in lab.nodes() if n.name == "hv2")
    root_dev, dev = f"{lab.name}-u9", "uplink2"

    def xdp_on(name):
        return "xdp" in node.run(["ip", "-d", "link", "show", "dev", name])

    sysctl = "net.ipv4.conf.all.arp_ignore"
    arp_ignore = node.run(["sysctl", "-n", sysctl]).strip()
    netns.veth_pair(root_dev, dev, peer_netns=node.netns)
    try:
        # only the device holding an address answers ARP for it (no ARP flux), and
        # the route to hv2 leaves through the new device
        node.run(["sysctl", "-qw", f"{sysctl}=1"])
        run(["ip", "link", "set", root_dev, "master", plan.bridge, "up"])
        run(["ethtool", "-K", root_dev, "gro", "on"])
        netns.tx_checksum_off(dev, node.netns)
        node.run(["ip", "link", "set", dev, "up"])
        node.run(["ip", "addr", "add", f"{new}/{node.prefixlen}", "dev", dev])
        node.run(["ip", "route", "add", f"{hv2_ip}/32", "dev", dev, "src", new])
        set_ids(node, ovn_encap_ip=new)
        wait_for(lambda: status(lab, "hv1")["config"]["uplink"] == dev, timeout=10,
                 interval=0.05, what="hv1's underlay moved to uplink2")
        wait_for(lambda: new in status(lab, "hv2")["tunnels"].values(), timeout=10,
                 interval=0.05, what="hv2's tunnel to the new IP")
        assert encap_of(lab, "hv1") == new
        assert xdp_on(dev) and not xdp_on(UPLINK)
        assert lab.ping("vm1", "10.0.1.13", count=3) and lab.ping("vm3", "10.0.1.11", count=3)
        assert lab.ping("vm5", "10.0.2.16"), "routed, hv2 -> hv1"
    finally:
        node.run(["ip", "route", "del", f"{hv2_ip}/32"], check=False)
        node.run(["sysctl", "-qw", f"{sysctl}={arp_ignore}"], check=False)
        set_ids(node, ovn_encap_ip=old)
        try:
            wait_for(lambda: status(lab, "hv1")["config"]["uplink"] == UPLINK, timeout=10,
                     interval=0.05, what="hv1's underlay back on uplink")
        finally:
            netns.link_del(root_dev)
    assert xdp_on(UPLINK) and encap_of(lab, "hv1") == old
    assert lab.ping("vm1", "10.0.1.13") and lab.ping("vm3", "10.0.1.11")
