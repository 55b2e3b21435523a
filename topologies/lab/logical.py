"""The logical topology of a lab, written to the real NB with ovn-nbctl in one transaction.

Tunnel keys are pinned (requested-tnl-key): northd assigns keys in hash order when several
datapaths are created together, and captures are only comparable with fixed keys.
"""


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
    for vm in topo.vms:
        cmds.append(["lsp-add", vm.switch, vm.port])
        cmds.append(["lsp-set-addresses", vm.port,
                     f"{vm.mac} {vm.ip.ip}" + (f" {vm.ip6.ip}" if vm.ip6 else "")])
        cmds.append(["set", "Logical_Switch_Port", vm.port, f"options:requested-tnl-key={vm.key}"])
    argv = []
    for cmd in cmds:
        if argv:
            argv.append("--")
        argv.extend(cmd)
    return argv


def create(central, topo):
    central.nbctl(*nbctl_commands(topo))
