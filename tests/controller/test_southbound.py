"""The Southbound edge against real ovsdb-server + ovn-northd: registration, claims,
nb_cfg, conditional monitoring."""
import pytest

from controller.db.southbound import Southbound
from topologies.lab.central import free_port_base

pytestmark = pytest.mark.root


def _topology(central, switches=2):
    cmds = []
    for i in range(1, switches + 1):
        cmds += ["--", "ls-add", f"sw{i}", "--", "lsp-add", f"sw{i}", f"p{i}a",
                 "--", "lsp-set-addresses", f"p{i}a", f"0a:00:00:00:{i:02x}:01 10.{i}.0.1",
                 "--", "lsp-add", f"sw{i}", f"p{i}b"]
    central.nbctl(*cmds[1:])
    central.nbctl("--wait=sb", "sync")


def _connect(central, name="hv1", conditional=True):
    sb = Southbound(central.sb_remote, name, conditional=conditional)
    sb.run_until(sb.connected, what="connection")
    return sb


def test_register_claim_release_and_wait_hv(ovn_central):
    _topology(ovn_central)
    sb = _connect(ovn_central)
    try:
        sb.register_chassis("geneve", "192.0.2.11")
        out = ovn_central.sbctl("--bare", "--columns=name,hostname", "list", "Chassis")
        assert "hv1" in out
        enc = ovn_central.sbctl("--bare", "--columns=type,ip", "list", "Encap")
        assert "geneve" in enc and "192.0.2.11" in enc
        sb.set_local(ifaces={"p1a"})
        sb.run_until(lambda: sb.snapshot().port_named("p1a") is not None, what="p1a's binding")
        sb.set_claims({"p1a"})
        sb.run_until(lambda: sb.snapshot().port_named("p1a").chassis == "hv1", what="claim")
        assert ovn_central.sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                                 "logical_port=p1a").strip() != ""
        # northd propagates up=true to the NB
        import time
        deadline = time.monotonic() + 5
        while ovn_central.nbctl("get", "Logical_Switch_Port", "p1a", "up").strip() != "true":
            assert time.monotonic() < deadline, "NB up=true"
            time.sleep(0.05)
        # --wait=hv returns once we acknowledge nb_cfg
        import subprocess
        before = sb.snapshot().nb_cfg
        waiter = subprocess.Popen(["ovn-nbctl", f"--db={ovn_central.nb_remote}", "--wait=hv",
                                   "--timeout=10", "sync"])
        sb.run_until(lambda: sb.snapshot().nb_cfg > before, what="nb_cfg bump")
        sb.ack_nb_cfg(sb.snapshot().nb_cfg)
        assert waiter.wait(timeout=10) == 0
        sb.set_claims(set())
        sb.run_until(lambda: sb.snapshot().port_named("p1a").chassis is None, what="release")
        sb.unregister_chassis()
        assert "hv1" not in ovn_central.sbctl("--bare", "--columns=name", "list", "Chassis")
    finally:
        sb.close()


def test_conditional_monitoring_sees_only_local_datapaths(ovn_central):
    _topology(ovn_central, switches=3)
    full = _connect(ovn_central, "hvfull", conditional=False)
    cond = _connect(ovn_central, "hvcond", conditional=True)
    try:
        full.run_until(lambda: len(full.snapshot().flows) > 0, what="flows")
        snap = full.snapshot()
        dps = {d.name: d.uuid for d in snap.datapaths}
        assert set(dps) == {"sw1", "sw2", "sw3"}
        assert cond.snapshot().flows == ()          # nothing local yet: no flows at all
        cond.set_local(datapaths={dps["sw2"]})
        # settled: sw2's groups came with the answer, their flows with the next one
        cond.run_until(lambda: cond.conditions_settled() and len(cond.snapshot().flows) > 0,
                       what="sw2 flows")
        got = cond.snapshot()
        assert all(f.datapaths == (dps["sw2"],) for f in got.flows if len(f.datapaths) == 1)
        assert {p.logical_port for p in got.ports} == {"p2a", "p2b"}
        sw2_flows = [f for f in snap.flows if dps["sw2"] in f.datapaths]
        assert len(got.flows) == len(sw2_flows) < len(snap.flows)
        # widening to sw3 brings its rows; narrowing back drops them
        cond.set_local(datapaths={dps["sw2"], dps["sw3"]})
        cond.run_until(lambda: {p.logical_port for p in cond.snapshot().ports} >= {"p3a"}, what="sw3 rows")
        cond.set_local(datapaths={dps["sw3"]})
        cond.run_until(lambda: {p.logical_port for p in cond.snapshot().ports} == {"p3a", "p3b"}, what="narrow")
    finally:
        full.close()
        cond.close()


def test_a_vif_on_a_served_switch_needs_no_round_trip(ovn_central):
    """A condition change that can bring nothing new (a VIF whose port is already in the
    view) leaves the view settled; one that can (another switch's port, a removed VIF)
    must be answered by the server first."""
    _topology(ovn_central, switches=3)
    full = _connect(ovn_central, "hvfull", conditional=False)
    cond = _connect(ovn_central, "hvcond", conditional=True)
    try:
        full.run_until(lambda: len(full.snapshot().datapaths) == 3, what="datapaths")
        dps = {d.name: d.uuid for d in full.snapshot().datapaths}
        cond.set_local(datapaths={dps["sw2"]})
        cond.run_until(cond.conditions_settled, what="sw2 conditions")
        cond.run_until(lambda: {p.logical_port for p in cond.snapshot().ports} == {"p2a", "p2b"},
                       what="sw2 ports")
        cond.set_local(ifaces={"p2a"})                 # in the view already
        assert cond.conditions_settled()
        cond.set_local(ifaces={"p2a", "p3a"})          # sw3's port: not in the view
        assert not cond.conditions_settled()
        cond.run_until(cond.conditions_settled, what="the p3a condition")
        assert "p3a" in {p.logical_port for p in cond.snapshot().ports}
        cond.set_local(ifaces={"p2a"})                 # a narrowing waits too
        assert not cond.conditions_settled()
        cond.run_until(cond.conditions_settled, what="the narrowing")
    finally:
        full.close()
        cond.close()


def test_conditional_monitoring_bytes_50_switches_one_local(ovn_central, capsys):
    """The figure for the issue: rows and bytes a chassis receives with and without
    conditions, 50 switches of which one is local. Conditions must cut both."""
    _topology(ovn_central, switches=50)
    full = _connect(ovn_central, "hvfull", conditional=False)
    cond = _connect(ovn_central, "hvcond", conditional=True)
    try:
        full.run_until(lambda: len(full.snapshot().datapaths) == 50, what="50 datapaths")
        snap = full.snapshot()
        sw7 = next(d.uuid for d in snap.datapaths if d.name == "sw7")
        cond.set_local(datapaths={sw7}, ifaces={"p7a"})
        want = len([f for f in snap.flows if sw7 in f.datapaths])
        cond.run_until(lambda: len(cond.snapshot().flows) == want, what="sw7 flows")
        got = cond.snapshot()
        assert {p.logical_port for p in got.ports} == {"p7a", "p7b"}
        assert not any(f.datapaths and sw7 not in f.datapaths for f in got.flows)
        rows = {"conditional": len(got.flows) + len(got.ports), "full": len(snap.flows) + len(snap.ports)}
        sent = {"conditional": cond.rx_bytes(), "full": full.rx_bytes()}
        with capsys.disabled():
            print(f"\n[figure] SB rows (flows+ports) {rows}; bytes received {sent}; "
                  f"ratio {sent['full'] / max(sent['conditional'], 1):.1f}x")
        # northd shares most flows between switches (Logical_DP_Group): the saving is in
        # the per-datapath and per-port rows, about 4x here
        assert rows["conditional"] * 3 < rows["full"]
        assert sent["conditional"] * 2 < sent["full"]
    finally:
        full.close()
        cond.close()


def test_set_remote_reconnects_to_another_address_keeping_the_replica(ovn_central):
    """ovn-remote changed at run time (controller/chassisd/reconfig.py): the same server
    at another address; a single ovsdb-server keeps no history, so a counted full resync."""
    from topologies.lab.proc import run
    _topology(ovn_central)
    sb = _connect(ovn_central)
    try:
        sb.register_chassis("geneve", "192.0.2.11")
        before = len(sb.snapshot().datapaths)
        other = f"unix:{ovn_central.rundir}/sb-other.sock"
        run(["ovs-appctl", "-t", f"{ovn_central.rundir}/sb.ctl", "ovsdb-server/add-remote",
             f"p{other}"])
        sb.set_remote(other, probe_interval_ms=30000)
        sb.run_until(lambda: sb.connected() and sb.connections == 2, what="the new address")
        assert sb.member() == other
        assert sb.full_resyncs == 1 and len(sb.snapshot().datapaths) == before == 2
        assert sb.probe_interval() == 0, "unix: remotes never probe, as in OVS"
        sb.set_claims(set())          # writes go to the new connection
    finally:
        sb.close()


def test_rename_chassis_moves_our_ports_and_removes_the_old_rows(ovn_central):
    """system-id changed: one transaction registers the new name, moves the bindings,
    deletes the old Chassis, Encap and Chassis_Private. Our replica holds our own
    Chassis_Private only (another chassis' heartbeats and acks never reach us), under the
    old name and then the new one."""
    _topology(ovn_central)
    ovn_central.sbctl("create", "Chassis_Private", "name=hvo")     # another chassis'
    sb = _connect(ovn_central)
    private = lambda: sorted(p.name for p in sb.idl.tables["Chassis_Private"].rows.values())  # noqa: E731
    try:
        sb.register_chassis("geneve", "192.0.2.11")
        assert private() == ["hv1"]
        sb.set_local(ifaces={"p1a"})
        sb.run_until(lambda: sb.snapshot().port_named("p1a") is not None, what="p1a's binding")
        sb.set_claims({"p1a"})
        sb.run_until(lambda: sb.snapshot().port_named("p1a").chassis == "hv1", what="claim")
        sb.rename_chassis("hv9", "geneve", "192.0.2.12", hostname="host9")
        sb.run_until(lambda: sb.snapshot().port_named("p1a").chassis == "hv9", what="moved")
        assert sb.chassis_name == "hv9"
        names = lambda t: ovn_central.sbctl("--bare", "--columns=name", "list", t).split()  # noqa: E731
        assert names("Chassis") == ["hv9"] and sorted(names("Chassis_Private")) == ["hv9", "hvo"]
        assert private() == ["hv9"] and sb.conditions_settled()
        sb.ack_nb_cfg(5)          # the new row is ours to write
        assert ovn_central.sbctl("get", "Chassis_Private", "hv9", "nb_cfg").strip() == "5"
        enc = ovn_central.sbctl("--bare", "--columns=chassis_name,ip", "list", "Encap").split()
        assert enc == ["hv9", "192.0.2.12"]
        assert ovn_central.sbctl("--bare", "--columns=hostname", "list", "Chassis").strip() == "host9"
    finally:
        sb.close()


@pytest.fixture
def raft_central():
    """A private 3-member Raft SB (+ NB, northd) in a temp dir, stopped by PID at the end."""
    from tests.conftest import private_central
    with private_central("cfr-", sb_cluster=3, raft_port_base=free_port_base(3, 19400, 19900)) as central:
        yield central


def test_set_remote_to_another_raft_member_resumes_without_a_full_resync(raft_central):
    """ovn-remote moved to another member of the same cluster: monitor_cond_since resumes
    from our last transaction id (no full resync), and writes go through the new member."""
    _topology(raft_central)
    sb1, sb2 = (f"unix:{raft_central.rundir}/{n}.sock" for n in ("sb1", "sb2"))
    sb = Southbound(sb1, "hv1")
    try:
        sb.run_until(sb.connected, what="sb1")
        sb.register_chassis("geneve", "192.0.2.11")
        datapaths = sb.snapshot().datapaths
        sb.set_remote(sb2)
        sb.run_until(lambda: sb.connected() and sb.connections == 2, what="sb2")
        assert sb.member() == sb2 and sb.full_resyncs == 0
        assert sb.snapshot().datapaths == datapaths
        sb.register_chassis("geneve", "192.0.2.13")
        assert "192.0.2.13" in raft_central.sbctl("--bare", "--columns=ip", "list", "Encap")
        print(f"\n[figure] sb1 -> sb2: sync bytes per connection {sb.sync_bytes}")
    finally:
        sb.close()
