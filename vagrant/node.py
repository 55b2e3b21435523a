"""One machine of a Vagrant lab: the OVN central, or one chassis with its VMs as namespaces.

The same pieces as `ovnbpf lab` (topologies/lab: Central, ChassisNode, logical, the
write-ahead State and Lab.down), but each role runs directly on its own machine and the
underlay is a real network: the machine's NIC that holds the address Vagrant gave it.

    node.py central --topology T --underlay NET
    node.py chassis NAME --topology T --underlay NET
    node.py down

Addresses on NET: the central is .10, chassis i (in topology order) is .11+i, as the lab's
encap IPs. OVNBPF_RUNDIR (read by topologies.lab.lab) holds this machine's state; provision.sh
sets it.
"""
import argparse
import contextlib
import ipaddress
import sys

from topologies.lab import logical, netns, topology
from topologies.lab.central import SB_PORT, Central
from topologies.lab.chassis import (BPFFS, UPLINK, ChassisNode, ensure_bpffs,
                                    uplink_mac)
from topologies.lab.lab import Lab, LabError, Plan, State, _configure_vm, lab_dir
from topologies.lab.proc import CommandError, run, wait_for

PREFIX = "vg"              # the State's lab name, and the prefix of VM namespaces (vg-vm1)
NB_PORT = 6641
CENTRAL_HOST = 10          # the central's host number on the underlay (.1 is the hypervisor's)
OVS_LINKS = ("br-phy", "br-int", "ovs-netdev")   # what ovs-vswitchd (netdev) makes in our namespace


def central_ip(subnet):
    return str(subnet.network_address + CENTRAL_HOST)


def nb_tcp_remote(subnet):
    return f"tcp:{central_ip(subnet)}:{NB_PORT}"


class MachineChassis(ChassisNode):
    """A chassis that is the whole machine: no namespace of its own (netns None)."""

    @property
    def pin_dir(self):
        return str(BPFFS / self.name)


def _new_state(topo, subnet, role):
    path = lab_dir(PREFIX) / "state.json"
    if State.load(path):
        raise LabError(f"{path}: this machine is provisioned already; run 'node.py down' first")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = State(path)
    state.info.update(topology=topo.source, subnet=str(subnet), substrate="vagrant", role=role)
    state.save()
    return state


@contextlib.contextmanager
def _undo_on_failure(log, node=None):
    """A failed bring-up removes what it made (and shows the chassis' logs) before raising."""
    try:
        yield
    except BaseException:
        log("[node] bring-up failed: removing what was made")
        if node is not None and node.log_tail():
            log(node.log_tail())
        down(log=lambda *_: None)
        raise


def up_central(topo, subnet, log=print):
    state = _new_state(topo, subnet, "central")
    central = Central(lab_dir(PREFIX) / "central", topo.sb_cluster, central_ip(subnet))
    state.info.update(central=str(central.rundir), sb_cluster=topo.sb_cluster)
    for p in central.pidfiles():
        state.record("pidfiles", str(p))
    with _undo_on_failure(log):
        central.start()
        # chassis machines wait on the NB (`--wait=hv sync`) until every chassis caught up
        run(["ovs-appctl", "-t", str(central.rundir / "nb.ctl"), "ovsdb-server/add-remote",
             f"ptcp:{NB_PORT}:{central_ip(subnet)}"])
        logical.create(central, topo)
        central.nbctl("--wait=sb", "sync")
    log(f"[central] NB {central.nb_remote} and {nb_tcp_remote(subnet)}, SB {central.sb_chassis_remote}: "
        f"{len(topo.switches)} switches, {len(topo.routers)} routers, {len(topo.vms)} ports")


def _nic_with(ip):
    """(name, cidr, mac) of the interface holding `ip`, else of one already called UPLINK."""
    for line in run(["ip", "-o", "-4", "addr", "show"]).splitlines():
        fields = line.split()
        if fields[3].split("/")[0] == ip:
            return fields[1], fields[3], _mac(fields[1])
    if netns.link_exists(UPLINK):
        return UPLINK, None, _mac(UPLINK)
    raise LabError(f"no interface holds {ip}: is this machine on the underlay with that address?")


def _mac(dev):
    with open(f"/sys/class/net/{dev}/address") as f:
        return f.read().strip()


def _take_uplink(state, encap_ip):
    """The chassis code expects its underlay device to be called UPLINK, with no address of
    its own and the MAC derived from the encap IP: make Vagrant's NIC so (undone by down)."""
    name, cidr, mac = _nic_with(encap_ip)
    state.info["nic"] = {"name": name, "cidr": cidr, "mac": mac}
    state.save()
    run(["ip", "addr", "flush", "dev", name])
    if name != UPLINK:
        run(["ip", "link", "set", name, "down"])
        run(["ip", "link", "set", name, "name", UPLINK])
    run(["ip", "link", "set", UPLINK, "address", uplink_mac(encap_ip), "up"])
    run(["sysctl", "-qw", f"net.ipv6.conf.{UPLINK}.disable_ipv6=1"])
    netns.tx_checksum_off(UPLINK)


def _give_back_uplink(nic):
    if not nic or not netns.link_exists(UPLINK):
        return
    run(["ip", "link", "set", UPLINK, "down"])
    run(["ip", "addr", "flush", "dev", UPLINK])
    run(["ip", "link", "set", UPLINK, "arp", "on", "address", nic["mac"]])
    if nic["name"] != UPLINK:
        run(["ip", "link", "set", UPLINK, "name", nic["name"]])
    run(["sysctl", "-qw", f"net.ipv6.conf.{nic['name']}.disable_ipv6=0"], check=False)
    run(["ip", "link", "set", nic["name"], "up"])
    if nic["cidr"]:
        run(["ip", "addr", "add", nic["cidr"], "dev", nic["name"]])


def up_chassis(name, topo, subnet, timeout=60, log=print):
    try:
        index = [c.name for c in topo.chassis].index(name)
    except ValueError:
        raise LabError(f"{topo.source}: no chassis {name!r} (chassis: "
                       f"{', '.join(c.name for c in topo.chassis)})") from None
    plan = Plan(PREFIX, topo, subnet)
    state = _new_state(topo, subnet, f"chassis {name}")
    node = MachineChassis(name=name, kind=topo.chassis[index].kind, netns=None,
                       rundir=lab_dir(PREFIX) / name, encap_ip=plan.encap_ip(index),
                       prefixlen=subnet.prefixlen,
                       sb_remote=f"tcp:{central_ip(subnet)}:{SB_PORT}")
    for d in node.daemon_names():
        state.record("pidfiles", str(node.pidfile(d)))
    if node.kind == "ovs":
        for link in OVS_LINKS:
            state.record("root_links", link)
    else:
        ensure_bpffs()           # Lab.down releases it with the pin dirs
        state.record("pin_dirs", node.pin_dir)
    my_vms = [vm for vm in topo.vms if vm.chassis == name]
    for vm in my_vms:
        state.record("netns", plan.vm_netns(vm.name))

    with _undo_on_failure(log, node):
        _take_uplink(state, node.encap_ip)
        peers = {plan.encap_ip(i): uplink_mac(plan.encap_ip(i))
                 for i in range(len(topo.chassis)) if i != index}
        node.start(peers)
        for vm in my_vms:
            ns = plan.vm_netns(vm.name)
            netns.netns_add(ns, guest=True)       # a guest keeps the kernel's defaults
            node.add_vif(vm, ns)
            _configure_vm(vm, ns, netns.vm_mtu(node.uplink_mtu()))
        wait_for(lambda: _bound(node, my_vms), timeout, interval=0.2,
                 what=f"{', '.join(vm.port for vm in my_vms)} to be bound to {name} and up")
        # and every chassis so far has seen them (as Lab.up: --wait=hv after ports up)
        run(["ovn-nbctl", f"--db={nb_tcp_remote(subnet)}", "--wait=hv", f"--timeout={timeout}",
             "sync"], timeout=timeout + 10)
    log(f"[{name}] kind {node.kind}, encap {node.encap_ip}, SB {node.sb_remote}: "
        f"{len(my_vms)} VMs up ({', '.join(f'{plan.vm_netns(v.name)}={v.ip.ip}' for v in my_vms)})")


def _bound(node, vms):
    """True when every VM's port is bound to this chassis and up in the SB: a chassis sets
    `up` once it forwards for the port (for ovnbpf: once the pipeline is installed)."""
    def sbctl(*args):
        return run(["ovn-sbctl", f"--db={node.sb_remote}", "--bare", *args], timeout=10).split()
    try:
        me = sbctl("--columns=_uuid", "find", "Chassis", f"name={node.name}")
        bound = set(sbctl("--columns=logical_port", "find", "Port_Binding", f"chassis={me[0]}",
                          "up=true")) \
            if me else set()
    except CommandError:
        return False
    return {vm.port for vm in vms} <= bound


def down(log=print):
    state = State.load(lab_dir(PREFIX) / "state.json")
    if state is None:
        log("[node] not provisioned: nothing to do")
        return
    nic = state.info.get("nic")
    Lab(PREFIX).down(log=log)      # daemons by pidfile, VM namespaces, OVS links, rundir
    _give_back_uplink(nic)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="node.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("central", "chassis"):
        p = sub.add_parser(role)
        if role == "chassis":
            p.add_argument("name", help="the chassis' name in the topology")
        p.add_argument("--topology", required=True, help="topology name or YAML path")
        p.add_argument("--underlay", help="underlay network (default: the topology's)")
    sub.add_parser("down", help="stop this machine's daemons, remove its VMs, give the NIC back")
    args = parser.parse_args(argv)
    try:
        if args.role == "down":
            down()
            return 0
        topo = topology.load(args.topology)
        subnet = ipaddress.IPv4Network(args.underlay) if args.underlay else topo.underlay_subnet
        if subnet is None:
            raise LabError(f"{topo.source}: no underlay subnet: give --underlay")
        if args.role == "central":
            up_central(topo, subnet)
        else:
            up_chassis(args.name, topo, subnet)
    except (LabError, topology.TopologyError, CommandError, TimeoutError) as e:
        print(f"node.py {args.role}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
