"""The private parts of the ovs Python IDL we use (controller/db/idl_private.py), each
checked to be there and to be what we take it for: a new ovs release that moves one fails
here, by name, rather than in a running chassis. No server needed."""
import ovs.db.idl
import ovs.jsonrpc
import ovs.reconnect
import ovs.version

from controller.db import idl_private
from controller.db.southbound import COLUMNS, SB_SCHEMA


def _idl(remote="tcp:127.0.0.1:1"):
    helper = ovs.db.idl.SchemaHelper(location=SB_SCHEMA)
    for table, cols in COLUMNS.items():
        helper.register_columns(table, cols)
    return ovs.db.idl.Idl(remote, helper)


def test_the_private_parts_are_where_we_use_them():
    print(f"\n[figure] python ovs {ovs.version.VERSION} (checked with {idl_private.CHECKED_WITH})")
    idl = _idl()
    try:
        assert isinstance(idl_private.session(idl), ovs.jsonrpc.Session)
        fsm = idl_private.reconnect_fsm(idl)
        assert isinstance(fsm, ovs.reconnect.Reconnect)
        # what sbhealth.py reads and hooks
        assert hasattr(fsm.state, "name") and isinstance(fsm.last_activity, (int, float))
        assert isinstance(fsm.backoff, (int, float))
        for method in ("disconnected", "get_probe_interval", "get_max_backoff", "get_name"):
            assert callable(getattr(fsm, method)), method
        assert idl_private.rpc(idl) is None          # not connected: no connection yet
        idl_private.set_probe_interval(idl, 7000)
        assert fsm.get_probe_interval() == 7000
        idl_private.set_remotes(idl, "tcp:127.0.0.1:2,tcp:127.0.0.1:3")
        assert idl.session_name() in ("tcp:127.0.0.1:2", "tcp:127.0.0.1:3")
        assert sorted(idl_private.session(idl).remotes) == ["tcp:127.0.0.1:2", "tcp:127.0.0.1:3"]
        idl_private.set_remotes(idl, "unix:/nonexistent/sb.sock")
        idl_private.set_probe_interval(idl, 7000)
        assert fsm.get_probe_interval() == 0, "unix: remotes never probe"
        txn = ovs.db.idl.Transaction(idl)
        row = txn.insert(idl.tables["Chassis"])
        assert idl_private.row_table_name(row) == "Chassis"
        txn.abort()
    finally:
        idl.close()


def test_cond_change_seqno_is_one_too_many_in_this_ovs():
    """Why conditions_settled() reads condition_state rather than waiting for the seqno
    cond_change() returns: with nothing in flight, a new condition is acked at
    cond_seqno + 1, but cond_change() says + 2. If this fails, ovs fixed it: the seqno
    can then replace the condition_state reads in southbound.py."""
    idl = _idl()
    try:
        assert idl.cond_seqno == 0
        want = idl.cond_change("Port_Binding", [["type", "==", "patch"]])
        assert not any(t.condition_state.requested for t in idl.tables.values())
        assert want == idl.cond_seqno + 2
    finally:
        idl.close()
