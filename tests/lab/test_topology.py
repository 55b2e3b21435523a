"""Topology files: the shipped ones parse; malformed ones are rejected with file:line: key."""
import pytest

from topologies.lab import topology
from topologies.lab.logical import nbctl_commands
from topologies.lab.topology import TopologyError

GOOD = """\
chassis:
  hv1: {kind: ovs}
switches:
  ls1: {subnet: 10.0.1.0/24, key: 1}
vms:
  vm1: {chassis: hv1, switch: ls1, mac: "0a:00:00:00:01:01", ip: 10.0.1.11, key: 1}
"""


def test_shipped_topologies_parse():
    two = topology.load("two-chassis")
    assert [c.name for c in two.chassis] == ["hv1", "hv2"]
    assert {v.name: v.chassis for v in two.vms} == {
        "vm1": "hv1", "vm2": "hv1", "vm3": "hv2", "vm4": "hv2", "vm5": "hv2", "vm6": "hv1"}
    assert two.vm_named("vm5").gateway is not None and str(two.vm_named("vm5").gateway) == "10.0.2.1"
    three = topology.load("three-chassis")
    assert len(three.chassis) == 3 and three.vm_named("vm7").chassis == "hv3"


def test_minimal_topology_defaults():
    t = topology.parse(GOOD, "mini.yaml")
    assert t.name == "mini" and t.sb_cluster == 1 and t.routers == () and t.sb_ssl is False
    assert topology.parse("sb_ssl: true\n" + GOOD, "mini.yaml").sb_ssl is True
    assert t.vm_named("vm1").gateway is None and str(t.vm_named("vm1").ip) == "10.0.1.11/24"


# (replace this text in GOOD, with that) -> expected message fragment (with the line number)
BAD = [
    (("hv1: {kind: ovs}", "hv1: {kind: kvm}"), "t.yaml:2: chassis.hv1.kind: must be one of: ovnbpf, ovs"),
    (("hv1: {kind: ovs}", "hv1: {kind: ovs, colour: red}"), "t.yaml:2: chassis.hv1.colour: unknown key"),
    (("ls1: {subnet: 10.0.1.0/24, key: 1}", "ls1: {subnet: 10.0.1.0/33, key: 1}"),
     "t.yaml:4: switches.ls1.subnet: not a valid IPv4 subnet"),
    (("key: 1}\nvms", "key: 0}\nvms"), "t.yaml:4: switches.ls1.key: must be an integer from 1 to 16777215"),
    (("chassis: hv1, switch", "chassis: hv9, switch"), "t.yaml:6: vms.vm1.chassis: unknown chassis 'hv9'"),
    (("ip: 10.0.1.11", "ip: 10.0.2.11"), "t.yaml:6: vms.vm1.ip: 10.0.2.11 is not in ls1's subnet 10.0.1.0/24"),
    (('mac: "0a:00:00:00:01:01"', 'mac: "0a:00:00:00:01"'), "t.yaml:6: vms.vm1.mac: must be a MAC"),
    (("ip: 10.0.1.11, key: 1}", "ip: 10.0.1.11, key: 40000}"), "vms.vm1.key: must be an integer from 1 to 32767"),
    (("vm1:", "VM_1:"), "t.yaml:6: vms.VM_1: names are 1-8 characters"),
    (("switches:\n  ls1: {subnet: 10.0.1.0/24, key: 1}", "switches: 7"), "t.yaml:3: switches: must be a mapping, not int"),
    (("switches:", "colour: red\nswitches:"), "t.yaml:3: colour: unknown key"),
    (("switches:", "sb_ssl: yes please\nswitches:"), "t.yaml:3: sb_ssl: must be true"),
    (("  hv1: {kind: ovs}", "  hv1: {kind: ovs\n  hv2: ["), "t.yaml:3: not valid YAML"),
]


@pytest.mark.parametrize("edit,expected", BAD, ids=lambda v: str(v)[:40])
def test_malformed_topology_is_rejected_with_location(edit, expected):
    text = GOOD.replace(edit[0], edit[1], 1)
    assert text != GOOD
    with pytest.raises(TopologyError) as e:
        topology.parse(text, "t.yaml")
    assert expected in str(e.value)


def test_duplicates_are_rejected():
    dup_key = GOOD + '  vm2: {chassis: hv1, switch: ls1, mac: "0a:00:00:00:01:02", ip: 10.0.1.12, key: 1}\n'
    with pytest.raises(TopologyError, match=r"vms.vm2: port key 1 is already used by lsp-vm1"):
        topology.parse(dup_key, "t.yaml")
    dup_ip = GOOD + '  vm2: {chassis: hv1, switch: ls1, mac: "0a:00:00:00:01:02", ip: 10.0.1.11, key: 2}\n'
    with pytest.raises(TopologyError, match=r"vms.vm2: IP 10.0.1.11 is already used by vm1"):
        topology.parse(dup_ip, "t.yaml")
    dup_yaml_key = GOOD.replace("switches:", "chassis:\n  hv2: {kind: ovs}\nswitches:")
    with pytest.raises(TopologyError, match=r"duplicate key 'chassis'"):
        topology.parse(dup_yaml_key, "t.yaml")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TopologyError, match=r"cannot read topology file"):
        topology.load(str(tmp_path / "nope.yaml"))


def test_nbctl_commands_pin_every_tunnel_key():
    argv = nbctl_commands(topology.load("two-chassis"))
    text = " ".join(argv)
    assert "Logical_Switch ls1 other_config:requested-tnl-key=1" in text
    assert "Logical_Router lr1 options:requested-tnl-key=3" in text
    assert "lsp-set-options ls1-lr1 router-port=lrp-ls1 requested-tnl-key=100" in text
    assert "Logical_Switch_Port lsp-vm5 options:requested-tnl-key=5" in text
    assert "lsp-set-addresses lsp-vm5 0a:00:00:00:02:05 10.0.2.15" in text
    assert argv.count("--") == len([a for a in argv if a in ("ls-add", "lr-add", "lrp-add", "lsp-add",
                                                             "set", "lsp-set-type", "lsp-set-addresses",
                                                             "lsp-set-options")]) - 1


def test_dual_stack_keys():
    """subnet6 / ip6 (issue 15): the dual-stack labs' addresses reach the NB commands."""
    t = topology.load("ebpf6")
    vm5 = t.vm_named("vm5")
    assert str(vm5.ip6) == "fd00:0:0:2::15/64" and str(vm5.gateway6) == "fd00:0:0:2::1"
    assert str(t.routers[0].ports[1].ip6) == "fd00:0:0:2::1/64"
    text = " ".join(nbctl_commands(t))
    assert "lsp-set-addresses lsp-vm5 0a:00:00:00:02:05 10.0.2.15 fd00:0:0:2::15" in text
    assert "lrp-add lr1 lrp-ls2 02:00:00:00:02:01 10.0.2.1/24 fd00:0:0:2::1/64" in text
    assert len(topology.load("mixed6").vms) == 7
    assert all(v.ip6 is None for v in topology.load("ebpf").vms)
    six = GOOD.replace("key: 1}\nvms", 'subnet6: "fd00::/64", key: 1}\nvms').replace(
        "ip: 10.0.1.11,", 'ip: 10.0.1.11, ip6: "fd00::11",')
    assert str(topology.parse(six, "t.yaml").vm_named("vm1").ip6) == "fd00::11/64"
    with pytest.raises(TopologyError, match=r"t.yaml:6: vms.vm1.ip6: fd01::11 is not in ls1's subnet6"):
        topology.parse(six.replace("fd00::11", "fd01::11"), "t.yaml")
    with pytest.raises(TopologyError, match=r"vms.vm1.ip6: switch ls1 has no subnet6"):
        topology.parse(GOOD.replace("ip: 10.0.1.11,", 'ip: 10.0.1.11, ip6: "fd00::11",'), "t.yaml")


def test_dhcp_key_makes_one_options_row_per_switch():
    text = GOOD.replace("ls1: {subnet: 10.0.1.0/24, key: 1}",
                        "ls1: {subnet: 10.0.1.0/24, key: 1, dhcp: {server_id: 10.0.1.1, server_mac: "
                        "\"02:00:00:00:01:01\", dns_server: [8.8.8.8, 1.1.1.1], domain_name: ovn.org, mtu: 1400}}")
    t = topology.parse(text, "t.yaml")
    assert dict(t.switches[0].dhcp) == {"server_id": "10.0.1.1", "server_mac": "02:00:00:00:01:01",
                                        "dns_server": "{8.8.8.8, 1.1.1.1}", "domain_name": '"ovn.org"',
                                        "mtu": "1400", "lease_time": "3600"}
    argv = nbctl_commands(t)
    create = argv.index("create")
    assert argv[create - 1] == "--id=@dhcp_ls1" and argv[create + 2] == "cidr=10.0.1.0/24"
    assert 'options:domain_name="\\"ovn.org\\""' in argv
    assert "dhcpv4_options=@dhcp_ls1" in argv
    assert topology.parse(GOOD, "t.yaml").switches[0].dhcp == ()


@pytest.mark.parametrize("dhcp,expected", [
    ("{colour: red}", "switches.ls1.dhcp.colour: not a DHCPv4 option"),
    ("{mtu: 1400}", "server_id is required on a switch without a router port"),
    ("{dns_server: [[1]]}", "must be a value or a list of values")])
def test_bad_dhcp_keys(dhcp, expected):
    text = GOOD.replace("key: 1}\nvms", f"key: 1, dhcp: {dhcp}}}\nvms")
    with pytest.raises(TopologyError, match=expected):
        topology.parse(text, "t.yaml")


def test_dns_key_makes_one_dns_row_per_switch():
    text = GOOD.replace("key: 1}\nvms", "key: 1, dns: {VM1.ovn.org: [10.0.1.11, fd00::11], "
                        "11.1.0.10.in-addr.arpa: vm1.ovn.org}}\nvms")
    t = topology.parse(text, "t.yaml")
    assert t.switches[0].dns == (("11.1.0.10.in-addr.arpa", "vm1.ovn.org"), ("vm1.ovn.org", "10.0.1.11 fd00::11"))
    argv = nbctl_commands(t)
    assert 'records:"vm1.ovn.org"="10.0.1.11 fd00::11"' in argv
    assert argv[argv.index("dns_records") + 1] == "@dns_ls1"


def test_dhcp6_key_needs_subnet6_and_sets_the_v6_ports():
    text = GOOD.replace("ls1: {subnet: 10.0.1.0/24, key: 1}",
                        'ls1: {subnet: 10.0.1.0/24, subnet6: "fd00:0:0:1::/64", key: 1, '
                        'dhcp6: {server_id: "02:00:00:00:01:01", dns_server: ["fd00::53"], '
                        'dhcpv6_stateless: true}}').replace("key: 1}\n", 'key: 1, ip6: "fd00:0:0:1::11"}\n')
    t = topology.parse(text, "t.yaml")
    assert dict(t.switches[0].dhcp6) == {"server_id": "02:00:00:00:01:01", "dns_server": "{fd00::53}",
                                         "dhcpv6_stateless": "true"}
    argv = nbctl_commands(t)
    assert 'cidr="fd00:0:0:1::/64"' in argv and "dhcpv6_options=@dhcp6_ls1" in argv
    with pytest.raises(TopologyError, match="needs the switch's subnet6"):
        topology.parse(GOOD.replace("key: 1}\nvms", "key: 1, dhcp6: {dns_server: fd00::53}}\nvms"), "t.yaml")


def test_vif_xdp_is_an_ovnbpf_chassis_key(tmp_path):
    from topologies.lab.topology import TopologyError, load
    from tests.lab.skbtopo import skb_topology
    topo = load(str(skb_topology("mixed", tmp_path)))
    assert {c.name: c.options.get("vif_xdp") for c in topo.chassis if c.kind == "ovnbpf"}
    assert all(c.options.get("vif_xdp") == "skb" for c in topo.chassis if c.kind == "ovnbpf")
    bad = tmp_path / "bad.yaml"
    bad.write_text(skb_topology("mixed", tmp_path).read_text().replace("vif_xdp: skb", "vif_xdp: fast", 1))
    with pytest.raises(TopologyError, match="vif_xdp"):
        load(str(bad))
