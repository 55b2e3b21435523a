"""Chassis identity (controller/db/ownership.py) against a real ovsdb-server + northd: two
Southbound sessions with the same chassis name play two controllers sharing a system-id;
ovn-sbctl plays a writer that keeps no owner record. Time is a fake clock (heartbeats and
staleness are judged on the reader's clock, so this is the whole of it)."""
import pytest

from controller.db import ownership as O
from controller.db.southbound import Southbound

pytestmark = pytest.mark.root

NAME = "hvx"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def connect(central):
    sb = Southbound(central.sb_remote, NAME)
    sb.run_until(sb.connected, what="connection")
    return sb


def record(sb):
    sb.run()
    p = next((p for p in sb.idl.tables["Chassis_Private"].rows.values() if p.name == NAME), None)
    return dict(p.external_ids) if p is not None else {}


def chassis_record(central):
    """What peers tunnel to: the owner-encap record in the Chassis row."""
    return central.sbctl("--bare", "--columns=external_ids", "find", "Chassis",
                         f"name={NAME}").strip()


def rows(central):
    return (central.sbctl("--bare", "--columns=ip", "find", "Encap", f"chassis_name={NAME}").strip(),
            central.sbctl("--bare", "--columns=hostname", "find", "Chassis", f"name={NAME}").strip())


def owner(central, clock, token, ip, host):
    sb = connect(central)
    o = O.Ownership(sb, token, clock)
    assert o.start("geneve", ip, host)
    sb.register_chassis("geneve", ip, hostname=host)
    return sb, o


def test_a_newcomer_stands_by_until_the_owner_is_stale(ovn_central):
    clock = Clock()
    a, oa = owner(ovn_central, clock, "tokA", "192.0.2.1", "hostA")
    b = connect(ovn_central)
    try:
        ob = O.Ownership(b, "tokB", clock)
        b.run_until(lambda: record(b).get(O.OWNER) == "tokA", what="A's record")
        assert not ob.start("geneve", "192.0.2.2", "hostB")
        assert ob.role == "standby" and ob.counters["refused_takeover"] == 1
        assert ob.other == {"token": "tokA", "encap": "192.0.2.1", "host": "hostA"}
        ob.run("geneve", "192.0.2.2", "hostB")           # announces itself
        a.run_until(lambda: O.CONTENDER in record(a), what="B's contender record")
        oa.run("geneve", "192.0.2.1", "hostA")
        assert oa.counters["contenders_seen"] == 1 and oa.other["encap"] == "192.0.2.2"
        # the owner beats: B keeps standing by, the rows stay A's
        for _ in range(4):
            clock.t += O.HEARTBEAT_S + 0.1
            oa.run("geneve", "192.0.2.1", "hostA")
            beat = record(a)[O.BEAT]
            b.run_until(lambda: record(b).get(O.BEAT) == beat, what="A's heartbeat")
            assert not ob.run("geneve", "192.0.2.2", "hostB")
            assert ob.role == "standby"
        assert rows(ovn_central) == ("192.0.2.1", "hostA")
        assert chassis_record(ovn_central) == "ovnbpf-owner-encap=192.0.2.1"
        # A stops beating: B takes the rows over once A is stale, never before
        clock.t += O.STALE_S - 1
        assert not ob.run("geneve", "192.0.2.2", "hostB") and ob.role == "standby"
        clock.t += 2
        assert ob.run("geneve", "192.0.2.2", "hostB") and ob.role == "owner"
        assert ob.counters["took_over"] == 1
        assert rows(ovn_central) == ("192.0.2.2", "hostB")
        assert record(b)[O.OWNER] == "tokB" and record(b)[O.ENCAP] == "192.0.2.2"
        assert chassis_record(ovn_central) == "ovnbpf-owner-encap=192.0.2.2"
        # A comes back: it finds a live owner's record and stands by rather than fight
        a.run_until(lambda: record(a).get(O.OWNER) == "tokB", what="B's record at A")
        assert oa.run("geneve", "192.0.2.1", "hostA") and oa.role == "standby"
        assert oa.counters["stood_down"] == 1
        assert rows(ovn_central) == ("192.0.2.2", "hostB")
    finally:
        a.close()
        b.close()


def test_an_overwrite_without_a_record_is_undone_with_backoff(ovn_central):
    clock = Clock()
    a, oa = owner(ovn_central, clock, "tokA", "192.0.2.1", "hostA")
    try:
        uuid = ovn_central.sbctl("--bare", "--columns=_uuid", "find", "Encap",
                                 f"chassis_name={NAME}").strip()
        for attempt, wait in ((1, 1.0), (2, 2.0), (3, 4.0)):
            ovn_central.sbctl("set", "Encap", uuid, "ip=198.51.100.9", "--",
                              "set", "Chassis", NAME, "hostname=evil")
            a.run_until(lambda: a._own_chassis().hostname == "evil", what="the overwrite")
            assert not oa.run("geneve", "192.0.2.1", "hostA")     # seen, written back later
            assert oa.counters["overwrites_seen"] == attempt
            assert oa.other["encap"] == "198.51.100.9" and oa.other["host"] == "evil"
            clock.t += wait - 0.1
            assert not oa.run("geneve", "192.0.2.1", "hostA")
            assert rows(ovn_central) == ("198.51.100.9", "evil")
            # the writer left the record peers tunnel to (desired.py)
            assert chassis_record(ovn_central) == "ovnbpf-owner-encap=192.0.2.1"
            assert a.snapshot().chassis[0].owner_encap == "192.0.2.1"
            clock.t += 0.2
            assert oa.run("geneve", "192.0.2.1", "hostA")
            assert oa.counters["reasserts"] == attempt
            assert rows(ovn_central) == ("192.0.2.1", "hostA")
            uuid = ovn_central.sbctl("--bare", "--columns=_uuid", "find", "Encap",
                                     f"chassis_name={NAME}").strip()
        assert oa.role == "owner"
        # a writer that removes the record is undone too (peers would follow the Encap)
        ovn_central.sbctl("remove", "Chassis", NAME, "external_ids", "ovnbpf-owner-encap")
        a.run_until(lambda: a.snapshot().chassis[0].owner_encap is None, what="the removal")
        assert not oa.run("geneve", "192.0.2.1", "hostA")
        clock.t += 8.1
        assert oa.run("geneve", "192.0.2.1", "hostA")
        assert chassis_record(ovn_central) == "ovnbpf-owner-encap=192.0.2.1"
    finally:
        a.close()


def test_a_clean_stop_clears_the_record_only_while_the_encap_agrees(ovn_central):
    """Stopped cleanly, an owner clears its Chassis' owner-encap record, so a chassis
    replaced by one without ovnbpf is followed by its Encap; not while its Encap was
    rewritten (peers must keep tunnelling to it). A restart writes it again."""
    clock = Clock()
    a, oa = owner(ovn_central, clock, "tokA", "192.0.2.1", "hostA")
    try:
        uuid = ovn_central.sbctl("--bare", "--columns=_uuid", "find", "Encap",
                                 f"chassis_name={NAME}").strip()
        ovn_central.sbctl("set", "Encap", uuid, "ip=198.51.100.9")
        a.run_until(lambda: a._own_chassis().encaps[0].ip == "198.51.100.9", what="overwrite")
        assert not oa.release()
        assert chassis_record(ovn_central) == "ovnbpf-owner-encap=192.0.2.1"
        ovn_central.sbctl("set", "Encap", uuid, "ip=192.0.2.1")
        a.run_until(lambda: a._own_chassis().encaps[0].ip == "192.0.2.1", what="restore")
        assert oa.release()
        assert chassis_record(ovn_central) == ""
        assert record(a)[O.OWNER] == "tokA"        # the restart is the same owner
    finally:
        a.close()
    a, oa = owner(ovn_central, clock, "tokA", "192.0.2.1", "hostA")
    try:
        assert chassis_record(ovn_central) == "ovnbpf-owner-encap=192.0.2.1"
    finally:
        a.close()


def test_a_restart_is_the_same_owner(ovn_central, tmp_path):
    """The token kept in the run dir, or (run dir lost) a record naming our own encap IP
    and hostname: a restarted controller owns its rows at once, without waiting."""
    clock = Clock()
    token = O.load_token(tmp_path)
    assert O.load_token(tmp_path) == token
    a, oa = owner(ovn_central, clock, token, "192.0.2.1", "hostA")
    a.close()
    b = connect(ovn_central)
    c = connect(ovn_central)
    try:
        b.run_until(lambda: record(b).get(O.OWNER) == token, what="the record")
        assert O.Ownership(b, token, clock).start("geneve", "192.0.2.1", "hostA")
        c.run_until(lambda: record(c).get(O.OWNER) == token, what="the record")
        assert O.Ownership(c, "another", clock).start("geneve", "192.0.2.1", "hostA")
        assert not O.Ownership(c, "another", clock).start("geneve", "192.0.2.3", "hostA")
    finally:
        b.close()
        c.close()


def test_ctl_shows_who_owns_our_rows():
    from controller.ctl import format_text
    st = {"chassis": "hv1", "pid": 1, "pin_dir": "/x", "counters": {"recompiles": 0, "map_updates": 0},
          "sb": {"remote": "tcp:a:1", "connected": True, "member": "tcp:a:1", "rx_bytes": 0,
                 "connections": 1},
          "identity": {"role": "owner", "token": "t1", "heartbeat": 7, "refused_takeover": 0,
                       "contenders_seen": 1, "overwrites_seen": 2, "reasserts": 2,
                       "took_over": 0, "stood_down": 0,
                       "other": {"token": "t2", "encap": "192.0.2.99", "host": "impostor"}},
          "live": {"stats": {}, "drops": {}, "stages": [], "lflows": []}}
    line = next(x for x in format_text(st).splitlines() if x.startswith("identity:"))
    assert "owner" in line and "contenders seen 1" in line and "rows written back 2" in line
    assert "encap 192.0.2.99 host impostor" in line


def test_a_peers_heartbeats_and_acks_never_reach_another_chassis(ovn_central, capsys):
    """Chassis_Private is monitored for our own row only (as ovn-controller does): chassis
    B's heartbeats and nb_cfg acks cost chassis A nothing (with N chassis each would
    otherwise receive N/5 row updates a second and step for each), while a change of B's
    Chassis row (its encap, with the owner-encap record peers tunnel to) still reaches A."""
    clock = Clock()
    a = Southbound(ovn_central.sb_remote, "hva")
    b = Southbound(ovn_central.sb_remote, "hvb")
    try:
        for sb, token, ip, host in ((a, "tokA", "192.0.2.1", "hostA"),
                                    (b, "tokB", "192.0.2.2", "hostB")):
            sb.run_until(sb.connected, what="connection")
            o = O.Ownership(sb, token, clock)
            assert o.start("geneve", ip, host)
            sb.register_chassis("geneve", ip, hostname=host)
            if sb is b:
                ob = o
        a.run_until(lambda: any(c.name == "hvb" and c.owner_encap == "192.0.2.2"
                                for c in a.snapshot().chassis), what="B's Chassis at A")
        a.run_until(a.conditions_settled, what="A's conditions")
        heard = []
        notify = a.idl.notify

        def counted(event, row, updates=None):
            heard.append((row._table.name, event))
            notify(event, row, updates)
        a.idl.notify = counted
        before = a.idl.change_seqno
        beats = 6
        for _ in range(beats):
            clock.t += O.HEARTBEAT_S + 0.1
            ob.run("geneve", "192.0.2.2", "hostB")
        b.ack_nb_cfg(77)
        b.run()
        assert ob.beat == beats and ob._private().external_ids[O.BEAT] == str(beats)
        # B's Chassis row changes after its beats and ack: the server sends A its updates
        # in commit order, so once A has this one it has had everything before it
        b.register_chassis("geneve", "192.0.2.22", hostname="hostB")
        a.run_until(lambda: any(c.name == "hvb" and c.owner_encap == "192.0.2.22"
                                and [e.ip for e in c.encaps] == ["192.0.2.22"]
                                for c in a.snapshot().chassis), what="B's new encap at A")
        private = [t for t, _ in heard if t == "Chassis_Private"]
        with capsys.disabled():
            print(f"\n[figure] chassis A received {len(private)} Chassis_Private row updates "
                  f"from chassis B's {beats} heartbeats and 1 nb_cfg ack; "
                  f"{len(heard) - len(private)} for B's encap change "
                  f"({a.idl.change_seqno - before} change_seqno steps in all)")
        assert private == []
        assert {t for t, _ in heard} <= {"Chassis", "Encap"}
        assert [p.name for p in a.idl.tables["Chassis_Private"].rows.values()] == ["hva"]
    finally:
        a.close()
        b.close()
