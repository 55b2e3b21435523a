"""The Southbound DB edge: an OVS Python IDL session that registers only the columns we use,
monitors conditionally (local datapaths only, and our own Chassis_Private, like
ovn-controller), writes this chassis' own rows (Chassis, Encap, Chassis_Private, its
Port_Binding claims), and hands out frozen snapshots (rows.SBState).

The IDL uses monitor_cond_since, so a reconnect (server restart, Raft leader change)
resumes from the last transaction id when the server still has that history.
"""
import time
import uuid as uuidlib

import ovs.db.idl
import ovs.poller

from . import idl_private, rows
from .sbwrites import Writes

SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"
DEFAULT_PROBE_MS = 5000        # ovs.reconnect's default, and ovn-controller's for ovn-remote

COLUMNS = {
    "SB_Global": ["nb_cfg", "options"],
    "Address_Set": ["name", "addresses"],
    "Port_Group": ["name", "ports"],
    "Chassis": ["name", "hostname", "encaps", "external_ids", "other_config"],
    "Chassis_Private": ["name", "chassis", "nb_cfg", "nb_cfg_timestamp", "external_ids"],
    "Encap": ["type", "ip", "options", "chassis_name"],
    "Datapath_Binding": ["tunnel_key", "external_ids"],
    "Port_Binding": ["logical_port", "datapath", "tunnel_key", "type", "mac", "port_security",
                     "chassis", "up", "options"],
    "Logical_Flow": ["logical_datapath", "logical_dp_group", "pipeline", "table_id",
                     "priority", "match", "actions", "external_ids"],
    "Logical_DP_Group": ["datapaths"],
    "Multicast_Group": ["datapath", "name", "tunnel_key", "ports"],
    "MAC_Binding": ["logical_port", "ip", "mac", "datapath"],
    "FDB": ["mac", "dp_key", "port_key"],
    "DNS": ["records", "datapaths", "external_ids"],
}

# Tables whose rows we filter to this chassis' datapaths, and Chassis_Private to our own
# row (as ovn-controller does): every chassis writes its own every few seconds (nb_cfg
# acks, the ovnbpf heartbeat), so unfiltered each would hear from all N (N/5 updates/s)
CONDITIONAL = ("Logical_Flow", "Logical_DP_Group", "Port_Binding", "Multicast_Group",
               "MAC_Binding", "FDB", "Chassis_Private")
# Tables whose changes reshape the conditions: northd moves shared flows to new or changed
# Logical_DP_Group rows at will (an unrelated ls-add is enough), and FDB rows are selected
# by the local datapaths' tunnel keys
RESHAPING = frozenset(("Logical_DP_Group", "Datapath_Binding"))


def _dns_rows(t):
    """The DNS rows (few, small), for the punt handler's dns_lookup."""
    return tuple(sorted((rows.DNS(str(d.uuid), d.external_ids.get("dns_id", ""),
                                  tuple(sorted(str(p.uuid) for p in d.datapaths)),
                                  tuple(sorted(d.records.items())))
                         for d in t["DNS"].rows.values()), key=lambda r: r.uuid))


class SouthboundError(RuntimeError):
    pass


def _ref(value):
    """IDL optional reference -> the row or None."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _opt(value, default=None):
    if isinstance(value, list):
        return value[0] if value else default
    return value


class _Idl(ovs.db.idl.Idl):
    """The IDL, counting the times a reconnect had to throw the replica away: the server
    answered monitor_cond_since with found=false (no history for our last txn id) and
    sent everything again, instead of just what we missed.

    Told through the public notify() hook: the IDL empties its tables before a complete
    dump without a notice, so a table holding other than the rows notify() created minus
    those it deleted was emptied (checked after each run(): O(tables))."""
    full_resyncs = 0

    def __init__(self, *args, **kw):
        self.dirty = set()          # (table, uuid) of rows changed since the last snapshot
        self.touched = set()        # tables with a changed row since Southbound.run() looked
        self.cleared = False
        self.counts = {}            # table -> rows by notify()'s creates minus its deletes
        super().__init__(*args, **kw)

    def notify(self, event, row, updates=None):
        table = idl_private.row_table_name(row)
        self.dirty.add((table, row.uuid))
        self.touched.add(table)
        if event == ovs.db.idl.ROW_CREATE:
            self.counts[table] = self.counts.get(table, 0) + 1
        elif event == ovs.db.idl.ROW_DELETE:
            self.counts[table] = self.counts.get(table, 0) - 1

    def check_cleared(self):
        """After run(): were the tables emptied for a complete dump?"""
        emptied = False
        for name, t in self.tables.items():
            have = self.counts.get(name, 0)
            if have != len(t.rows):
                emptied = emptied or have > len(t.rows)
                self.counts[name] = len(t.rows)
        if emptied:
            self.full_resyncs += 1
            self.cleared = True


class Southbound:
    sends_egress_done = False  # our Chassis row says we send the egress-done bit (ingress mode)
    owner_ids = {}             # our owner record (db/ownership.py), written with our rows

    def __init__(self, remote, chassis_name, conditional=True, probe_interval_ms=None):
        helper = ovs.db.idl.SchemaHelper(location=SB_SCHEMA)
        for table, cols in COLUMNS.items():
            helper.register_columns(table, cols)
        # leader_only=False: any Raft member serves reads; writes are forwarded by the server
        self.idl = _Idl(remote, helper, probe_interval=probe_interval_ms, leader_only=False)
        # our writes: non-blocking transactions (sbwrites.py); wait_writes: a write call
        # returns once the server took it (tools, tests, start-up). The daemon's loop
        # turns it off: nothing there waits for the Southbound.
        self.writes = Writes(self.idl)
        self.wait_writes = True
        self._macs = {}            # (logical_port, ip) -> learned binding not yet written
        self.chassis_name = chassis_name
        self.conditional = conditional
        self.local_datapaths = frozenset()
        self.local_ifaces = frozenset()
        self._rpc = None           # the current connection, to total bytes across reconnects
        self._banked_bytes = 0
        self.connections = 0       # how many times a session was (re)established
        self.sync_bytes = []       # per connection: bytes received until monitoring resumed
        self._synced = False
        self._rows = {}            # table -> {uuid: frozen row}: converted once per change
        self._tuples = {}          # table -> its rows' tuple in the last snapshot
        self._snapshot = None      # the last snapshot, returned again while nothing changed
        self._must_settle = True   # an unanswered condition change the view does not cover
        self.reshapes = 0          # condition changes a datapath group or binding change caused
        if conditional:
            self._apply_conditions()

    # ---- session -------------------------------------------------------------------------

    def run(self):
        """Process what the server sent; True if the replica changed."""
        seqno = self.idl.change_seqno
        self.idl.run()
        self.idl.check_cleared()
        self.writes.run()          # the transaction in flight: done? the next one: start
        self._track_connection()
        self._follow_reshapes()
        # a condition queued behind one the server just answered goes now, not on the
        # next run() (the IDL sends only before it reads)
        self.idl.send_cond_change()
        return self.idl.change_seqno != seqno

    def _track_connection(self):
        rpc = idl_private.rpc(self.idl)   # the IDL exposes no byte count of its own
        if rpc is not self._rpc:
            if self._rpc is not None:
                self._banked_bytes += self._rpc.get_received_bytes()
            self._rpc = rpc
            self._synced = False
            self._must_settle = True       # a new session: its conditions are answered anew
            if rpc is not None:
                self.connections += 1
        if rpc is not None and not self._synced and self.connected():
            # the (re)sync is done: what it cost says whether monitor_cond_since resumed
            self._synced = True
            self.sync_bytes = (self.sync_bytes + [rpc.get_received_bytes()])[-10:]

    @property
    def full_resyncs(self):
        """Reconnects that re-downloaded the whole replica (no history on the server)."""
        return self.idl.full_resyncs

    def member(self):
        """The remote of the current (or next) connection: which Raft member we talk to."""
        return self.idl.session_name()

    def rx_bytes(self):
        """Bytes received from the Southbound over this session's whole life."""
        live = self._rpc.get_received_bytes() if self._rpc is not None else 0
        return self._banked_bytes + live

    def wait(self, timeout_ms=100):
        poller = ovs.poller.Poller()
        self.idl.wait(poller)
        if self.writes.txn is not None:
            self.writes.txn.wait(poller)
        poller.timer_wait(timeout_ms)
        poller.block()

    def run_until(self, predicate, timeout=10.0, what="the Southbound"):
        deadline = time.monotonic() + timeout
        while True:
            self.run()
            if predicate():
                return
            if time.monotonic() > deadline:
                raise SouthboundError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.wait(50)

    def set_remote(self, remote, probe_interval_ms=None):
        """Point the session at other remote(s) (comma-separated Raft members) and
        reconnect now. The replica stays: the IDL asks the new server with
        monitor_cond_since from our last transaction id, so a member of the same cluster
        resumes, and a server without that history sends everything (a counted full
        resync). ovn-controller does the same through ovsdb_idl_set_remote()."""
        idl_private.set_remotes(self.idl, remote)    # no public set_remote in the Python IDL
        self.set_probe_interval(probe_interval_ms)
        self.idl.force_reconnect()

    def set_probe_interval(self, probe_interval_ms):
        """The inactivity probe of the live session (None: the OVS default, 5 s; 0: off).
        unix: remotes never probe, as in OVS."""
        idl_private.set_probe_interval(
            self.idl, DEFAULT_PROBE_MS if probe_interval_ms is None else probe_interval_ms)

    def probe_interval(self):
        return idl_private.reconnect_fsm(self.idl).get_probe_interval()

    def connected(self):
        """True once the initial contents arrived and updates are flowing."""
        return self.idl.state == self.idl.IDL_S_MONITORING

    def close(self):
        self.idl.close()

    # ---- conditional monitoring ----------------------------------------------------------

    def set_local(self, datapaths=None, ifaces=None):
        """Monitor only these datapaths (uuids) and these VIF logical ports (iface-ids)."""
        changed = datapaths_changed = False
        added = frozenset()
        if datapaths is not None and frozenset(datapaths) != self.local_datapaths:
            self.local_datapaths = frozenset(datapaths)
            changed = datapaths_changed = True
        if ifaces is not None and frozenset(ifaces) != self.local_ifaces:
            added = frozenset(ifaces) - self.local_ifaces
            if self.local_ifaces - frozenset(ifaces):
                datapaths_changed = True       # a narrowing: wait for it, as for datapaths
            self.local_ifaces = frozenset(ifaces)
            changed = True
        if changed and self.conditional:
            if not self._covered(datapaths_changed, added):
                self._must_settle = True
            self._apply_conditions()

    def _follow_reshapes(self):
        """Datapath groups or bindings changed: derive the conditions again in the run()
        that saw it. A flow northd moved to a group our condition does not name yet has
        just left the view; the new condition brings it back, and until the server answers
        the view is unsettled, so no step programs from the gap (the datapath keeps the
        flows it has). An unchanged condition sends nothing."""
        touched, self.idl.touched = self.idl.touched, set()
        if not self.conditional or not touched & RESHAPING:
            return
        if self._apply_conditions():
            self._must_settle = True
            self.reshapes += 1

    def resync(self):
        """Fetch the whole view again: the conditions derived anew, and a reconnect that
        asks for everything (no transaction id to resume from: a counted full resync).
        The repair when the view was found to differ from the server (viewcheck.py);
        unsettled until the server has sent it all."""
        if self.conditional:
            self._apply_conditions()
        self.idl.last_id = str(uuidlib.UUID(int=0))
        self.idl.force_reconnect()
        self._must_settle = True

    def _covered(self, datapaths_changed, added) -> bool:
        """A condition change the view already satisfies: only VIF ports added, and the
        replica holds each one's Port_Binding (its datapath is monitored already), so the
        server's answer can bring nothing the chassis needs. A VM booting on a switch this
        chassis already serves is programmed at once, without a round trip."""
        if datapaths_changed or not added:
            return False
        have = {r.logical_port for r in self.idl.tables["Port_Binding"].rows.values()}
        return added <= have

    def conditions_settled(self) -> bool:
        """True when the server has acknowledged every monitor condition we asked for, or
        the unacknowledged ones can bring nothing the view lacks (_covered), so a snapshot
        holds every row the current conditions select. Until then the view is half-widened
        (a VIF's port but not yet its datapath's flows): programming from it would take
        away what the chassis forwards now."""
        if not self.conditional:
            return True
        # the tables' public condition_state, not the seqno cond_change() returns: in
        # python ovs 3.7.1 that one is cond_seqno + 2 for any new condition (it tests the
        # bound method `request`, always true), one more than the server ever acks, so
        # waiting for it would wait until the next change (test_idl_private.py shows it)
        acked = not self.idl.cond_changed and all(
            t.condition_state.new is None and t.condition_state.requested is None
            for t in self.idl.tables.values())
        if acked:
            self._must_settle = False
        return acked or not self._must_settle

    def _apply_conditions(self) -> bool:
        """Set every conditional table's condition from the local datapaths, their groups
        and the VIFs; True if one differs from the last one asked for."""
        dps = sorted(self.local_datapaths)
        dp_refs = [["uuid", u] for u in dps]
        # the groups that hold a local datapath come with the datapaths' condition (as
        # ovn-controller monitors them); their flows need their uuids, known only once
        # the rows are here: _follow_reshapes() widens the flows' condition then
        dp_groups = [["datapaths", "includes", r] for r in dp_refs]
        groups = [g.uuid for g in self.idl.tables["Logical_DP_Group"].rows.values()
                  if any(str(d.uuid) in self.local_datapaths for d in g.datapaths)]
        keys = sorted(d.tunnel_key for d in self.idl.tables["Datapath_Binding"].rows.values()
                      if str(d.uuid) in self.local_datapaths)
        flow = [["logical_datapath", "==", r] for r in dp_refs] + \
               [["logical_dp_group", "==", ["uuid", str(g)]] for g in sorted(groups, key=str)]
        # patch ports always: they tell which datapaths are reachable from the local ones
        port = [["datapath", "==", r] for r in dp_refs] + [["type", "==", "patch"]] + \
               [["logical_port", "==", name] for name in sorted(self.local_ifaces)]
        per_dp = [["datapath", "==", r] for r in dp_refs]
        fdb = [["dp_key", "==", k] for k in keys]
        private = [["name", "==", self.chassis_name]]
        changed = False
        for table, cond in (("Logical_Flow", flow), ("Logical_DP_Group", dp_groups),
                            ("Port_Binding", port), ("Multicast_Group", per_dp),
                            ("MAC_Binding", per_dp), ("FDB", fdb),
                            ("Chassis_Private", private)):
            cond = cond or [False]
            changed |= self.idl.tables[table].condition_state.latest != cond
            self.idl.cond_change(table, cond)
        return changed

    # ---- snapshot ------------------------------------------------------------------------

    def _converted(self, table, convert, dirty):
        """The frozen rows of `table`, converting only rows changed since the last call
        (reading IDL columns is the expensive part of a snapshot): O(changed rows)."""
        rows = self.idl.tables[table].rows
        cache = self._rows.get(table)
        if cache is None:
            cache = self._rows[table] = {uuid: convert(row) for uuid, row in rows.items()}
        else:
            for name, uuid in dirty:
                if name == table:
                    row = rows.get(uuid)
                    if row is None:
                        cache.pop(uuid, None)      # deleted
                    else:
                        cache[uuid] = convert(row)
        return cache.values()

    def snapshot(self):
        t = self.idl.tables
        dirty, self.idl.dirty = self.idl.dirty, set()
        if self._snapshot is not None and not dirty and not self.idl.cleared:
            return self._snapshot    # the same object: callers may skip work by identity
        tables = {name for name, _ in dirty}
        if self.idl.cleared or "Logical_DP_Group" in tables:
            self._rows.clear()       # a flow's datapaths come from its group's row
            self._tuples.clear()
            self.idl.cleared = False
        last = self._tuples

        def unchanged(*names):
            # a table none of whose rows changed keeps its tuple: the same object, so
            # callers comparing snapshots (the incremental compiler) skip it by identity
            return names[0] in last and not tables.intersection(names)
        if unchanged("Chassis", "Encap"):
            chassis = last["Chassis"]
        else:
            # owner_encap: the encap IP an ovnbpf owner serves, kept in its Chassis row
            # (db/ownership.py); an equal tuple keeps the last one's object
            chassis = tuple(sorted((rows.Chassis(
                uuid=str(c.uuid), name=c.name, hostname=c.hostname,
                encaps=tuple(sorted(rows.Encap(e.type, e.ip, rows.frozen_map(e.options))
                                    for e in c.encaps)),
                other_config=rows.frozen_map(c.other_config),
                owner_encap=c.external_ids.get(rows.OWNER_ENCAP))
                for c in t["Chassis"].rows.values()), key=lambda c: c.name))
            if last.get("Chassis") != chassis:
                last["Chassis"] = chassis
            chassis = last["Chassis"]

        if unchanged("Datapath_Binding"):
            datapaths = last["Datapath_Binding"]
        else:
            datapaths = last["Datapath_Binding"] = tuple(sorted((rows.DatapathBinding(
                uuid=str(d.uuid), tunnel_key=d.tunnel_key,
                name=d.external_ids.get("name", d.external_ids.get("name2", "")),
                is_router="logical-router" in d.external_ids)
                for d in t["Datapath_Binding"].rows.values()), key=lambda d: d.tunnel_key))
        def port(p):
            dp = _ref(p.datapath)
            ch = _ref(p.chassis)
            return rows.PortBinding(
                uuid=str(p.uuid), logical_port=p.logical_port, datapath=str(dp.uuid) if dp else "",
                tunnel_key=p.tunnel_key, type=p.type, mac=tuple(p.mac),
                port_security=tuple(p.port_security), chassis=ch.name if ch else None,
                up=bool(_opt(p.up, False)), options=rows.frozen_map(p.options))

        def flow(f):
            dp = _ref(f.logical_datapath)
            group = _ref(f.logical_dp_group)
            dps = (str(dp.uuid),) if dp else tuple(sorted(str(d.uuid) for d in group.datapaths)) if group else ()
            return rows.LogicalFlow(
                uuid=str(f.uuid), datapaths=dps, pipeline=f.pipeline, table_id=f.table_id,
                priority=f.priority, match=f.match, actions=f.actions,
                stage=f.external_ids.get("stage-name", ""))

        def group(m):
            dp = _ref(m.datapath)
            return rows.MulticastGroup(
                uuid=str(m.uuid), datapath=str(dp.uuid) if dp else "", name=m.name,
                tunnel_key=m.tunnel_key, ports=tuple(sorted(p.logical_port for p in m.ports)))

        def binding(b):
            dp = _ref(b.datapath)
            return rows.MACBinding(str(b.uuid), b.logical_port, b.ip, b.mac, str(dp.uuid) if dp else "")

        key = lambda r: r.uuid  # noqa: E731 - deterministic order

        def table(name, convert):
            if not unchanged(name):
                last[name] = tuple(sorted(self._converted(name, convert, dirty), key=key))
            return last[name]
        ports = table("Port_Binding", port)
        flows = table("Logical_Flow", flow)
        mcast = table("Multicast_Group", group)
        macb = table("MAC_Binding", binding)
        fdbs = [rows.FDB(str(f.uuid), f.mac, f.dp_key, f.port_key) for f in t["FDB"].rows.values()]
        glob = next(iter(t["SB_Global"].rows.values()), None)
        nb_cfg = glob.nb_cfg if glob else 0

        def same(name, value):     # an equal value keeps the last snapshot's object
            if last.get(name) != value:
                last[name] = value
            return last[name]
        # sets of 100,000 members: converted again only when one of their rows changed
        if unchanged("Address_Set", "SB_Global"):
            address_sets = last["Address_Set"]
        else:
            sets = {a.name: tuple(sorted(a.addresses)) for a in t["Address_Set"].rows.values()}
            # ovn-controller expands $svc_monitor_mac from SB_Global options, not Address_Set
            if glob and glob.options.get("svc_monitor_mac"):
                sets["svc_monitor_mac"] = (glob.options["svc_monitor_mac"],)
            address_sets = same("Address_Set", rows.frozen_sets(sets))
        if unchanged("Port_Group"):
            port_groups = last["Port_Group"]
        else:
            port_groups = same("Port_Group", rows.frozen_sets(
                {g.name: tuple(sorted(g.ports)) for g in t["Port_Group"].rows.values()}))
        self._snapshot = rows.SBState(chassis=chassis, datapaths=datapaths, ports=ports,
                            flows=flows, mcast_groups=mcast, mac_bindings=macb,
                            fdbs=same("FDB", tuple(sorted(fdbs, key=key))), nb_cfg=nb_cfg,
                            address_sets=address_sets, port_groups=port_groups,
                            dns=last["DNS"] if unchanged("DNS") else same("DNS", _dns_rows(t)))
        return self._snapshot

    # ---- writes (only rows this chassis owns) --------------------------------------------

    def write(self, kind, what, build, done=None, timeout=10.0):
        """Queue a write of our rows (sbwrites.py): it goes in the next transaction, merged
        with the others waiting, and replaces a waiting one of the same kind. With
        wait_writes (not in the daemon's loop) return once the server took it."""
        self.writes.want(kind, what, build, done)
        self.writes.run()
        if self.wait_writes:
            self.flush(timeout, what)

    def flush(self, timeout=10.0, what="our Southbound writes"):
        """Run the session until no write of ours is waiting or in flight: start-up, a
        clean stop, tools and tests (never the daemon's loop). SouthboundError if one
        failed, or none went through in `timeout` (the server away: "try again")."""
        deadline = time.monotonic() + timeout
        while self.writes.busy():
            self.run()
            if not self.writes.busy():
                break
            if time.monotonic() > deadline:
                why = self.writes.failed.get(what) or "no answer from the server"
                raise SouthboundError(f"{what}: transaction {why}")
            self.wait(50)
        if what in self.writes.failed:
            raise SouthboundError(f"{what}: {self.writes.failed[what]}")

    def writing(self, kind) -> bool:
        """A write of `kind` queued or in flight (not yet taken by the server)."""
        return self.writes.busy(kind)

    def _own_chassis(self):
        return next((c for c in self.idl.tables["Chassis"].rows.values() if c.name == self.chassis_name), None)

    def _write_chassis(self, txn, name, encap_type, encap_ip, hostname):
        """Our Chassis `name` with exactly one Encap (type, ip), and its Chassis_Private:
        created, or updated in place. Returns the Chassis row."""
        ch = next((c for c in self.idl.tables["Chassis"].rows.values() if c.name == name), None)
        current, ids = [], {}
        if ch is None:
            ch = txn.insert(self.idl.tables["Chassis"], new_uuid=uuidlib.uuid4())
            ch.name = name
        else:
            current, ids = list(ch.encaps), dict(ch.external_ids)
        ch.hostname = hostname or name
        if [(e.type, e.ip) for e in current] != [(encap_type, encap_ip)]:
            for e in current:
                e.delete()
            enc = txn.insert(self.idl.tables["Encap"])
            enc.type, enc.ip, enc.chassis_name = encap_type, encap_ip, name
            enc.options = {"csum": "true"}
            ch.encaps = [enc]
        # rows.EGRESS_DONE_FEATURE: we accept the egress-done bit (bpf/lib/split.h), so
        # chassis in ingress mode may send it to us; ovn-controller never sets the key
        ch.other_config = {"datapath-type": "", "ovn-bridge-mappings": "",
                           "iface-types": "", "is-interconn": "false",
                           rows.EGRESS_DONE_FEATURE: "true",
                           **({rows.EGRESS_DONE_SENDS: "true"} if self.sends_egress_done else {})}
        if self.owner_ids:
            # what peers tunnel to while our Encap says otherwise (a writer without an
            # owner record moved it): in the Chassis row every chassis monitors anyway,
            # changed only with our encap, never by our heartbeats
            if ids.get(rows.OWNER_ENCAP) != encap_ip:
                ch.external_ids = {**ids, rows.OWNER_ENCAP: encap_ip}
        priv = next((p for p in self.idl.tables["Chassis_Private"].rows.values()
                     if p.name == name), None)
        kept = {}
        if priv is None:
            priv = txn.insert(self.idl.tables["Chassis_Private"])
            priv.name = name
        else:
            kept = dict(priv.external_ids)
        priv.chassis = ch
        if self.owner_ids:       # our owner record goes with our rows, in one transaction
            priv.external_ids = {**kept, **self.owner_ids,
                                 "ovnbpf-owner-encap": encap_ip,
                                 "ovnbpf-owner-host": hostname or name}
        return ch

    def register_chassis(self, encap_type, encap_ip, hostname=None):
        """Create or update our Chassis, its Encap and Chassis_Private (never others')."""
        name = self.chassis_name

        def build(txn):
            self._write_chassis(txn, name, encap_type, encap_ip, hostname)
        self.write("chassis", f"register chassis {name}", build)
        if self.wait_writes:
            self.run_until(lambda: self._own_chassis() is not None, what="our Chassis row")

    def _own_private(self):
        return next((p for p in self.idl.tables["Chassis_Private"].rows.values()
                     if p.name == self.chassis_name), None)

    def rename_chassis(self, new_name, encap_type, encap_ip, hostname=None):
        """system-id changed: register Chassis `new_name` (Encap, Chassis_Private), move
        the ports bound to our old Chassis to it, and delete the old rows, in one
        transaction, so peers never see our ports unbound. (ovn-controller registers the
        new name and claims its VIFs for it too, but leaves the old rows behind for
        `ovn-sbctl chassis-del`.)"""
        old_name = self.chassis_name

        def build(txn):
            new = self._write_chassis(txn, new_name, encap_type, encap_ip, hostname)
            old = next((c for c in self.idl.tables["Chassis"].rows.values()
                        if c.name == old_name), None)
            for p in self.idl.tables["Port_Binding"].rows.values():
                bound = _ref(p.chassis)
                if bound is not None and bound.name == old_name:
                    p.chassis = new
            for p in list(self.idl.tables["Chassis_Private"].rows.values()):
                if p.name == old_name:
                    p.delete()
            if old is not None:
                for e in old.encaps:
                    e.delete()
                old.delete()
        self.write("chassis", f"rename chassis {old_name} -> {new_name}", build)
        self.chassis_name = new_name
        # our replica holds our own Chassis_Private only (its old row, deleted above): the
        # new one comes with the condition naming it, and the view is unsettled till then
        if self.conditional and self._apply_conditions():
            self._must_settle = True
        if self.wait_writes:
            self.run_until(lambda: self._own_chassis() is not None
                       and (self._own_private() is not None or not self.conditional),
                       what="our new Chassis and Chassis_Private rows")

    def unregister_chassis(self):
        def build(txn):
            for p in list(self.idl.tables["Chassis_Private"].rows.values()):
                if p.name == self.chassis_name:
                    p.delete()
            ch = self._own_chassis()
            if ch is not None:
                for e in ch.encaps:
                    e.delete()
                ch.delete()
        self.write("chassis", f"unregister chassis {self.chassis_name}", build)

    def set_claims(self, claimed):
        """Bind exactly the logical ports in `claimed` to us (chassis + up); release ports
        bound to us that are no longer claimed. Ports bound elsewhere are taken over, as
        ovn-controller does when a VIF moves."""
        claimed = frozenset(claimed)

        def build(txn):
            ch = self._own_chassis()
            for p in self.idl.tables["Port_Binding"].rows.values():
                bound = _ref(p.chassis)
                mine = bound is not None and bound.name == self.chassis_name
                if p.logical_port in claimed:
                    if ch is None:
                        continue         # our Chassis is not there yet: claim it later
                    if not mine:
                        p.chassis = ch
                    if not _opt(p.up, False):
                        p.up = [True]
                elif mine:
                    p.chassis = []
                    p.up = [False]
        self.write("claims", "port claims", build)

    def put_mac_bindings(self, bindings):
        """Learned neighbours (put_arp/put_nd through the punt path), as ovn-controller
        writes them: one MAC_Binding row per (logical_port, ip), its mac updated. Learned
        ones wait in self._macs until a transaction carrying them succeeded."""
        for b in bindings:
            self._macs[(b.logical_port, b.ip)] = b
        bindings = None

        def build(txn):
            sent = dict(self._macs)
            existing = {(r.logical_port, r.ip): r for r in self.idl.tables["MAC_Binding"].rows.values()}
            dps = {str(d.uuid): d for d in self.idl.tables["Datapath_Binding"].rows.values()}
            for b in sent.values():
                row = existing.get((b.logical_port, b.ip))
                if row is None:
                    if b.datapath not in dps:
                        continue
                    row = txn.insert(self.idl.tables["MAC_Binding"])
                    row.logical_port, row.ip, row.datapath = b.logical_port, b.ip, dps[b.datapath]
                    row.mac = b.mac
                    existing[(b.logical_port, b.ip)] = row
                elif row.mac != b.mac:
                    row.mac = b.mac
            return sent

        def done(sent):          # learned again meanwhile (another MAC): that one still waits
            for key, b in sent.items():
                if self._macs.get(key) == b:
                    del self._macs[key]
        self.write("mac_binding", "MAC_Binding (learned neighbours)", build, done)

    def ack_nb_cfg(self, nb_cfg):
        """Tell northd we have applied SB state up to nb_cfg (makes `--wait=hv` return)."""
        def build(txn):
            for p in self.idl.tables["Chassis_Private"].rows.values():
                if p.name == self.chassis_name and p.nb_cfg != nb_cfg:
                    p.nb_cfg = nb_cfg
                    p.nb_cfg_timestamp = int(time.time() * 1000)
        self.write("nb_cfg", "nb_cfg ack", build)


def ssl_diagnose(remote, key, cert, ca, timeout=2.0):
    """Why an ssl: Southbound remote does not work, in one line (None if it does).

    The IDL only sees a failed connection and retries; this repeats the TLS handshake the
    way the OVS stream does (our key, certificate and CA; the server's certificate must
    chain to that CA) and asks the server for an echo, so a certificate the server
    refuses shows as well as one we refuse."""
    import json
    import socket
    import ssl
    problems = []
    for member in remote.split(","):
        member = member.strip()
        if not member.startswith("ssl:"):
            continue
        host, _, port = member[4:].rpartition(":")
        try:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_verify_locations(ca)
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as e:
            return f"cannot load the SSL table's files ({key}, {cert}, {ca}): {e}"
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw, \
                    ctx.wrap_socket(raw) as s:
                s.sendall(json.dumps({"method": "echo", "params": [], "id": 0}).encode())
                if not s.recv(4096):
                    raise ssl.SSLError("the server closed the connection after the handshake")
                return None
        except ssl.SSLCertVerificationError as e:
            problems.append(f"{member}: we refuse the server's certificate: {e.verify_message} "
                            f"(the CA in the SSL table, {ca}, did not sign it)")
        except ssl.SSLError as e:
            reason = getattr(e, "reason", None) or str(e)
            problems.append(f"{member}: the TLS handshake failed: {reason}"
                            + (" (the server refuses our certificate: it is not signed by "
                               "the server's CA)" if "UNKNOWN_CA" in str(reason).upper()
                               or "CERTIFICATE" in str(reason).upper() else ""))
        except OSError as e:
            problems.append(f"{member}: {e.strerror or e}")
    return "; ".join(problems) or None
