from controller.db.rows import PortBinding, frozen_map
from controller.local_datapaths import related_datapaths


def pb(name, dp, type_="", peer=None):
    return PortBinding(uuid=name, logical_port=name, datapath=dp, tunnel_key=1, type=type_, mac=(),
                       port_security=(), chassis=None, up=False,
                       options=frozen_map({"peer": peer} if peer else {}))


# ls1 -- lr1 -- ls2, and an unrelated ls3
PORTS = [pb("vm1", "ls1"), pb("vm5", "ls2"), pb("vm9", "ls3"),
         pb("ls1-lr1", "ls1", "patch", "lrp-ls1"), pb("lrp-ls1", "lr1", "patch", "ls1-lr1"),
         pb("ls2-lr1", "ls2", "patch", "lrp-ls2"), pb("lrp-ls2", "lr1", "patch", "ls2-lr1")]


def test_router_makes_both_switches_related():
    assert related_datapaths(PORTS, {"vm1"}) == {"ls1", "lr1", "ls2"}


def test_unrelated_switch_stays_out():
    assert related_datapaths(PORTS, {"vm9"}) == {"ls3"}
    assert related_datapaths(PORTS, set()) == frozenset()


def test_dangling_peer_is_ignored():
    ports = [pb("vm1", "ls1"), pb("ls1-lrx", "ls1", "patch", "gone")]
    assert related_datapaths(ports, {"vm1"}) == {"ls1"}
