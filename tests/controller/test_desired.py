"""desired.compute: Southbound snapshot -> the datapath state of one chassis (pure logic)."""
from controller.chassisd import desired as D
from controller.db import rows as R

DP_LS1, DP_LS2, DP_LR, DP_FAR = "u-ls1", "u-ls2", "u-lr1", "u-far"


def _state(**over):
    chassis = (R.Chassis("c1", "hv1", "hv1", (R.Encap("geneve", "172.31.250.11"),)),
               R.Chassis("c2", "hv2", "hv2", (R.Encap("geneve", "172.31.250.12"),)),
               R.Chassis("c3", "hv3", "hv3", (R.Encap("vxlan", "172.31.250.13"),)))
    dps = (R.DatapathBinding(DP_LS1, 1, "ls1", False), R.DatapathBinding(DP_LS2, 2, "ls2", False),
           R.DatapathBinding(DP_LR, 3, "lr1", True), R.DatapathBinding(DP_FAR, 9, "far", False))
    P = R.PortBinding
    ports = (
        P("p1", "lsp-vm1", DP_LS1, 1, "", (), (), "hv1", True),
        P("p2", "lsp-vm2", DP_LS1, 2, "", (), (), "hv2", True),
        P("p3", "lsp-vm9", DP_LS1, 3, "", (), (), "hv3", True),      # chassis without geneve
        P("p4", "lsp-unbound", DP_LS1, 4, "", (), (), None, False),
        P("p5", "ls1-lr1", DP_LS1, 100, "patch", (), (), None, False, (("peer", "lr1-ls1"),)),
        P("p6", "lr1-ls1", DP_LR, 1, "patch", (), (), None, False, (("peer", "ls1-lr1"),)),
        P("p7", "lr1-ls2", DP_LR, 2, "patch", (), (), None, False, (("peer", "ls2-lr1"),)),
        P("p8", "ls2-lr1", DP_LS2, 100, "patch", (), (), None, False, (("peer", "lr1-ls2"),)),
        P("p9", "lsp-vm5", DP_LS2, 5, "", (), (), "hv2", True),
        P("pa", "lsp-ln", DP_LS2, 6, "localnet", (), (), None, False),
        P("pb", "lsp-far", DP_FAR, 1, "", (), (), "hv2", True),
    )
    groups = (R.MulticastGroup("g1", DP_LS1, "_MC_flood", 32768,
                               ("lsp-vm1", "lsp-vm2", "lsp-vm9", "lsp-unbound", "ls1-lr1")),
              R.MulticastGroup("g2", DP_FAR, "_MC_flood", 32768, ("lsp-far",)))
    kw = dict(chassis=chassis, datapaths=dps, ports=ports, mcast_groups=groups)
    kw.update(over)
    return R.SBState(**kw)


def test_local_vif_remote_port_patch_and_related_datapaths():
    want = D.compute(_state(), "hv1", {"lsp-vm1": "vm1-p"}, D.ChassisIds())
    assert want.claims == {"lsp-vm1"}
    assert want.local_datapaths == {DP_LS1, DP_LR, DP_LS2}          # not DP_FAR
    assert want.vifs == {"vm1-p": (1, 1)}
    ids = want.tunnels
    hv2 = next(i for i, ip in ids.items() if ip == "172.31.250.12")
    assert want.lports[(1, 1)] == D.LocalVif("vm1-p")
    assert want.lports[(1, 2)] == D.Remote(hv2)
    assert want.lports[(1, 100)] == D.Patch(3, 1)
    assert want.lports[(3, 2)] == D.Patch(2, 100)
    assert want.lports[(2, 5)] == D.Remote(hv2)
    assert (1, 4) not in want.lports                               # unbound: no entry
    assert (1, 3) not in want.lports and (2, 6) not in want.lports
    reasons = " ".join(r for _, r in want.problems)
    assert "hv3 has no geneve encap" in reasons and "'localnet' is not forwarded" in reasons
    assert want.mcast == {(1, 32768): D.Group((1, 100), (hv2,), 32768)}


def test_no_vif_means_nothing_local():
    want = D.compute(_state(), "hv1", {}, D.ChassisIds())
    assert not want.local_datapaths and not want.lports and not want.mcast and not want.claims


def test_vif_whose_port_is_not_in_the_sb_is_not_claimed():
    want = D.compute(_state(), "hv1", {"lsp-nothere": "x-p"}, D.ChassisIds())
    assert not want.claims and not want.vifs


def test_chassis_ids_are_stable_and_reused():
    ids = D.ChassisIds()
    a = ids.assign(["hv1", "hv2", "hv3"])
    b = ids.assign(["hv1", "hv3", "hv4"])
    assert a["hv1"] == b["hv1"] and a["hv3"] == b["hv3"]
    assert b["hv4"] == a["hv2"]                                     # the freed id comes back
    assert len(set(b.values())) == 3 and all(1 <= v <= D.MAX_CHASSIS_ID for v in b.values())


def test_synthetic_group_joins_port_and_group_members():
    want = D.compute(_state(), "hv1", {"lsp-vm1": "vm1-p"}, D.ChassisIds())
    keys = {"lsp-vm1": 1, "ls1-lr1": 100}
    got = D.synthetic_groups(want, {"clone:ls1-lr1+_MC_flood_l2": (1, ("ls1-lr1",), 32768)},
                             keys.get)
    key = got["clone:ls1-lr1+_MC_flood_l2"]
    assert key >= 65536
    g = want.mcast[(1, key)]
    assert g.local_ports == (1, 100) and g.wire_key == 32768 and g.remote_chassis


def test_tunnel_goes_to_the_owner_not_to_an_encap_it_disagrees_with():
    """An ovnbpf chassis' Chassis row says which IP its owner serves (owner_encap, from
    external_ids:ovnbpf-owner-encap): an Encap row rewritten to another IP (a copied
    system-id, ovn-sbctl) is not followed, and the disagreement is a problem naming both
    IPs and the remedy; a chassis without the record (OVS) is followed by its Encap."""
    def state(owner_encap):
        return R.SBState(chassis=(
            R.Chassis("c1", "hv1", "hv1", (R.Encap("geneve", "172.31.250.11"),)),
            R.Chassis("c2", "hv2", "hv2", (R.Encap("geneve", "172.31.250.99"),),
                      owner_encap=owner_encap)), datapaths=(), ports=(), mcast_groups=())
    ids = D.ChassisIds()
    want = D.compute(state("172.31.250.12"), "hv1", {}, ids)
    assert want.tunnels == {ids.ids["hv2"]: "172.31.250.12"}
    assert [u for u, _ in want.problems] == ["c2"]
    reason = want.problems[0][1]
    assert "172.31.250.99" in reason and "172.31.250.12" in reason
    assert "ovn-sbctl chassis-del hv2" in reason
    for owner_encap in (None, "172.31.250.99"):
        want = D.compute(state(owner_encap), "hv1", {}, ids)
        assert want.tunnels == {ids.ids["hv2"]: "172.31.250.99"}, owner_encap
        assert want.problems == []
