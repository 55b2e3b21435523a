"""The logical topology of a lab, written to the real NB with ovn-nbctl in one transaction.

Tunnel keys are pinned (requested-tnl-key): northd assigns keys in hash order when several
datapaths are created together, and captures are only comparable with fixed keys.
"""
import json


def nbctl_commands(topo):
    """The ovn-nbctl arguments (commands joined by `--`) that create `topo`."""
    cmds = []
    for sw in topo.switches:
        cmds.append(["ls-add", sw.name])
        cmds.append(["set", "Logical_Switch", sw.name, f"other_config:requested-tnl-key={sw.key}"])
    for r in topo.routers:
        cmds.append(["lr-add", r.name])
        cmds.append(["set", "Logical_Router", r.name, f"options:requested-tnl-key={r.key}"])
        for p in r.ports:
            cmds.append(["lrp-add", r.name, p.name, p.mac, str(p.ip)] + ([str(p.ip6)] if p.ip6 else []))
            cmds.append(["set", "Logical_Router_Port", p.name, f"options:requested-tnl-key={p.key}"])
            sp = p.switch_port
            cmds.append(["lsp-add", p.switch, sp])
            cmds.append(["lsp-set-type", sp, "router"])
            cmds.append(["lsp-set-addresses", sp, "router"])
            cmds.append(["lsp-set-options", sp, f"router-port={p.name}",
                         f"requested-tnl-key={p.switch_port_key}"])
    for sw in topo.switches:
        if sw.dhcp:       # one DHCP_Options row per switch, named in this transaction
            cmds.append([f"--id=@dhcp_{sw.name}", "create", "DHCP_Options", f"cidr={sw.subnet}"]
                        + [f"options:{k}={json.dumps(v)}" for k, v in sw.dhcp])
        if sw.dns:        # one DNS row per switch (northd gives it the dns_id pinctrl needs)
            cmds.append([f"--id=@dns_{sw.name}", "create", "DNS"]
                        + [f"records:{json.dumps(k)}={json.dumps(v)}" for k, v in sw.dns])
            cmds.append(["add", "Logical_Switch", sw.name, "dns_records", f"@dns_{sw.name}"])
        if sw.dhcp6:
            cmds.append([f"--id=@dhcp6_{sw.name}", "create", "DHCP_Options", f"cidr={json.dumps(str(sw.subnet6))}"]
                        + [f"options:{k}={json.dumps(v)}" for k, v in sw.dhcp6])
    dhcp_of = {sw.name for sw in topo.switches if sw.dhcp}
    dhcp6_of = {sw.name for sw in topo.switches if sw.dhcp6}
    for vm in topo.vms:
        cmds.append(["lsp-add", vm.switch, vm.port])
        cmds.append(["lsp-set-addresses", vm.port,
                     f"{vm.mac} {vm.ip.ip}" + (f" {vm.ip6.ip}" if vm.ip6 else "")])
        cmds.append(["set", "Logical_Switch_Port", vm.port, f"options:requested-tnl-key={vm.key}"])
        if vm.switch in dhcp_of:
            cmds.append(["set", "Logical_Switch_Port", vm.port, f"dhcpv4_options=@dhcp_{vm.switch}"])
        if vm.switch in dhcp6_of and vm.ip6:
            cmds.append(["set", "Logical_Switch_Port", vm.port, f"dhcpv6_options=@dhcp6_{vm.switch}"])
    argv = []
    for cmd in cmds:
        if argv:
            argv.append("--")
        argv.extend(cmd)
    return argv


def create(central, topo):
    central.nbctl(*nbctl_commands(topo))
