"""Typed handles on ovnbpf's maps (bpf/lib/maps.h) that apply a desired state as a diff.

Each handle keeps what it installed (like ovn-controller's ofctrl keeps installed flows)
and `apply(desired)` writes only the difference: new and changed entries in one
BPF_MAP_UPDATE_BATCH, removed ones in one BPF_MAP_DELETE_BATCH (array maps cannot delete:
their removed slots are overwritten with zeroes). Keys and values are namedtuples packed
with `struct` in the exact layout of the C structs, explicit padding included and zeroed.
The codecs and constants here are checked against the compiled C, field by field, by
tests/datapath/test_mirrors.py.
Handles work on raw map fds (bcc's, or bpf_obj_get() of a pinned path).
"""
from __future__ import annotations

import os
import struct
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .libbpf import check, ffi, lib, map_info, obj_get

MCAST_CHUNK = 512        # OVNBPF_MCAST_CHUNK
MCAST_MAX_MEMBERS = 16384
MAX_CHASSIS = 4096       # OVNBPF_MAX_CHASSIS
LPORT_LOCAL, LPORT_REMOTE, LPORT_PATCH = 1, 2, 3
CFG_CHECK_OUTER_DST = 1
CFG_EGRESS_ON_INGRESS = 2  # bpf/lib/split.h
TUN_FIB = 1
TUN_EGRESS_MARK = 2        # the peer understands the egress-done bit
TSRC_TRUST_DONE = 1 << 31  # ovnbpf_tunnel_srcs: its egress-done bit is honoured here

Config = namedtuple("Config", "chassis encap_ip flags loop_ifindex", defaults=(0,))
Vif = namedtuple("Vif", "dp port flags")
VIF_SKB = 1   # bpf/lib/maps.h OVNBPF_VIF_SKB
LPortKey = namedtuple("LPortKey", "dp port")
LPort = namedtuple("LPort", "type ifindex chassis peer_dp peer_port mac", defaults=(0, 0, 0))
Tunnel = namedtuple("Tunnel", "remote_ip local_ip ifindex smac dmac flags", defaults=(0,))
McastKey = namedtuple("McastKey", "dp group")
McastGroup = namedtuple("McastGroup", "n_local n_remote wire_key", defaults=(0,))
ChunkKey = namedtuple("ChunkKey", "dp group chunk")
PuntRate = namedtuple("PuntRate", "interval_ns burst")


@dataclass(frozen=True)
class Codec:
    """namedtuple <-> bytes; `x` in fmt is zeroed padding; scalars use a 1-field tuple."""
    fmt: str
    tuple_type: Any = None
    order: tuple[str, ...] | None = None   # C member order, when it differs from the tuple's

    @property
    def size(self) -> int:
        return struct.calcsize(self.fmt)

    def pack(self, v) -> bytes:
        if self.tuple_type is None:
            v = (v,) if not isinstance(v, (tuple, list)) else v
        elif self.order:
            v = [getattr(v, name) for name in self.order]
        return struct.pack(self.fmt, *v)

    def unpack(self, b: bytes):
        vals = struct.unpack(self.fmt, b)
        if self.tuple_type and self.order:
            return self.tuple_type(**dict(zip(self.order, vals)))
        return self.tuple_type(*vals) if self.tuple_type else (vals[0] if len(vals) == 1 else vals)


U32 = Codec("<I")
SPECS: dict[str, tuple[str, Codec, Codec]] = {
    "ovnbpf_config": ("array", U32, Codec("<IIII", Config)),
    "ovnbpf_vifs": ("array", U32, Codec("<III4x", Vif)),
    "ovnbpf_lports": ("hash", Codec("<II", LPortKey), Codec("<IIIII4xQ", LPort)),
    "ovnbpf_tunnels": ("array", U32, Codec("<IIIIQQ", Tunnel, ("remote_ip", "local_ip", "ifindex", "flags", "smac", "dmac"))),
    "ovnbpf_tunnel_srcs": ("hash", U32, U32),
    "ovnbpf_mcast": ("hash", Codec("<II", McastKey), Codec("<III4x", McastGroup)),
    "ovnbpf_mcast_chunks": ("hash", Codec("<III4x", ChunkKey), Codec(f"<{MCAST_CHUNK}I")),
    "ovnbpf_punt_rate": ("array", U32, Codec("<QI4x", PuntRate)),
}


class FcacheControl:
    """The flow cache's control word (bpf/lib/fcache.h: ovnbpf_fc_ctl[0] = {epoch, flags}).
    `bump()` after a map write makes every cached outcome a miss; `bypass` turns lookups
    and fills off (ovnbpf trace)."""

    BYPASS = 1                    # OVNBPF_FC_BYPASS
    _codec = Codec("<II")

    def __init__(self, fd: int):
        self.fd = fd

    def _read(self) -> tuple[int, int]:
        kb = ffi.new("uint32_t *", 0)
        vb = ffi.new("uint8_t[]", self._codec.size)
        check(lib.bpf_map_lookup_elem(self.fd, kb, vb), "bpf_map_lookup_elem")
        return self._codec.unpack(bytes(vb))

    def _write(self, epoch: int, flags: int) -> None:
        kb = ffi.new("uint32_t *", 0)
        vb = ffi.from_buffer(self._codec.pack((epoch & 0xFFFFFFFF, flags)))
        check(lib.bpf_map_update_elem(self.fd, kb, vb, 0), "bpf_map_update_elem")

    @property
    def epoch(self) -> int:
        return self._read()[0]

    def bump(self) -> None:
        epoch, flags = self._read()
        self._write(epoch + 1, flags)

    @property
    def bypass(self) -> bool:
        return bool(self._read()[1] & self.BYPASS)

    @bypass.setter
    def bypass(self, on: bool) -> None:
        epoch, flags = self._read()
        self._write(epoch + 1, (flags | self.BYPASS) if on else (flags & ~self.BYPASS))


class MapHandle:
    """`on_write` (e.g. FcacheControl.bump) runs after every write that changed the map."""

    def __init__(self, fd: int, kind: str, key: Codec, value: Codec, on_write=None):
        self.fd, self.kind, self.key, self.value = fd, kind, key, value
        self.installed: dict = {}
        self.on_write = on_write

    def get(self, k):
        kb = ffi.from_buffer(self.key.pack(k))
        vb = ffi.new("uint8_t[]", self.value.size)
        if lib.bpf_map_lookup_elem(self.fd, kb, vb) < 0:
            return None
        return self.value.unpack(bytes(vb))

    def keys(self) -> list:
        """Keys present in the kernel (hash maps)."""
        out, prev = [], ffi.NULL
        nxt = ffi.new("uint8_t[]", self.key.size)
        while lib.bpf_map_get_next_key(self.fd, prev, nxt) == 0:
            out.append(self.key.unpack(bytes(nxt)))
            prev = ffi.new("uint8_t[]", bytes(nxt))
        return out

    def sync_from_kernel(self) -> None:
        """Adopt what the kernel has as `installed` (hash maps; e.g. after a restart)."""
        self.installed = {k: self.get(k) for k in self.keys()}

    def _update(self, items: list[tuple]) -> None:
        if not items:
            return
        keys = b"".join(self.key.pack(k) for k, _ in items)
        vals = b"".join(self.value.pack(v) for _, v in items)
        count = ffi.new("uint32_t *", len(items))
        opts = ffi.new("struct bpf_map_batch_opts *")
        opts.sz = ffi.sizeof("struct bpf_map_batch_opts")
        try:
            check(lib.bpf_map_update_batch(self.fd, ffi.from_buffer(keys),
                                           ffi.from_buffer(vals), count, opts),
                  "bpf_map_update_batch")
        finally:   # even a partial write changed the map
            if self.on_write is not None:
                self.on_write()

    def _delete(self, keys: list) -> None:
        if not keys:
            return
        if self.kind == "array":
            zero = self.value.unpack(bytes(self.value.size))
            self._update([(k, zero) for k in keys])
            return
        buf = b"".join(self.key.pack(k) for k in keys)
        count = ffi.new("uint32_t *", len(keys))
        opts = ffi.new("struct bpf_map_batch_opts *")
        opts.sz = ffi.sizeof("struct bpf_map_batch_opts")
        rc = lib.bpf_map_delete_batch(self.fd, ffi.from_buffer(buf), count, opts)
        if self.on_write is not None:
            self.on_write()
        if rc < 0 and rc != -2:   # ENOENT: already gone is fine for a delete
            check(rc, "bpf_map_delete_batch")

    def apply(self, desired: Mapping) -> tuple[int, int, int]:
        """Make the map hold exactly `desired` (of the entries this handle manages).
        Returns (added, modified, deleted)."""
        add = [(k, v) for k, v in desired.items() if k not in self.installed]
        mod = [(k, v) for k, v in desired.items()
               if k in self.installed and self.installed[k] != v]
        dele = [k for k in self.installed if k not in desired]
        self._update(add + mod)
        self._delete(dele)
        self.installed = dict(desired)
        return len(add), len(mod), len(dele)

    def write_delta(self, upserts: list, deletes: list) -> None:
        """Write these entries and delete these keys: the caller knows what changed, so
        nothing of the desired state is compared (the delete goes first: a key may be
        deleted and written again)."""
        self._delete(list(deletes))
        for k in deletes:
            self.installed.pop(k, None)
        self._update(list(upserts))
        self.installed.update(upserts)

    def update(self, entries: Mapping) -> None:
        """Add or change entries without touching the others."""
        self._update(list(entries.items()))
        self.installed.update(entries)


class RawMapHandle(MapHandle):
    """A map whose layout only its producer knows (generated pipeline maps): keys and
    values are bytes, applied as a desired-state diff like any other handle."""

    def __init__(self, fd: int, on_write=None):
        info = map_info(fd)
        super().__init__(fd, "hash" if info.type != 2 else "array",
                         Codec(f"{info.key_size}s"), Codec(f"{info.value_size}s"), on_write)


def handle(name: str, fd: int, on_write=None) -> MapHandle:
    kind, k, v = SPECS[name]
    return MapHandle(fd, kind, k, v, on_write)


def open_pinned(pin_dir: str, name: str) -> MapHandle:
    return handle(name, obj_get(os.path.join(pin_dir, name)))


def mcast_layout(groups: Mapping[tuple[int, int], tuple]):
    """{(dp, group): (local port keys, remote chassis ids[, wire key])} -> (header entries,
    chunk entries) in the layout lib/mcast.h reads: local members from index 0, remote
    chassis from the next chunk boundary, so a chunk never mixes the two. The wire key
    (default: the group key itself) is the outport remote copies carry."""
    headers, chunks = {}, {}
    for (dp, group), spec in groups.items():
        local, remote = spec[0], spec[1]
        wire_key = spec[2] if len(spec) > 2 and spec[2] else group
        local, remote = sorted(set(local)), sorted(set(remote))
        base = -(-len(local) // MCAST_CHUNK) * MCAST_CHUNK
        if base + len(remote) > MCAST_MAX_MEMBERS:
            raise ValueError(f"group {dp}/{group}: {len(local)} local + {len(remote)} remote "
                             f"members exceed the datapath limit of {MCAST_MAX_MEMBERS}")
        headers[McastKey(dp, group)] = McastGroup(len(local), len(remote), wire_key)
        for start, members in ((0, local), (base, remote)):
            for i in range(0, len(members), MCAST_CHUNK):
                part = members[i:i + MCAST_CHUNK]
                chunks[ChunkKey(dp, group, (start + i) // MCAST_CHUNK)] = tuple(
                    part + [0] * (MCAST_CHUNK - len(part)))
    return headers, chunks


def _possible_cpus() -> int:
    text = open("/sys/devices/system/cpu/possible").read().strip()
    n = 0
    for part in text.split(","):
        a, _, b = part.partition("-")
        n += (int(b) if b else int(a)) - int(a) + 1
    return n


def percpu_u64_sum(fd: int, index: int) -> int:
    """Sum over CPUs of one slot of a per-CPU u64 array (counters)."""
    ncpu = _possible_cpus()
    kb = ffi.new("uint32_t *", index)
    vb = ffi.new("uint64_t[]", ncpu)
    check(lib.bpf_map_lookup_elem(fd, kb, vb), "bpf_map_lookup_elem")
    return sum(vb[i] for i in range(ncpu))


def _percpu_batch_read(fd: int, n: int, ncpu: int):
    """One batch read of slots 0..n-1 of a per-CPU u64 array: (rc, keys, values with ncpu
    per key, count read, the batch options for a following write)."""
    keys = ffi.new("uint32_t[]", n)
    vals = ffi.new("uint64_t[]", n * ncpu)
    count = ffi.new("uint32_t *", n)
    out_batch = ffi.new("uint32_t *")
    opts = ffi.new("struct bpf_map_batch_opts *")
    opts.sz = ffi.sizeof("struct bpf_map_batch_opts")
    rc = lib.bpf_map_lookup_batch(fd, ffi.NULL, out_batch, keys, vals, count, opts)
    return rc, keys, vals, count, opts


def percpu_u64_all(fd: int, n: int) -> list[int]:
    """Sums over CPUs of slots 0..n-1 of a per-CPU u64 array, in one batch read."""
    ncpu = _possible_cpus()
    rc, keys, vals, count, _ = _percpu_batch_read(fd, n, ncpu)
    if rc < 0 and rc != -2:        # ENOENT: the whole map was read
        return [percpu_u64_sum(fd, i) for i in range(n)]
    sums = [0] * n
    for j in range(count[0]):
        k = keys[j]
        if k < n:
            sums[k] = sum(vals[j * ncpu + c] for c in range(ncpu))
    return sums


def obj_get_or_none(path: str) -> int | None:
    """An fd on the pinned object at `path`, or None when nothing is pinned there."""
    if not os.path.exists(path):
        return None
    return obj_get(path)


def pin(fd: int, path: str) -> None:
    check(lib.bpf_obj_pin(fd, path.encode()), f"bpf_obj_pin({path})")


def percpu_copy(src: int, dst: int) -> int:
    """Copy every slot of per-CPU u64 array `src` into the same slots of `dst` (a larger
    one: grown hit counters keep their counts). -> slots copied."""
    ncpu = _possible_cpus()
    n = min(map_info(src).max_entries, map_info(dst).max_entries)
    rc, keys, vals, count, opts = _percpu_batch_read(src, n, ncpu)
    if rc < 0 and rc != -2:        # ENOENT: the whole map was read
        check(rc, "bpf_map_lookup_batch")
    got = count[0]
    if got:
        count[0] = got
        check(lib.bpf_map_update_batch(dst, keys, vals, count, opts), "bpf_map_update_batch")
    return got
