"""This chassis' configuration, read from the local Open_vSwitch DB exactly where
ovn-controller reads it: Open_vSwitch.external_ids (system-id, ovn-remote, ovn-encap-type,
ovn-encap-ip, ovn-remote-probe-interval), the SSL table, and Interfaces that carry
external_ids:iface-id (this chassis' VIFs).
"""
from dataclasses import dataclass

import ovs.db.idl

from . import rows

VS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
SUPPORTED_ENCAPS = ("geneve",)


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class VifInterface:
    """An Interface row of the local OVS DB with an external_ids:iface-id: a VM's port."""
    name: str            # kernel device name (Interface.name)
    iface_id: str        # the logical port it binds


@dataclass(frozen=True)
class ChassisConfig:
    system_id: str
    remote: str          # comma-separated: several = Raft cluster members
    encap_type: str
    encap_ip: str
    probe_interval_ms: int | None
    ssl: tuple           # (private_key, certificate, ca_cert) or ()
    vifs: tuple          # of VifInterface, sorted by name
    hostname: str = ""


def config_from_rows(ovs_row_ids, ssl_row, interfaces):
    """Validate raw values into a ChassisConfig (pure: unit-testable without a DB)."""
    ids = dict(ovs_row_ids)
    missing = [k for k in ("system-id", "ovn-remote", "ovn-encap-type", "ovn-encap-ip") if not ids.get(k)]
    if missing:
        raise ConfigError(f"Open_vSwitch external_ids lacks {', '.join(missing)}")
    encap_type = ids["ovn-encap-type"].split(",")[0].strip()
    if encap_type not in SUPPORTED_ENCAPS:
        raise ConfigError(f"ovn-encap-type={ids['ovn-encap-type']!r}: only geneve is supported "
                          "(OVN's tunnel key layout needs Geneve options)")
    probe = ids.get("ovn-remote-probe-interval")
    try:
        probe_ms = int(probe) if probe else None
    except ValueError:
        raise ConfigError(f"ovn-remote-probe-interval={probe!r} is not an integer") from None
    remote = ids["ovn-remote"]
    ssl = ()
    if "ssl:" in remote:
        if not ssl_row or not all(ssl_row):
            raise ConfigError("ovn-remote uses ssl: but the SSL table has no private key, "
                              "certificate and CA certificate")
        ssl = tuple(ssl_row)
    return ChassisConfig(system_id=ids["system-id"], remote=remote, encap_type=encap_type,
                         encap_ip=ids["ovn-encap-ip"], probe_interval_ms=probe_ms, ssl=ssl,
                         vifs=vifs_from_rows(interfaces), hostname=ids.get("hostname", ""))


def vifs_from_rows(interfaces):
    """(name, iface-id or None) pairs -> this chassis' VIFs, sorted by name."""
    return tuple(sorted((VifInterface(name, iid) for name, iid in interfaces if iid), key=lambda v: v.name))


class LocalOvs:
    """An IDL session on the local Open_vSwitch DB: read, except for one column, cur_cfg,
    which acknowledges next_cfg as ovs-vswitchd does (`ovs-vsctl` without --no-wait bumps
    next_cfg and waits until cur_cfg reaches it)."""

    def __init__(self, remote):
        helper = ovs.db.idl.SchemaHelper(location=VS_SCHEMA)
        helper.register_columns("Open_vSwitch", ["external_ids", "ssl", "next_cfg", "cur_cfg"])
        helper.register_columns("SSL", ["private_key", "certificate", "ca_cert"])
        helper.register_columns("Interface", ["name", "external_ids"])
        self.idl = ovs.db.idl.Idl(remote, helper)
        self._ack = None          # (txn, next_cfg) of an acknowledgement in flight

    def run(self):
        seqno = self.idl.change_seqno
        self.idl.run()
        if self._ack is not None and self._ack[0].commit() != ovs.db.idl.Transaction.INCOMPLETE:
            self._ack = None      # done, or failed: the next ack_cfg() tries again
        return self.idl.change_seqno != seqno

    def next_cfg(self):
        """The configuration sequence number clients asked for (None: no root row)."""
        root = next(iter(self.idl.tables["Open_vSwitch"].rows.values()), None)
        return root.next_cfg if root is not None else None

    def ack_cfg(self, next_cfg):
        """Set cur_cfg to `next_cfg` (a value read before the change it covers was
        applied), without blocking: the commit completes in later run()s. A smaller value
        than cur_cfg is never written."""
        root = next(iter(self.idl.tables["Open_vSwitch"].rows.values()), None)
        if (root is None or next_cfg is None or self._ack is not None
                or root.cur_cfg >= next_cfg):
            return
        txn = ovs.db.idl.Transaction(self.idl)
        root.cur_cfg = next_cfg
        if txn.commit() == ovs.db.idl.Transaction.INCOMPLETE:
            self._ack = (txn, next_cfg)

    def synced(self):
        return self.idl.state == self.idl.IDL_S_MONITORING

    def _interfaces(self):
        return [(i.name, i.external_ids.get("iface-id")) for i in self.idl.tables["Interface"].rows.values()]

    def config(self):
        root = next(iter(self.idl.tables["Open_vSwitch"].rows.values()), None)
        if root is None:
            raise ConfigError("the local Open_vSwitch DB has no Open_vSwitch row (run ovs-vsctl init)")
        ssl = root.ssl[0] if root.ssl else None
        ssl_row = (ssl.private_key, ssl.certificate, ssl.ca_cert) if ssl else None
        return config_from_rows(rows.frozen_map(root.external_ids), ssl_row, self._interfaces())

    def vifs(self):
        """The VIFs alone: still readable when the rest of the config is invalid."""
        return vifs_from_rows(self._interfaces())

    def close(self):
        self.idl.close()


