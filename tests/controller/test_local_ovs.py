"""Reading chassis configuration from a real local Open_vSwitch DB, as ovn-controller does."""
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from controller.db.local_ovs import ConfigError, LocalOvs, Vif, config_from_rows
from topologies.lab.proc import read_pidfile, stop_pids

IDS = {"system-id": "hv1", "ovn-remote": "tcp:192.0.2.1:6642", "ovn-encap-type": "geneve",
       "ovn-encap-ip": "192.0.2.11"}


def test_config_requires_the_ovn_controller_keys():
    with pytest.raises(ConfigError, match="lacks ovn-encap-ip"):
        config_from_rows({k: v for k, v in IDS.items() if k != "ovn-encap-ip"}, None, [])


def test_vxlan_is_refused_clearly():
    with pytest.raises(ConfigError, match="only geneve is supported"):
        config_from_rows({**IDS, "ovn-encap-type": "vxlan"}, None, [])


def test_ssl_remote_needs_the_ssl_table():
    with pytest.raises(ConfigError, match="SSL table"):
        config_from_rows({**IDS, "ovn-remote": "ssl:192.0.2.1:6642"}, None, [])
    cfg = config_from_rows({**IDS, "ovn-remote": "ssl:192.0.2.1:6642"}, ("k.pem", "c.pem", "ca.pem"), [])
    assert cfg.ssl == ("k.pem", "c.pem", "ca.pem")


def test_vifs_are_interfaces_with_iface_id():
    cfg = config_from_rows(IDS, None, [("vm2-p", "lsp-vm2"), ("br-int", None), ("vm1-p", "lsp-vm1")])
    assert cfg.vifs == (Vif("vm1-p", "lsp-vm1"), Vif("vm2-p", "lsp-vm2"))


@pytest.mark.root
def test_reads_and_follows_a_real_local_db():
    d = Path(tempfile.mkdtemp(prefix="obl-", dir="/tmp"))
    db, sock = d / "conf.db", f"unix:{d}/db.sock"
    subprocess.run(["ovsdb-tool", "create", str(db), "/usr/share/openvswitch/vswitch.ovsschema"], check=True)
    subprocess.run(["ovsdb-server", "--detach", "--no-chdir", f"--pidfile={d}/db.pid",
                    f"--unixctl={d}/db.ctl", f"--remote=punix:{d}/db.sock", "-vconsole:off",
                    f"--log-file={d}/db.log", str(db)], check=True)
    vsctl = ["ovs-vsctl", f"--db={sock}", "--no-wait"]
    local = None
    try:
        subprocess.run(vsctl + ["init", "--", "set", "Open_vSwitch", "."] +
                       [f'external_ids:{k}="{v}"' for k, v in IDS.items()], check=True)
        local = LocalOvs(sock)
        deadline = time.monotonic() + 5
        while not local.synced():
            local.run()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert local.config().encap_ip == "192.0.2.11" and local.config().vifs == ()
        subprocess.run(vsctl + ["add-br", "br-int", "--", "add-port", "br-int", "vm1-p", "--",
                                "set", "Interface", "vm1-p", "external_ids:iface-id=lsp-vm1"], check=True)
        while local.config().vifs == ():
            local.run()
            assert time.monotonic() < deadline + 5
            time.sleep(0.01)
        assert local.config().vifs == (Vif("vm1-p", "lsp-vm1"),)
    finally:
        if local:
            local.close()
        stop_pids([read_pidfile(d / "db.pid")])
        shutil.rmtree(d, ignore_errors=True)
