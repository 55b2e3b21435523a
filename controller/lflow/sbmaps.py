"""Entries of the helper maps behind OVN's function-like actions, from Southbound rows:

    ovnbpf_pl_psec          check_in_port_sec() / check_out_port_sec()  Port_Binding.port_security
    ovnbpf_pl_mac_bindings  lookup_arp/get_arp/lookup_nd/get_nd (+ _ip)  MAC_Binding
    ovnbpf_pl_fdb           get_fdb / lookup_fdb                        FDB

Record layouts are the structs of bpf/lib/pl_maps.h (host byte order; checked against the
compiled C by tests/datapath/test_mirrors.py). Only rows of the
given datapaths are encoded. Addresses the datapath cannot check exactly (an IPv4 prefix
wider than /24, an IPv6 prefix) are left out, so such sources fail port security (closed),
and are reported in `warnings`.
"""
from __future__ import annotations

import ipaddress
import struct

__all__ = ["PSEC_MAP", "MAC_BINDINGS_MAP", "FDB_MAP", "helper_entries", "parse_mac"]

PSEC_MAP = "ovnbpf_pl_psec"
MAC_BINDINGS_MAP = "ovnbpf_pl_mac_bindings"
FDB_MAP = "ovnbpf_pl_fdb"

PSEC_PORT, PSEC_MAC, PSEC_IP4, PSEC_IP6 = 0, 1, 2, 3     # OVNBPF_PSEC_*
HAS_IP4, HAS_IP6 = 1, 2                                  # OVNBPF_PSEC_HAS_*
PSEC_KEY = "<IIIIQQQ"
MB_KEY = "<IIQQ"
FDB_KEY = "<IIQ"
IP4_MAPPED = 0x0000ffff00000000
MAX_EXPANDED = 256


def parse_mac(text: str) -> int:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC: {text!r}")
    return int("".join(parts), 16)


def _psec(dp, port, kind, mac=0, hi=0, lo=0) -> bytes:
    return struct.pack(PSEC_KEY, dp, port, kind, 0, mac, hi, lo)


def _port_security(port, dp_key: int, warnings: list) -> list[tuple[bytes, bytes]]:
    out = {}
    for text in port.port_security:
        words = text.split()
        try:
            mac = parse_mac(words[0])
        except (ValueError, IndexError):
            warnings.append(f"port {port.logical_port}: port_security {text!r}: not 'MAC [IP...]'")
            continue
        flags = 0
        for addr in words[1:]:
            try:
                net = ipaddress.ip_network(addr, strict=False)
            except ValueError:
                warnings.append(f"port {port.logical_port}: port_security address {addr!r} ignored")
                continue
            if net.version == 4:
                flags |= HAS_IP4
                if net.num_addresses > MAX_EXPANDED:
                    warnings.append(f"port {port.logical_port}: {addr} wider than /24 is not "
                                    "checked: its sources fail port security")
                    continue
                for ip in net:
                    out[_psec(dp_key, port.tunnel_key, PSEC_IP4, mac, 0, int(ip))] = 1
            else:
                flags |= HAS_IP6
                if net.prefixlen != 128:
                    warnings.append(f"port {port.logical_port}: IPv6 prefix {addr} is not "
                                    "checked: its sources fail port security")
                    continue
                v = int(net.network_address)
                out[_psec(dp_key, port.tunnel_key, PSEC_IP6, mac, v >> 64, v & (2**64 - 1))] = 1
        key = _psec(dp_key, port.tunnel_key, PSEC_MAC, mac)
        out[key] = out.get(key, 0) | flags
    if out:
        out[_psec(dp_key, port.tunnel_key, PSEC_PORT)] = 1
    return [(k, struct.pack("<I", v)) for k, v in out.items()]


def _ip_words(text: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(text)
    if ip.version == 4:
        return 0, IP4_MAPPED | int(ip)
    v = int(ip)
    return v >> 64, v & (2**64 - 1)


def helper_entries(state, local_dps: set[str]) -> tuple[dict[str, list], list[str]]:
    """({map name: [(key, value)]}, warnings) for the datapaths (uuids) in `local_dps`."""
    dp_key = {d.uuid: d.tunnel_key for d in state.datapaths}
    warnings: list[str] = []
    psec, bindings, fdb = [], [], []
    ports = {}
    for p in state.ports:
        if p.datapath in local_dps:
            ports[p.logical_port] = p
            if p.port_security:
                psec += _port_security(p, dp_key[p.datapath], warnings)
    for mb in state.mac_bindings:
        port = ports.get(mb.logical_port)
        if mb.datapath not in local_dps or port is None:
            continue
        try:
            hi, lo = _ip_words(mb.ip)
            mac = parse_mac(mb.mac)
        except ValueError as e:
            warnings.append(f"MAC_Binding {mb.uuid}: {e}")
            continue
        bindings.append((struct.pack(MB_KEY, dp_key[mb.datapath], port.tunnel_key, hi, lo),
                         struct.pack("<Q", mac)))
    local_keys = {dp_key[u] for u in local_dps if u in dp_key}
    for row in state.fdbs:
        if row.dp_key not in local_keys:
            continue
        try:
            mac = parse_mac(row.mac)
        except ValueError as e:
            warnings.append(f"FDB {row.uuid}: {e}")
            continue
        fdb.append((struct.pack(FDB_KEY, row.dp_key, 0, mac), struct.pack("<I", row.port_key)))
    return ({PSEC_MAP: sorted(psec), MAC_BINDINGS_MAP: sorted(bindings), FDB_MAP: sorted(fdb)},
            warnings)
