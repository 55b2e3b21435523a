"""Our own immutable view of Southbound rows.

The DB edge converts IDL rows into these at once; nothing below it ever holds an IDL row,
so the compiler and planner work on plain, hashable, comparable values.
"""
from dataclasses import dataclass, field

# Chassis.other_config key an ovnbpf chassis sets to "true": it accepts the egress-done bit
# of OVN's Geneve option (bpf/lib/split.h). Chassis without it (ovn-controller) never get it.
EGRESS_DONE_FEATURE = "ovnbpf-egress-done-bit"
# Chassis.other_config key a chassis in `--egress-on=ingress` mode sets to "true": it sends
# the bit. A receiver honours the bit only from chassis that say so (desired.py).
EGRESS_DONE_SENDS = "ovnbpf-egress-done-send"
# Chassis external_ids: the encap IP an ovnbpf owner serves (db/ownership.py); peers tunnel
# there when the chassis' Encap row says otherwise
OWNER_ENCAP = "ovnbpf-owner-encap"


def frozen_map(d):
    """A dict as a sorted tuple of pairs: hashable and deterministic."""
    return tuple(sorted((str(k), str(v)) for k, v in dict(d).items()))


def frozen_sets(d):
    """{name: iterable of strings} as a sorted tuple of (name, tuple)."""
    return tuple(sorted((str(k), tuple(v)) for k, v in d.items()))


@dataclass(frozen=True)
class Encap:
    type: str
    ip: str
    options: tuple = ()


@dataclass(frozen=True)
class Chassis:
    uuid: str
    name: str
    hostname: str
    encaps: tuple        # of Encap
    other_config: tuple = ()   # frozen_map: feature flags a chassis advertises
    owner_encap: str | None = None   # its Chassis row's OWNER_ENCAP record (db/ownership.py)

    def feature(self, key):
        return dict(self.other_config).get(key) == "true"


@dataclass(frozen=True)
class DatapathBinding:
    uuid: str
    tunnel_key: int
    name: str            # the logical switch/router name from external_ids
    is_router: bool


@dataclass(frozen=True)
class PortBinding:
    uuid: str
    logical_port: str
    datapath: str        # DatapathBinding uuid
    tunnel_key: int
    type: str            # "" (VIF), "patch", "router", "localnet", "chassisredirect", ...
    mac: tuple           # Port_Binding.mac strings ("MAC IP ..." or "router")
    port_security: tuple
    chassis: str | None  # Chassis name the port is bound to
    up: bool
    options: tuple = ()

    def option(self, key, default=None):
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class LogicalFlow:
    uuid: str
    datapaths: tuple     # DatapathBinding uuids (one, or the members of its datapath group)
    pipeline: str        # "ingress" | "egress"
    table_id: int
    priority: int
    match: str
    actions: str
    stage: str = ""      # external_ids:stage-name, e.g. ls_in_l2_lkup


@dataclass(frozen=True)
class MulticastGroup:
    uuid: str
    datapath: str
    name: str
    tunnel_key: int
    ports: tuple         # logical port names, sorted


@dataclass(frozen=True)
class MACBinding:
    uuid: str
    logical_port: str
    ip: str
    mac: str
    datapath: str


@dataclass(frozen=True)
class FDB:
    uuid: str
    mac: str
    dp_key: int
    port_key: int


@dataclass(frozen=True)
class DNS:
    """A DNS row: names (lowercase) -> "addr addr ..." or a PTR target, served on the
    datapaths listed (pinctrl's dns_lookup); rows without external_ids:dns_id are not."""
    uuid: str
    dns_id: str
    datapaths: tuple     # Datapath_Binding uuids
    records: tuple       # ((name, value), ...) sorted


@dataclass(frozen=True)
class SBState:
    """One consistent snapshot of what this chassis monitors."""
    chassis: tuple = ()
    datapaths: tuple = ()
    ports: tuple = ()
    flows: tuple = ()
    mcast_groups: tuple = ()
    mac_bindings: tuple = ()
    fdbs: tuple = ()
    nb_cfg: int = 0
    address_sets: tuple = ()   # ((name, (address, ...)), ...): $name in matches
    port_groups: tuple = ()    # ((name, (port, ...)), ...): @name in matches
    dns: tuple = ()            # DNS rows (the punt handler's dns_lookup)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def datapath_by_uuid(self):
        return {d.uuid: d for d in self.datapaths}

    def port_named(self, name):
        return next((p for p in self.ports if p.logical_port == name), None)
