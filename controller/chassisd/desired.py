"""What the datapath of one chassis should hold, computed from a Southbound snapshot.

Pure logic (no kernel, no DB): the daemon diffs the result against what is loaded, so every
Southbound change becomes map updates. Port and chassis *names* stop here; the datapath
sees only integer keys and device names.

Rows this chassis cannot use are reported (with their UUID) and left out, never guessed:
a port bound to a chassis with no Geneve encap, or of a type we do not forward.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..db.rows import EGRESS_DONE_FEATURE, EGRESS_DONE_SENDS, OWNER_ENCAP
from datapath.values import Group, Patch, Remote

from ..ids import StableIds
from ..local_datapaths import related_datapaths

MAX_CHASSIS_ID = 4095          # bpf/lib/maps.h: OVNBPF_MAX_CHASSIS - 1
FORWARDED_TYPES = ("", "patch")  # VIFs and switch <-> router patch ports


@dataclass(frozen=True)
class LocalVif:
    """A port bound here, by its chassis-side VIF device: the daemon turns it into the
    datapath's Local(ifindex) once the device is attached. Every other place a port can
    be is already the datapath's own value (Remote, Patch; multicast groups are Group)."""
    device: str


@dataclass
class Desired:
    local_datapaths: frozenset = frozenset()       # datapath uuids (conditional monitoring)
    claims: frozenset = frozenset()                # logical ports to bind to us
    vifs: dict = field(default_factory=dict)       # device -> (dp key, port key)
    lports: dict = field(default_factory=dict)     # (dp key, port key) -> LocalVif | Remote | Patch
    tunnels: dict = field(default_factory=dict)    # chassis id -> encap IP
    egress_done: frozenset = frozenset()           # chassis ids that accept the egress-done bit
    egress_done_trusted: frozenset = frozenset()   # chassis ids whose egress-done bit we honour
    mcast: dict = field(default_factory=dict)      # (dp key, group key) -> Group
    problems: list = field(default_factory=list)   # (row uuid, reason): rows left out


class ChassisIds(StableIds):
    """Small integer ids for chassis (the datapath indexes tunnels by them). An id, once
    given, stays with its chassis while this process runs; freed ids are reused."""

    def __init__(self):
        super().__init__(1, MAX_CHASSIS_ID + 1)

    def exhausted(self, name):
        return ValueError(f"more than {MAX_CHASSIS_ID} chassis")

    def assign(self, names):
        names = set(names)
        self.keep_only(names)
        for name in sorted(names):
            self(name)
        return dict(self.ids)


def _geneve_ip(chassis):
    return next((e.ip for e in chassis.encaps if e.type == "geneve"), None)


def compute(state, chassis_name, devices, ids: ChassisIds) -> Desired:
    """state: rows.SBState; devices: {iface-id: device name} of this chassis' VIFs."""
    out = Desired()
    dp_key = {d.uuid: d.tunnel_key for d in state.datapaths}
    ports = {p.logical_port: p for p in state.ports}
    out.claims = frozenset(i for i in devices if i in ports)
    out.local_datapaths = related_datapaths(state.ports, out.claims)

    chassis_ids = ids.assign(c.name for c in state.chassis)
    # we honour a peer's egress-done bit only if it says it sends it and our own row says
    # we accept it (what senders go by); from anyone else the mark is ignored (split.h)
    me = next((c for c in state.chassis if c.name == chassis_name), None)
    accepting = me is not None and me.feature(EGRESS_DONE_FEATURE)
    for c in state.chassis:
        if c.name == chassis_name:
            continue
        ip = _geneve_ip(c)
        vouched = c.owner_encap
        if vouched and vouched != ip:
            # an ovnbpf chassis' Chassis row says which IP its owner serves (owner_encap,
            # db/ownership.py), and its Encap row now says another: a writer without an
            # owner record (a copied system-id, ovn-sbctl) moved it. Keep tunnelling to
            # the owner. A chassis without the record (OVS) is followed by its Encap.
            out.problems.append((c.uuid, (
                f"chassis {c.name}: its Encap says {ip} but its ovnbpf owner serves "
                f"{vouched} (Chassis external_ids:{OWNER_ENCAP}): tunnelling to {vouched}. "
                f"If {c.name} was replaced by a chassis that does not run ovnbpf, remove "
                f"the old record: ovn-sbctl chassis-del {c.name} (its controller registers "
                f"again)")))
            ip = vouched
        if ip is None:
            out.problems.append((c.uuid, f"chassis {c.name} has no geneve encap: "
                                 "its ports are unreachable from here"))
            continue
        out.tunnels[chassis_ids[c.name]] = ip
        if c.feature(EGRESS_DONE_FEATURE):
            out.egress_done |= {chassis_ids[c.name]}
        if accepting and c.feature(EGRESS_DONE_SENDS):
            out.egress_done_trusted |= {chassis_ids[c.name]}

    for p in state.ports:
        if p.datapath not in out.local_datapaths or p.datapath not in dp_key:
            continue
        key = (dp_key[p.datapath], p.tunnel_key)
        if p.type not in FORWARDED_TYPES:
            out.problems.append((p.uuid, f"port {p.logical_port}: type {p.type!r} is not "
                                 "forwarded by ovnbpf yet (outputs to it drop)"))
            continue
        if p.type == "patch":
            peer = ports.get(p.option("peer", ""))
            if peer is None or peer.datapath not in dp_key:
                out.problems.append((p.uuid, f"patch port {p.logical_port}: peer "
                                     f"{p.option('peer')!r} unknown"))
                continue
            out.lports[key] = Patch(dp_key[peer.datapath], peer.tunnel_key)
        elif p.logical_port in out.claims:
            out.vifs[devices[p.logical_port]] = key
            out.lports[key] = LocalVif(devices[p.logical_port])
        elif p.chassis and p.chassis != chassis_name:
            cid = chassis_ids.get(p.chassis)
            if cid is None or cid not in out.tunnels:
                out.problems.append((p.uuid, f"port {p.logical_port}: bound to chassis "
                                     f"{p.chassis} which has no usable encap"))
                continue
            out.lports[key] = Remote(cid)
        # unbound ports get no entry: output to them drops (UNKNOWN_OUTPORT), as in OVN

    for g in state.mcast_groups:
        if g.datapath not in out.local_datapaths or g.datapath not in dp_key:
            continue
        dk = dp_key[g.datapath]
        local, remote = [], set()
        for name in g.ports:
            p = ports.get(name)
            where = out.lports.get((dk, p.tunnel_key)) if p else None
            if isinstance(where, (LocalVif, Patch)):
                local.append(p.tunnel_key)
            elif isinstance(where, Remote):
                remote.add(where.chassis)
        out.mcast[(dk, g.tunnel_key)] = Group(tuple(sorted(local)), tuple(sorted(remote)),
                                              g.tunnel_key)
    return out


def synthetic_groups(desired: Desired, definitions, port_key, keys=None, first_key=65536):
    """Local-only groups the compiler made for `clone {outport = P; output;}; outport = G;
    output;` (members = P + G's). definitions: {name: (dp key, (member port names...),
    wire group key)}; keys: {name: key} the compiler gave them (default: first_key + i).
    Adds the groups to desired.mcast and returns {name: key}."""
    keys = dict(keys or {})
    for i, (name, (dk, members, wire)) in enumerate(sorted(definitions.items())):
        key = keys.setdefault(name, first_key + i)
        base = desired.mcast.get((dk, wire), Group((), (), wire))
        local = set(base.local_ports)
        for m in members:
            pk = port_key(m)
            if pk is not None and isinstance(desired.lports.get((dk, pk)), (LocalVif, Patch)):
                local.add(pk)
        desired.mcast[(dk, key)] = Group(tuple(sorted(local)), base.remote_chassis, wire)
    return keys
