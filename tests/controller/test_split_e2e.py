"""The pipeline split in real labs: three ovnbpf chassis with `egress_on: ingress`
(topologies/split.yaml) forward every VM pair, mark their unicast, drop what a real
to-lport ACL denies on the sender (never on the underlay), and flood as in egress mode; in a mixed lab the mark goes only to the other ovnbpf chassis, never to
the OVS one, and every pair still answers."""
import os
import time

import pytest
import yaml

from topologies.lab import topology
from topologies.lab.demo import _capture, _count, broadcast_copies
from tests.conftest import running_lab
from tests.controller.traffic import ctl

pytestmark = [pytest.mark.root, pytest.mark.bpf, pytest.mark.e2e]


@pytest.fixture(scope="module")
def split_lab():
    with running_lab(os.environ.get("OVNBPF_TEST_SPLIT", "sp1"), "split") as lab:
        yield lab


def test_split_lab_every_pair(split_lab, capsys):
    tried, failed = split_lab.ping_all_pairs()
    with capsys.disabled():
        print(f"\n[figure] split lab (egress on the sender): {tried - len(failed)}/{tried} "
              "VM pairs answer")
    assert [(a.name, b.name) for a, b in failed] == []


def test_split_lab_marks_unicast(split_lab):
    """After the pings: every chassis is in ingress mode, marks toward both others, and
    sent and received marked packets."""
    for hv in ("hv1", "hv2", "hv3"):
        s = ctl(split_lab, hv)
        assert s["egress_on"] == "ingress"
        assert len(s["egress_done_peers"]) == 2, s["egress_done_peers"]
        # both others say they send the bit: it is honoured from them, never ignored
        assert len(s["egress_done_trusted"]) == 2, s["egress_done_trusted"]
        assert s["live"]["stats"].get("rx_egress_done_untrusted", 0) == 0, s["live"]["stats"]
        assert s["live"]["stats"]["tx_egress_done"] > 0, s["live"]["stats"]
        assert s["live"]["stats"]["rx_egress_done"] > 0, s["live"]["stats"]


def _acl_hits(live):
    return sum(h["hits"] for h in live["lflows"]
               if h["stage"] == "ls_out_acl" and '"lsp-vm3"' in h["match"]
               and "icmp4" in h["match"])


def test_split_lab_to_lport_acl_drops_on_the_sender(split_lab):
    """A real to-lport ACL (northd's ls_out_acl) denying ICMP to vm3 (hv2): vm1 (hv1)
    pings fail, hv1 counts the policy drops, and nothing more crosses to hv2."""
    central = split_lab.plan().central()
    central.nbctl("--wait=hv", "acl-add", "ls1", "to-lport", "1001",
                  'outport == "lsp-vm3" && icmp4', "drop")
    try:
        # the guests run IPv6 (RS, DAD, MLD cross the underlay now and then): count only
        # Geneve-carried ICMPv4 on the underlay (inner frame at udp[24], IPv4 proto at +23)
        cap = _capture(None, split_lab.plan().bridge,
                       "udp port 6081 and udp[36:2] = 0x0800 and udp[47] = 1")
        time.sleep(1.0)                                   # tcpdump is listening
        a1 = ctl(split_lab, "hv1", top=10000)["live"]
        assert not split_lab.ping("vm1", "10.0.1.13", count=3)
        b1 = ctl(split_lab, "hv1", top=10000)["live"]
        # the ACL's own lflow dropped the three echoes on hv1 (POLICY also counts what
        # other drop flows do to the guests' IPv6 chatter meanwhile)
        assert _acl_hits(b1) - _acl_hits(a1) == 3, b1["lflows"]
        assert b1["drops"].get("POLICY", 0) - a1["drops"].get("POLICY", 0) >= 3, b1["drops"]
        assert _count(cap) == 0, "an ICMP echo crossed the underlay"
    finally:
        central.nbctl("--wait=hv", "acl-del", "ls1")
    assert split_lab.ping("vm1", "10.0.1.13")


@pytest.mark.parametrize("src", ["vm1", "vm7"])
def test_split_lab_broadcast_once_per_remote_chassis(split_lab, src):
    copies = broadcast_copies(split_lab, split_lab.status(), src=src)
    assert copies.pop("underlay") == 2                    # two remote chassis have members
    assert copies and all(n == 1 for n in copies.values()), copies


def test_mixed_lab_in_ingress_mode_marks_only_ovnbpf_peers(tmp_path, capsys):
    """mixed.yaml with hv1 and hv3 (ovnbpf) in ingress mode, hv2 OVS: all pairs answer;
    the ovnbpf chassis mark toward each other only."""
    data = yaml.safe_load(topology.resolve_path("mixed").read_text())
    for spec in data["chassis"].values():
        if spec["kind"] == "ovnbpf":
            spec["egress_on"] = "ingress"
    data["name"] = "split-mixed"
    data["underlay"].pop("subnet", None)
    path = tmp_path / "split-mixed.yaml"
    path.write_text(yaml.safe_dump(data))
    with running_lab(os.environ.get("OVNBPF_TEST_SPLIT_MIXED", "sp2"), path) as lab:
        tried, failed = lab.ping_all_pairs()
        with capsys.disabled():
            print(f"\n[figure] mixed lab, ovnbpf chassis in ingress mode: "
                  f"{tried - len(failed)}/{tried} VM pairs answer")
        assert [(a.name, b.name) for a, b in failed] == []
        hv1, hv3 = ctl(lab, "hv1"), ctl(lab, "hv3")
        ids = hv1["chassis_ids"]
        assert hv1["egress_done_peers"] == [ids["hv3"]]
        assert hv3["egress_done_peers"] == [hv3["chassis_ids"]["hv1"]]
        assert hv1["egress_done_trusted"] == [ids["hv3"]]
        assert hv1["live"]["stats"]["tx_egress_done"] > 0
