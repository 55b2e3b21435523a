"""Lab topology files: YAML in, validated frozen dataclasses out.

Every error names the file, the line and the key path, so a user can fix the file without
reading this code. The format is documented in topologies/README.md.
"""
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from controller.punt.dhcp import OPTIONS
from controller.punt.dhcp6 import OPTIONS6

TOPOLOGY_DIR = Path(__file__).resolve().parents[1]   # the topologies/ package: its YAML files are package data
DEFAULT_TOPOLOGY = "ebpf"       # two ovnbpf chassis; "two-chassis" is the OVS reference

CHASSIS_KINDS = ("ovnbpf", "ovs")
EGRESS_ON = ("egress", "ingress")               # `ovnbpf controller --egress-on`
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")   # short: names become interface names
MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
MAX_PORT_KEY = 32767                           # 32768 and up are multicast groups


class TopologyError(ValueError):
    pass


@dataclass(frozen=True)
class Chassis:
    name: str
    kind: str
    options: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Switch:
    name: str
    key: int
    subnet: ipaddress.IPv4Network
    subnet6: ipaddress.IPv6Network | None = None     # dual stack: the switch's /64
    dhcp: tuple = ()        # native DHCPv4: (option, value as the NB takes it) pairs, or ()
    dns: tuple = ()         # native DNS: (name, "addr ..." or PTR target) records, or ()
    dhcp6: tuple = ()       # native DHCPv6: (option, value) pairs, or ()


@dataclass(frozen=True)
class RouterPort:
    name: str
    router: str
    switch: str
    mac: str
    ip: ipaddress.IPv4Interface
    key: int
    switch_port_key: int
    ip6: ipaddress.IPv6Interface | None = None       # dual stack: its network in subnet6

    @property
    def switch_port(self):
        """Name of the switch-side port that patches the switch to this router port."""
        return f"{self.switch}-{self.router}"


@dataclass(frozen=True)
class Router:
    name: str
    key: int
    ports: tuple


@dataclass(frozen=True)
class VM:
    name: str
    chassis: str
    switch: str
    mac: str
    ip: ipaddress.IPv4Interface
    key: int
    gateway: ipaddress.IPv4Address | None
    ip6: ipaddress.IPv6Interface | None = None       # dual stack: address in subnet6
    gateway6: ipaddress.IPv6Address | None = None
    offloads: bool = True   # False: tx checksum, TSO/GSO off in the guest (default: kernel's)

    @property
    def port(self):
        """The logical switch port bound to this VM."""
        return f"lsp-{self.name}"


@dataclass(frozen=True)
class Topology:
    name: str
    source: str
    sb_cluster: int
    sb_ssl: bool
    underlay_subnet: ipaddress.IPv4Network | None
    chassis: tuple
    switches: tuple
    routers: tuple
    vms: tuple

    def chassis_named(self, name):
        return next(c for c in self.chassis if c.name == name)

    def vm_named(self, name):
        return next(v for v in self.vms if v.name == name)


# ---- YAML with line numbers -------------------------------------------------------------

class _LineDict(dict):
    """A mapping that remembers the line of each key (1-based) and its own line."""
    line = 0
    key_lines: dict


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise TopologyError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, source):
        self.source = source

    def fail(self, mapping, key, path, message):
        line = getattr(mapping, "key_lines", {}).get(key) or getattr(mapping, "line", 0)
        where = f"{self.source}:{line}" if line else self.source
        raise TopologyError(f"{where}: {path}: {message}")

    def mapping(self, parent, key, path, required=True):
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(parent, key, path, "missing (a mapping is required)")
            return _LineDict()
        if not isinstance(value, dict):
            self.fail(parent, key, path, f"must be a mapping, not {type(value).__name__}")
        return value

    def check_keys(self, mapping, allowed, path):
        for key in mapping:
            if key not in allowed:
                self.fail(mapping, key, f"{path}.{key}" if path else str(key),
                          f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def name(self, mapping, key, path):
        if not isinstance(key, str) or not NAME_RE.match(key):
            self.fail(mapping, key, path,
                      "names are 1-8 characters: a lowercase letter, then lowercase letters or digits")
        return key

    def integer(self, mapping, key, path, lo, hi, default=None):
        value = mapping.get(key, default)
        if value is None:
            self.fail(mapping, key, f"{path}.{key}", "missing")
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            self.fail(mapping, key, f"{path}.{key}", f"must be an integer from {lo} to {hi}")
        return value

    def datapath_key(self, spec, path, owner, used):
        """A switch's or router's tunnel key, unique among all datapaths (`used`: key -> owner)."""
        key = self.integer(spec, "key", path, 1, 2**24 - 1)
        if key in used:
            self.fail(spec, "key", f"{path}.key", f"tunnel key {key} is already used by {used[key]}")
        used[key] = owner
        return key

    def parse(self, mapping, key, path, parser, what):
        value = mapping.get(key)
        if value is None:
            self.fail(mapping, key, f"{path}.{key}", "missing")
        try:
            return parser(str(value))
        except ValueError as e:
            self.fail(mapping, key, f"{path}.{key}", f"not a valid {what}: {e}")

    def mac(self, mapping, key, path):
        value = str(mapping.get(key, "")).lower()
        if not MAC_RE.match(value):
            self.fail(mapping, key, f"{path}.{key}", "must be a MAC like 0a:00:00:00:01:01")
        return value


def resolve_path(name_or_path):
    """A topology given by name (topologies/NAME.yaml) or by path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return TOPOLOGY_DIR / f"{name_or_path}.yaml"


def variant(base, out_dir, name, kinds):
    """Write `base` (name or path) as topology `name` into out_dir with chassis kinds from
    `kinds` ({chassis: kind}; a "*" entry applies to the rest) and any free underlay
    subnet, so it can run beside the original. Returns the new file's path."""
    data = yaml.safe_load(resolve_path(base).read_text())
    for hv, spec in data["chassis"].items():
        kind = kinds.get(hv, kinds.get("*", spec.get("kind")))
        data["chassis"][hv] = {**spec, "kind": kind}
    data["name"] = name
    data.get("underlay", {}).pop("subnet", None)
    path = Path(out_dir) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def load(name_or_path=DEFAULT_TOPOLOGY):
    path = resolve_path(name_or_path)
    try:
        text = path.read_text()
    except OSError as e:
        raise TopologyError(f"{path}: cannot read topology file: {e.strerror}") from None
    return parse(text, str(path))


def parse(text, source="<topology>"):
    ctx = _Ctx(source)
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except TopologyError as e:
        raise TopologyError(f"{source}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise TopologyError(f"{source}{line}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict):
        raise TopologyError(f"{source}: the top level must be a mapping")
    ctx.check_keys(doc, {"name", "sb_cluster", "sb_ssl", "underlay", "chassis", "switches", "routers", "vms"}, "")

    name = str(doc.get("name", Path(source).stem))
    sb_cluster = doc.get("sb_cluster", 1)
    if sb_cluster not in (1, 3):
        ctx.fail(doc, "sb_cluster", "sb_cluster", "must be 1 (one SB server) or 3 (Raft cluster)")
    sb_ssl = doc.get("sb_ssl", False)
    if not isinstance(sb_ssl, bool):
        ctx.fail(doc, "sb_ssl", "sb_ssl", "must be true (chassis reach the SB over SSL/TLS) or false")

    underlay = ctx.mapping(doc, "underlay", "underlay", required=False)
    ctx.check_keys(underlay, {"kind", "subnet"}, "underlay")
    if underlay.get("kind", "bridge") != "bridge":
        ctx.fail(underlay, "kind", "underlay.kind", "only 'bridge' (a Linux bridge) is available")
    underlay_subnet = None
    if "subnet" in underlay:
        underlay_subnet = ctx.parse(underlay, "subnet", "underlay", ipaddress.IPv4Network, "IPv4 subnet")
        if underlay_subnet.prefixlen > 26:
            ctx.fail(underlay, "subnet", "underlay.subnet", "needs at least a /26")

    chassis = []
    chassis_map = ctx.mapping(doc, "chassis", "chassis")
    if not chassis_map:
        ctx.fail(doc, "chassis", "chassis", "at least one chassis is required")
    for cname, spec in chassis_map.items():
        path = f"chassis.{cname}"
        ctx.name(chassis_map, cname, path)
        if not isinstance(spec, dict):
            ctx.fail(chassis_map, cname, path, "must be a mapping like {kind: ovnbpf}")
        ctx.check_keys(spec, {"kind", "egress_on", "vif_xdp"}, path)
        kind = spec.get("kind")
        if kind not in CHASSIS_KINDS:
            ctx.fail(spec, "kind", f"{path}.kind", f"must be one of: {', '.join(CHASSIS_KINDS)}")
        options = {k: v for k, v in spec.items() if k != "kind"}
        if "egress_on" in spec:
            if spec["egress_on"] not in EGRESS_ON:
                ctx.fail(spec, "egress_on", f"{path}.egress_on",
                         f"must be one of: {', '.join(EGRESS_ON)}")
            if kind != "ovnbpf":
                ctx.fail(spec, "egress_on", f"{path}.egress_on",
                         "only an ovnbpf chassis can move egress to the sender "
                         "(ovn-controller always runs it on the receiving chassis)")
        if "vif_xdp" in spec:
            if spec["vif_xdp"] not in ("native", "skb"):
                ctx.fail(spec, "vif_xdp", f"{path}.vif_xdp", "must be one of: native, skb")
            if kind != "ovnbpf":
                ctx.fail(spec, "vif_xdp", f"{path}.vif_xdp",
                         "only an ovnbpf chassis attaches XDP to its VIFs")
        chassis.append(Chassis(cname, kind, options))
    if len(chassis) > 40:
        ctx.fail(doc, "chassis", "chassis", "at most 40 chassis")

    switches = []
    switch_map = ctx.mapping(doc, "switches", "switches")
    used_dp_keys = {}
    for sname, spec in switch_map.items():
        path = f"switches.{sname}"
        ctx.name(switch_map, sname, path)
        if not isinstance(spec, dict):
            ctx.fail(switch_map, sname, path, "must be a mapping like {subnet: 10.0.1.0/24, key: 1}")
        ctx.check_keys(spec, {"subnet", "subnet6", "key", "dhcp", "dns", "dhcp6"}, path)
        key = ctx.datapath_key(spec, path, sname, used_dp_keys)
        subnet = ctx.parse(spec, "subnet", path, ipaddress.IPv4Network, "IPv4 subnet")
        subnet6 = None
        if "subnet6" in spec:
            subnet6 = ctx.parse(spec, "subnet6", path, ipaddress.IPv6Network, "IPv6 subnet")
        dhcp = _dhcp_options(ctx, spec, path) if "dhcp" in spec else None
        dhcp6 = None
        if "dhcp6" in spec:
            if subnet6 is None:
                ctx.fail(spec, "dhcp6", f"{path}.dhcp6", "needs the switch's subnet6")
            dhcp6 = _dhcp_options(ctx, spec, path, "dhcp6")
        switches.append(Switch(sname, key, subnet, subnet6, dhcp, _dns_records(ctx, spec, path), dhcp6))
    switch_by_name = {s.name: s for s in switches}

    routers = []
    router_map = ctx.mapping(doc, "routers", "routers", required=False)
    for rname, spec in router_map.items():
        path = f"routers.{rname}"
        ctx.name(router_map, rname, path)
        if not isinstance(spec, dict):
            ctx.fail(router_map, rname, path, "must be a mapping with key and ports")
        ctx.check_keys(spec, {"key", "ports"}, path)
        key = ctx.datapath_key(spec, path, rname, used_dp_keys)
        ports = []
        port_map = ctx.mapping(spec, "ports", f"{path}.ports")
        for pname, pspec in port_map.items():
            ppath = f"{path}.ports.{pname}"
            if not isinstance(pspec, dict):
                ctx.fail(port_map, pname, ppath, "must be a mapping")
            ctx.check_keys(pspec, {"switch", "mac", "ip", "ip6", "key", "switch_port_key"}, ppath)
            sw = pspec.get("switch")
            if sw not in switch_by_name:
                ctx.fail(pspec, "switch", f"{ppath}.switch", f"unknown switch {sw!r}")
            ip = ctx.parse(pspec, "ip", ppath, ipaddress.IPv4Interface, "IPv4 address/prefix")
            if ip.network != switch_by_name[sw].subnet:
                ctx.fail(pspec, "ip", f"{ppath}.ip", f"{ip} is not in {sw}'s subnet {switch_by_name[sw].subnet}")
            ip6 = _ip6_in(ctx, pspec, "ip6", ppath, ipaddress.IPv6Interface, switch_by_name[sw])
            ports.append(RouterPort(
                name=str(pname), router=rname, switch=sw, mac=ctx.mac(pspec, "mac", ppath), ip=ip,
                key=ctx.integer(pspec, "key", ppath, 1, MAX_PORT_KEY),
                switch_port_key=ctx.integer(pspec, "switch_port_key", ppath, 1, MAX_PORT_KEY, default=100),
                ip6=ip6))
        routers.append(Router(rname, key, tuple(ports)))
    gateway_of = {p.switch: p.ip.ip for r in routers for p in r.ports}
    switches = [_dhcp_defaults(ctx, s, switch_map, routers) for s in switches]
    switch_by_name = {s.name: s for s in switches}
    gateway6_of = {p.switch: p.ip6.ip for r in routers for p in r.ports if p.ip6}

    vms = []
    vm_map = ctx.mapping(doc, "vms", "vms")
    chassis_names = {c.name for c in chassis}
    used_port_keys = {(p.switch, p.switch_port_key): p.switch_port for r in routers for p in r.ports}
    used_macs, used_ips = {}, {}
    for vname, spec in vm_map.items():
        path = f"vms.{vname}"
        ctx.name(vm_map, vname, path)
        if not isinstance(spec, dict):
            ctx.fail(vm_map, vname, path, "must be a mapping")
        ctx.check_keys(spec, {"chassis", "switch", "mac", "ip", "ip6", "key", "offloads"}, path)
        offloads = spec.get("offloads", True)
        if not isinstance(offloads, bool):
            ctx.fail(spec, "offloads", f"{path}.offloads",
                     "must be true (the kernel's defaults) or false (checksum, TSO/GSO off)")
        ch = spec.get("chassis")
        if ch not in chassis_names:
            ctx.fail(spec, "chassis", f"{path}.chassis", f"unknown chassis {ch!r}")
        sw = spec.get("switch")
        if sw not in switch_by_name:
            ctx.fail(spec, "switch", f"{path}.switch", f"unknown switch {sw!r}")
        mac = ctx.mac(spec, "mac", path)
        addr = ctx.parse(spec, "ip", path, ipaddress.IPv4Address, "IPv4 address")
        subnet = switch_by_name[sw].subnet
        if addr not in subnet:
            ctx.fail(spec, "ip", f"{path}.ip", f"{addr} is not in {sw}'s subnet {subnet}")
        addr6 = _ip6_in(ctx, spec, "ip6", path, ipaddress.IPv6Address, switch_by_name[sw])
        key = ctx.integer(spec, "key", path, 1, MAX_PORT_KEY)
        for table, value, what in ((used_port_keys, (sw, key), "port key"),
                                   (used_macs, mac, "MAC"), (used_ips, addr, "IP")):
            if value in table:
                ctx.fail(spec, "key" if what == "port key" else what.lower(), path,
                         f"{what} {value if what != 'port key' else key} is already used by {table[value]}")
            table[value] = f"lsp-{vname}" if what == "port key" else vname
        vms.append(VM(vname, ch, sw, mac, ipaddress.IPv4Interface(f"{addr}/{subnet.prefixlen}"),
                      key, gateway_of.get(sw),
                      ip6=addr6 and ipaddress.IPv6Interface(f"{addr6}/{switch_by_name[sw].subnet6.prefixlen}"),
                      gateway6=addr6 and gateway6_of.get(sw),
                      offloads=offloads))

    return Topology(name=name, source=source, sb_cluster=sb_cluster, sb_ssl=sb_ssl,
                    underlay_subnet=underlay_subnet, chassis=tuple(chassis),
                    switches=tuple(switches), routers=tuple(routers), vms=tuple(vms))


def _ip6_in(ctx, spec, key, path, kind, switch):
    """The optional IPv6 `key` of a VM or router port, which must lie in its switch's subnet6."""
    if key not in spec:
        return None
    value = ctx.parse(spec, key, path, kind, "IPv6 address" + ("/prefix" if kind is ipaddress.IPv6Interface else ""))
    if switch.subnet6 is None:
        ctx.fail(spec, key, f"{path}.{key}", f"switch {switch.name} has no subnet6")
    addr = value.ip if kind is ipaddress.IPv6Interface else value
    if addr not in switch.subnet6 or (kind is ipaddress.IPv6Interface and value.network != switch.subnet6):
        ctx.fail(spec, key, f"{path}.{key}", f"{value} is not in {switch.name}'s subnet6 {switch.subnet6}")
    return value


def _dhcp_options(ctx, spec, path, key="dhcp"):
    """A switch's `dhcp:` (`dhcp6:`) mapping (OVN's DHCPv4 (DHCPv6) option names -> values)
    as NB strings."""
    table, extra = ((OPTIONS, {"server_mac": (0, "mac")}) if key == "dhcp"
                    else (OPTIONS6, {"dhcpv6_stateless": (0, "bool")}))
    opts = ctx.mapping(spec, key, path, required=False)
    out = []
    for k, v in opts.items():
        if k not in table and k not in extra or k in ("offerip", "ia_addr"):
            ctx.fail(opts, k, f"{path}.{key}.{k}", f"not a DHCP{'v6' if key == 'dhcp6' else 'v4'} "
                     "option OVN knows (ovn-nb(5), DHCP_Options)")
        kind = {**table, **extra}[k][1]
        if kind == "bool" and isinstance(v, bool):
            v = "true" if v else "false"
        items = v if isinstance(v, list) else [v]
        if not items or any(isinstance(i, (dict, list)) or i is None for i in items):
            ctx.fail(opts, k, f"{path}.{key}.{k}", "must be a value or a list of values")
        if kind in ("str", "domains") and not isinstance(v, list):
            text = str(v) if str(v).startswith('"') else '"' + str(v).replace('"', '\\"') + '"'
        elif isinstance(v, list):
            text = "{" + ", ".join(str(i) for i in items) + "}"
        else:
            text = str(int(v) if isinstance(v, bool) else v)
        out.append((str(k), text))
    return tuple(out)


def _dhcp_defaults(ctx, switch, switch_map, routers):
    """server_id and router default to the switch's router port address, server_mac to its
    MAC, lease_time to an hour (northd answers only when the first three are set)."""
    port = next((p for r in routers for p in r.ports if p.switch == switch.name), None)
    dhcp6 = ()
    if switch.dhcp6 is not None:
        opts6 = dict(switch.dhcp6)
        if port is not None:
            opts6.setdefault("server_id", port.mac)
        if "server_id" not in opts6:
            ctx.fail(switch_map[switch.name], "dhcp6", f"switches.{switch.name}.dhcp6",
                     "server_id is required on a switch without a router port")
        dhcp6 = tuple(sorted(opts6.items()))
    if switch.dhcp is None:
        return Switch(switch.name, switch.key, switch.subnet, switch.subnet6, (), switch.dns, dhcp6)
    opts = dict(switch.dhcp)
    if port is not None:
        opts.setdefault("server_id", str(port.ip.ip))
        opts.setdefault("server_mac", port.mac)
        opts.setdefault("router", str(port.ip.ip))
    opts.setdefault("lease_time", "3600")
    for need in ("server_id", "server_mac"):
        if need not in opts:
            ctx.fail(switch_map[switch.name], "dhcp", f"switches.{switch.name}.dhcp",
                     f"{need} is required on a switch without a router port")
    return Switch(switch.name, switch.key, switch.subnet, switch.subnet6, tuple(sorted(opts.items())),
                  switch.dns, dhcp6)


def _dns_records(ctx, spec, path):
    """A switch's `dns:` mapping (name -> address, list of addresses, or a PTR target)."""
    recs = ctx.mapping(spec, "dns", path, required=False)
    out = []
    for name, v in recs.items():
        items = v if isinstance(v, list) else [v]
        if not isinstance(name, str) or not items or any(isinstance(i, (dict, list)) or i is None
                                                         for i in items):
            ctx.fail(recs, name, f"{path}.dns.{name}", "must be a name -> address(es) or a PTR target")
        out.append((name.lower(), " ".join(str(i) for i in items)))
    return tuple(sorted(out))
