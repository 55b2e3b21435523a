"""controller.packettest: the documented packet-test API (Pipeline.send -> Result) against
a central alone (the plugin's `ovn_sb`: chassis as SB rows), and the lab-name lookup."""
import os
import subprocess
from pathlib import Path

import pytest
from scapy.layers.l2 import ARP, Ether

from controller import rundir
from controller.packettest import PacketTestError, Pipeline

VM1, VM2, VM3 = ("0a:00:00:00:01:0b", "10.0.1.11"), ("0a:00:00:00:01:0c", "10.0.1.12"), \
    ("0a:00:00:00:01:0d", "10.0.1.13")
LR_MAC = "02:00:00:00:01:01"


def test_lab_sb_remote_names_the_labs_that_are_up(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "RUN_ROOT", tmp_path)
    (tmp_path / "labs/v1/central").mkdir(parents=True)
    (tmp_path / "labs/v1/central/sb.sock").touch()
    for i in (1, 2, 3):
        (tmp_path / "labs/v2/central").mkdir(parents=True, exist_ok=True)
        (tmp_path / f"labs/v2/central/sb{i}.sock").touch()
    assert rundir.lab_sb_remote("v1") == f"unix:{tmp_path}/labs/v1/central/sb.sock"
    assert rundir.lab_sb_remote("v2").split(",") == [
        f"unix:{tmp_path}/labs/v2/central/sb{i}.sock" for i in (1, 2, 3)]
    with pytest.raises(LookupError, match=r"no lab named 'v9' is up \(labs up: v1, v2\)"):
        rundir.lab_sb_remote("v9")


@pytest.fixture
def one_switch(ovn_sb):
    """ls1 with vm1, vm2 (bound to hv1), vm3 (bound nowhere) and a router port."""
    nb = ovn_sb.nbctl
    nb("ls-add", "ls1", "--", "lr-add", "lr1", "--", "lrp-add", "lr1", "lr1-ls1", LR_MAC, "10.0.1.1/24",
       "--", "lsp-add", "ls1", "ls1-lr1", "--", "lsp-set-type", "ls1-lr1", "router",
       "--", "lsp-set-addresses", "ls1-lr1", "router",
       "--", "lsp-set-options", "ls1-lr1", "router-port=lr1-ls1")
    for name, (mac, ip) in (("vm1", VM1), ("vm2", VM2), ("vm3", VM3)):
        nb("lsp-add", "ls1", name, "--", "lsp-set-addresses", name, f"{mac} {ip}")
    ovn_sb.add_chassis("hv1")
    ovn_sb.bind("vm1", "hv1")
    ovn_sb.bind("vm2", "hv1")
    return ovn_sb


def _netns():
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split())


@pytest.mark.root
@pytest.mark.bpf
def test_send_pads_answers_and_cleans_up(one_switch, tmp_path, monkeypatch):
    # a running lab is found by name: here a lab directory whose SB is this central's
    monkeypatch.setattr(rundir, "RUN_ROOT", tmp_path)
    (tmp_path / "labs/v1/central").mkdir(parents=True)
    os.symlink(one_switch.sb_remote.removeprefix("unix:"), tmp_path / "labs/v1/central/sb.sock")
    one_switch.sync()
    with Pipeline.of_lab("v1") as pipeline:
        # a 42-byte ARP request for the router's IP: padded to 60, answered by the router
        who_has = Ether(src=VM1[0], dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=VM1[0], psrc=VM1[1], pdst="10.0.1.1")
        assert len(bytes(who_has)) == 42
        r = pipeline.send("vm1", who_has)
        assert r.trace.input_frame[:42] == bytes(who_has) and len(r.trace.input_frame) == 60
        [reply] = r.to("vm1")
        assert reply.chassis == "hv1" and reply.packet[ARP].op == 2
        assert reply.packet[ARP].hwsrc == LR_MAC and reply.packet[ARP].psrc == "10.0.1.1"

        # unicast between two VMs of the chassis
        r = pipeline.send("vm1", Ether(src=VM1[0], dst=VM2[0], type=0x88b5) / (b"x" * 50))
        assert r.ports == ["vm2"] and not r.drops
        assert r.delivered[0].raw[14:64] == b"x" * 50

        # vm3 is bound nowhere: say where it enters
        with pytest.raises(PacketTestError, match="not bound to a chassis"):
            pipeline.send("vm3", Ether(src=VM3[0], dst=VM1[0]))
        r = pipeline.send("vm3", Ether(src=VM3[0], dst=VM1[0], type=0x88b5), chassis="hv1")
        assert r.ports == ["vm1"]
        with pytest.raises(PacketTestError, match='"ls1-lr1" is a patch port'):
            pipeline.send("ls1-lr1", Ether(src=LR_MAC, dst=VM1[0]))
        with pytest.raises(PacketTestError, match="nope: unknown logical port"):
            pipeline.send("nope", Ether())
        made_ns, made_pins = pipeline._walker.box.netns, Path(pipeline._walker.box.pin_root)
        assert made_ns in _netns() and made_pins.exists()
    assert made_ns not in _netns() and not made_pins.exists()


@pytest.mark.root
@pytest.mark.bpf
def test_drop_names_its_lflow_and_refresh_follows_the_nb(one_switch, ovn_pipeline):
    assert one_switch.nbctl("get", "Logical_Switch_Port", "vm2", "up").strip() == "true", \
        "bind() marks the port up, as a claiming chassis does"
    one_switch.nbctl("lsp-set-port-security", "vm2", f"{VM2[0]} {VM2[1]}")
    one_switch.sync()
    pipeline = ovn_pipeline(sb=one_switch.sb_remote)
    spoofed = Ether(src="0a:00:00:00:01:99", dst=VM1[0], type=0x88b5)

    r = pipeline.send("vm2", spoofed)
    assert r.delivered == []
    [drop] = r.drops
    assert (drop.chassis, drop.reason, drop.pipeline) == ("hv1", "POLICY", "ingress")
    flows = {f.uuid: f for f in pipeline.state.flows}
    assert flows[drop.lflow].stage == drop.stage and flows[drop.lflow].match == drop.match
    assert "drop;" in flows[drop.lflow].actions and flows[drop.lflow].table_id == drop.table
    assert "dropped on hv1: POLICY" in str(r)

    one_switch.nbctl("lsp-set-port-security", "vm2")
    one_switch.sync()
    assert pipeline.send("vm2", spoofed).drops, "the SB is read once, until refresh()"
    pipeline.refresh()
    r = pipeline.send("vm2", spoofed)
    assert r.ports == ["vm1"] and not r.drops


def test_the_worked_example_in_the_docs_is_the_one_ci_runs():
    """docs/packet-tests.md quotes docs/examples/test_packet_api.py: every quoted line is
    in the file `make test` runs (the quote may leave lines out, marked `...`)."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs/packet-tests.md").read_text()
    example = (root / "docs/examples/test_packet_api.py").read_text().splitlines()
    block = doc.split("## A worked example", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    quoted = [l for l in block.splitlines() if l.strip() and l.strip() != "..."]
    assert len(quoted) > 30
    missing = [l for l in quoted if l not in example]
    assert not missing, missing


def test_a_port_hosted_somewhere_new_reloads_that_chassis(monkeypatch):
    """Which VIFs a chassis has is part of its programs: sending from a second unbound
    port on a chassis that already hosts one must rebuild (pure logic; Walker stubbed)."""
    from types import SimpleNamespace
    from controller import packettest

    made = []

    class RecordingWalker:
        def __init__(self, state, stages, hosts):
            made.append({c: set(p) for c, p in hosts.items()})

        def close(self):
            pass

    monkeypatch.setattr(packettest, "Walker", RecordingWalker)
    pipeline = Pipeline.__new__(Pipeline)
    pipeline.state, pipeline._walker, pipeline._hosts = None, None, {}

    def where(port, bound, chassis):
        return SimpleNamespace(chassis=chassis, inport=SimpleNamespace(logical_port=port, chassis=bound))

    pipeline._walker_for(where("vm1", "hv1", "hv1"))
    pipeline._walker_for(where("vm3", None, "hv1"))
    pipeline._walker_for(where("vm3", None, "hv1"))
    pipeline._walker_for(where("vm4", None, "hv1"))
    assert made == [{}, {"hv1": {"vm3"}}, {"hv1": {"vm3", "vm4"}}]
