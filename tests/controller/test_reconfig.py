"""The local config diff (controller/chassisd/reconfig.py): which change becomes which
action, pure, no DB; and the remote check against sockets that do not answer."""
from dataclasses import replace

import pytest

from controller.chassisd.reconfig import (CHASSIS, PROBE, RENAME, SESSION, applied,
                                          check_remote, config_changes)
from controller.db.local_ovs import ConfigError, VifInterface, config_from_rows

IDS = {"system-id": "hv1", "ovn-remote": "tcp:192.0.2.1:6642,tcp:192.0.2.2:6642",
       "ovn-encap-type": "geneve", "ovn-encap-ip": "192.0.2.11", "hostname": "hv1"}
SSL = ("k.pem", "c.pem", "ca.pem")
BASE = config_from_rows(IDS, None, [])


def cfg(ssl=None, vifs=(), **ids):
    return config_from_rows({**IDS, **{k.replace("_", "-"): v for k, v in ids.items()}},
                            ssl, vifs)


def kinds(new, old=BASE):
    return [c.kind for c in config_changes(old, new)]


@pytest.mark.parametrize("new, expected", [
    (cfg(), []),
    (cfg(vifs=[("vm1-p", "lsp-vm1")]), []),                               # VIFs are not config
    (cfg(ovn_remote="tcp:192.0.2.2:6642,tcp:192.0.2.1:6642"), []),        # a reorder
    (cfg(ovn_remote="unix:/run/sb.sock"), [SESSION]),
    (cfg(ovn_remote="tcp:192.0.2.1:6642"), [SESSION]),                    # a member less
    (cfg(ovn_remote_probe_interval="30000"), [PROBE]),
    (cfg(ovn_remote="unix:/run/sb.sock", ovn_remote_probe_interval="30000"), [SESSION]),
    (cfg(ovn_encap_ip="192.0.2.99"), [CHASSIS]),
    (cfg(hostname="other"), [CHASSIS]),
    (cfg(system_id="hv9"), [RENAME]),
    (cfg(system_id="hv9", ovn_encap_ip="192.0.2.99"), [RENAME]),         # one transaction
    (cfg(ovn_remote="unix:/run/sb.sock", system_id="hv9"), [SESSION, RENAME]),
    (cfg(ovn_remote="unix:/run/sb.sock", ovn_encap_ip="192.0.2.99"), [SESSION, CHASSIS]),
])
def test_what_changed_becomes_which_action(new, expected):
    assert kinds(new) == expected


def test_ssl_files_changed_is_a_session_change():
    old = cfg(ssl=SSL, ovn_remote="ssl:192.0.2.1:6642")
    new = cfg(ssl=("k2.pem", "c2.pem", "ca.pem"), ovn_remote="ssl:192.0.2.1:6642")
    changes = config_changes(old, new)
    assert [c.kind for c in changes] == [SESSION]
    assert "SSL table" in changes[0].what and "k2.pem" in changes[0].what


def test_the_log_says_what_changed():
    (c,) = config_changes(BASE, cfg(system_id="hv9", ovn_encap_ip="192.0.2.99"))
    assert "system-id hv1 -> hv9" in c.what and "ovn-encap-ip 192.0.2.11 -> 192.0.2.99" in c.what


def test_applied_takes_only_the_fields_of_its_kind():
    new = cfg(ovn_remote="unix:/run/sb.sock", ovn_encap_ip="192.0.2.99", system_id="hv9",
              ovn_remote_probe_interval="30000")
    a = applied(BASE, new, SESSION)
    assert (a.remote, a.probe_interval_ms, a.encap_ip, a.system_id) == \
        ("unix:/run/sb.sock", 30000, "192.0.2.11", "hv1")
    a = applied(BASE, new, CHASSIS)
    assert (a.remote, a.encap_ip, a.system_id) == (BASE.remote, "192.0.2.99", "hv1")
    a = applied(BASE, new, RENAME)
    assert (a.remote, a.encap_ip, a.system_id) == (BASE.remote, "192.0.2.99", "hv9")
    a = applied(BASE, new, PROBE)
    assert (a.remote, a.probe_interval_ms) == (BASE.remote, 30000)
    # applying every planned change reaches the new config (VIFs aside)
    a = BASE
    for c in config_changes(BASE, new):
        a = applied(a, new, c.kind)
    assert replace(a, vifs=()) == replace(new, vifs=())


@pytest.mark.parametrize("ids, match", [
    ({"ovn-encap-type": "vxlan"}, "only geneve is supported"),
    ({"ovn-encap-ip": ""}, "lacks ovn-encap-ip"),
    ({"ovn-remote-probe-interval": "soon"}, "not an integer"),
    ({"ovn-remote": "ssl:192.0.2.1:6642"}, "SSL table"),
])
def test_bad_new_values_never_reach_config_changes(ids, match):
    """An invalid config is refused whole (ConfigError) before any diff: the daemon keeps
    the last good one (reconfig.Reconfig.run)."""
    with pytest.raises(ConfigError, match=match):
        config_from_rows({**IDS, **ids}, None, [])


def test_check_remote_says_why_no_member_answers(tmp_path):
    problem = check_remote(f"unix:{tmp_path}/nothing.sock,tcp:127.0.0.1:1", timeout=0.5)
    assert f"unix:{tmp_path}/nothing.sock" in problem and "tcp:127.0.0.1:1" in problem
    assert "refused" in problem.lower() or "no such file" in problem.lower()
    assert "SSL table is empty" in check_remote("ssl:127.0.0.1:1", ())


def test_vifs_survive_an_invalid_config():
    """What the step keeps using while the rest of the config is refused."""
    from controller.db.local_ovs import vifs_from_rows
    assert vifs_from_rows([("b", "lsp-b"), ("br-int", None), ("a", "lsp-a")]) == \
        (VifInterface("a", "lsp-a"), VifInterface("b", "lsp-b"))


def test_ctl_shows_the_config_in_effect_and_what_was_not_applied():
    from controller.ctl import format_text
    st = {"chassis": "hv1", "pid": 1, "pin_dir": "/x", "counters": {"recompiles": 0, "map_updates": 0},
          "sb": {"remote": "tcp:a:1", "connected": True, "member": "tcp:a:1", "rx_bytes": 0,
                 "connections": 1},
          "config": {"system_id": "hv1", "remote": "tcp:a:1", "ssl": [], "probe_interval_ms": None,
                     "encap_type": "geneve", "encap_ip": "192.0.2.11", "hostname": "hv1",
                     "uplink": "uplink", "problem": "ovn-encap-type='vxlan': only geneve",
                     "waiting": [], "changes": 2, "last": []},
          "live": {"stats": {}, "drops": {}, "stages": [], "lflows": []}}
    text = format_text(st)
    assert "config: system-id hv1, encap geneve 192.0.2.11 on uplink, probe interval default" in text
    assert "2 change(s) applied" in text and "NOT APPLIED: ovn-encap-type='vxlan'" in text
    del st["config"]
    assert "config:" not in format_text(st), "a status file from before this key"


# ---- Reconfig against fakes: what stays in effect when a value is bad ---------------------

class FakeOvs:
    def __init__(self, ids, ssl=None):
        self.ids, self.ssl = dict(ids), ssl
        self.idl = type("Idl", (), {"change_seqno": 1})()

    def set(self, **ids):
        self.ids.update({k.replace("_", "-"): v for k, v in ids.items()})
        self.idl.change_seqno += 1

    def config(self):
        return config_from_rows(self.ids, self.ssl, [("vm1-p", "lsp-vm1")])

    def vifs(self):
        return (VifInterface("vm1-p", "lsp-vm1"),)


class FakeSb:
    def __init__(self):
        self.up, self.calls = True, []

    def connected(self):
        return self.up

    def member(self):
        return "tcp:192.0.2.1:6642"

    def set_remote(self, remote, probe):
        self.calls.append(("set_remote", remote, probe))

    def register_chassis(self, *a, **kw):
        self.calls.append(("register", *a))

    def rename_chassis(self, *a, **kw):
        self.calls.append(("rename", *a))


class FakeCtl:
    def __init__(self, ovs):
        self.ovs, self.sb, self.uplink = ovs, FakeSb(), "eth0"    # --uplink: pinned
        self.cfg = ovs.config()
        self.datapath = None
        self.claims = self.acked = "x"

    def _save_status(self):
        pass


def reconfig_for(**ids):
    from controller.chassisd.reconfig import Reconfig
    ctl = FakeCtl(FakeOvs({**IDS, **ids}))
    r = Reconfig(ctl, "eth0")
    assert r.run() is False and r.problem is None       # nothing changed since start
    return ctl, r


def test_invalid_values_keep_the_last_good_config(caplog):
    ctl, r = reconfig_for()
    ctl.ovs.set(ovn_encap_type="vxlan", ovn_encap_ip="192.0.2.99")
    assert r.run() is False
    assert "only geneve" in r.problem and r.active.encap_ip == "192.0.2.11"
    assert "the last good config stays in effect" in caplog.text
    assert ctl.sb.calls == [] and r.current().vifs == (VifInterface("vm1-p", "lsp-vm1"),)
    ctl.ovs.set(ovn_encap_type="geneve")                 # fixed: the new IP applies now
    assert r.run() is True
    assert r.problem is None and r.active.encap_ip == "192.0.2.99"
    assert ctl.sb.calls == [("register", "geneve", "192.0.2.99")]
    assert ctl.claims is None and ctl.acked is None, "claims and nb_cfg ack checked again"
    assert r.status()["changes"] == 1 and r.status()["last"][-1]["result"] == "applied"


def test_a_remote_that_does_not_answer_is_refused_while_connected():
    import time
    ctl, r = reconfig_for()
    ctl.ovs.set(ovn_remote="tcp:127.0.0.1:1")
    deadline = time.monotonic() + 5
    while not r.problem:                     # the check runs in a thread
        r.run()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "refused" in r.problem and "staying connected to tcp:192.0.2.1:6642" in r.problem
    assert r.active.remote == IDS["ovn-remote"] and r.waiting == ["session"]
    assert ctl.sb.calls == []


def test_while_disconnected_a_new_remote_applies_at_once_and_chassis_changes_wait():
    ctl, r = reconfig_for()
    ctl.sb.up = False
    ctl.ovs.set(ovn_remote="unix:/run/other.sock", system_id="hv9")
    assert r.run() is True
    assert ctl.sb.calls == [("set_remote", "unix:/run/other.sock", None)]
    assert r.active.remote == "unix:/run/other.sock" and r.active.system_id == "hv1"
    assert r.waiting == ["rename"] and "waiting for the Southbound" in r.problem
    ctl.sb.up = True
    r.retry_at = 0                           # (the retry timer, not waited for here)
    assert r.run() is True
    assert ctl.sb.calls[-1] == ("rename", "hv9", "geneve", "192.0.2.11")
    assert r.active.system_id == "hv9" and r.problem is None and r.waiting == []


def test_current_is_read_again_only_when_the_local_db_or_the_config_changed():
    ctl, r = reconfig_for()
    reads = []
    ctl.ovs.vifs = lambda: reads.append(1) or (VifInterface("vm1-p", "lsp-vm1"),)
    first = r.current()
    assert r.current() is first and len(reads) == 1
    ctl.ovs.set(hostname="other")
    assert r.current() is not first and len(reads) == 2
    r.run()                                           # applies: a new active config
    assert r.current().hostname == "other" and len(reads) == 3
