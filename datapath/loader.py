"""Compile ovnbpf's BPF programs with bcc, load them, attach and detach them.

One `Datapath` is one compiled translation unit (all requested entry programs share its
maps). With `pin_dir`, the maps of lib/maps.h are pinned there, so a second Datapath built
with the same pin_dir (e.g. a recompiled pipeline) opens the very same maps; swapping it in
with `Attachments.xdp()` / `.tc_ingress()` on an interface that already has a program is an
atomic replacement in the kernel (netlink IFLA_XDP and `tc filter replace` both swap one
pointer): no packet sees "no program".

Build cache: bcc always compiles from source, so nothing compiled can be reused across
processes. We still key every build by sha256(codegen version, expanded source, cflags,
kernel release) and keep, under $OVNBPF_CACHE (default ~/.cache/ovnbpf)/<key>/, the exact
source compiled and what the kernel said about it (instruction counts, compile time); in
one process, building the same key twice returns the first, still-open Datapath.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from bcc import BPF

from .bpfsrc import bpf_dir
from .csource import expand
from .libbpf import verified_insns

CODEGEN_VERSION = 1
CACHE_DIR = Path(os.environ.get("OVNBPF_CACHE", "~/.cache/ovnbpf")).expanduser()

# entry function -> (source file, bcc program type)
ENTRIES = {
    "ovnbpf_xdp_vif": ("xdp_vif.c", BPF.XDP),
    "ovnbpf_xdp_tunnel": ("xdp_tunnel.c", BPF.XDP),
    "ovnbpf_xdp_loop": ("xdp_loop.c", BPF.XDP),
    "ovnbpf_xdp_inject": ("xdp_inject.c", BPF.XDP),
    "ovnbpf_tc_mcast": ("tc_mcast.c", BPF.SCHED_CLS),
    "ovnbpf_tc_mcast_cont": ("tc_mcast.c", BPF.SCHED_CLS),
    "ovnbpf_pl_ingress": ("pipeline.c", BPF.XDP),
    "ovnbpf_pl_egress": ("pipeline.c", BPF.XDP),
}
ENTRY_FUNCTIONS = ("ovnbpf_xdp_vif", "ovnbpf_xdp_tunnel", "ovnbpf_xdp_loop", "ovnbpf_xdp_inject",
                   "ovnbpf_tc_mcast", "ovnbpf_tc_mcast_cont")
# pipeline stage program -> OVNBPF_PL_STAGE_* (bpf/lib/maps.h)
PIPELINE_STAGES = {"ovnbpf_pl_ingress": 0, "ovnbpf_pl_egress": 1}
PL_STAGES = 4                     # OVNBPF_PL_STAGES
TAIL_MCAST_CONT = 0   # OVNBPF_TAIL_MCAST_CONT in bpf/lib/maps.h


@dataclass(frozen=True)
class BuildSpec:
    functions: tuple[str, ...] = tuple(ENTRIES)
    pipeline: Path | None = None      # the pipeline header (pipeline.c needs one)
    defines: tuple[tuple[str, str], ...] = ()
    pin_dir: str | None = None
    sources: tuple[Path, ...] = field(default=())   # extra/other entry files (benchmarks)
    debug: int = 0     # bcc debug flags (0x2: print the verifier log on stderr)

    def entry_files(self) -> list[Path]:
        files = []
        for fn in self.functions:
            if fn in ENTRIES:
                p = bpf_dir() / ENTRIES[fn][0]
                if p not in files:
                    files.append(p)
        return files + [p for p in self.sources if p not in files]

    def cflags(self) -> list[str]:
        flags = [f"-D{k}={v}" for k, v in self.defines]
        if self.pipeline is not None:
            flags.append(f'-DOVNBPF_PIPELINE="{self.pipeline}"')
        if self.pin_dir:
            flags.append(f'-DOVNBPF_PIN_DIR="{self.pin_dir}"')
        return flags


def cache_key(text: str, cflags: list[str]) -> str:
    h = hashlib.sha256()
    for part in (str(CODEGEN_VERSION), text, "\0".join(cflags), platform.release()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


_live: dict[str, "Datapath"] = {}


class Datapath:
    """A compiled, loaded set of ovnbpf programs and their maps."""

    def __init__(self, spec: BuildSpec, bpf: BPF, key: str, text: str):
        self.spec, self.bpf, self.key, self.text = spec, bpf, key, text
        self.fds: dict[str, int] = {}
        self.closed = False

    @classmethod
    def build(cls, spec: BuildSpec = BuildSpec(), reuse: bool = True) -> "Datapath":
        """Compile and load. A spec with both the entries and the pipeline stages (tests,
        benchmarks) also fills its generation's pipeline slots and makes it active."""
        text, _ = expand(spec.entry_files(), spec.pipeline)
        cflags = spec.cflags()
        key = cache_key(text, cflags)
        live = _live.get(key)
        if reuse and live is not None and not live.closed:
            return live
        created = bool(spec.pin_dir) and not os.path.exists(spec.pin_dir)
        if spec.pin_dir:
            os.makedirs(spec.pin_dir, exist_ok=True)
        t0 = time.monotonic()
        bpf = None
        try:
            bpf = BPF(text=text.encode(), cflags=cflags, debug=spec.debug)
            dp = cls(spec, bpf, key, text)
            for fn in spec.functions:
                ptype = ENTRIES[fn][1] if fn in ENTRIES else BPF.XDP
                dp.fds[fn] = bpf.load_func(fn.encode(), ptype).fd
        except Exception:
            if bpf is not None:
                bpf.cleanup()
            if created:   # leave no pinned maps behind from a build that failed
                shutil.rmtree(spec.pin_dir, ignore_errors=True)
            raise
        compile_s = time.monotonic() - t0
        if "ovnbpf_tc_mcast_cont" in dp.fds:
            bpf[b"ovnbpf_tail"][ctypes.c_int(TAIL_MCAST_CONT)] = ctypes.c_int(
                dp.fds["ovnbpf_tc_mcast_cont"])
        if "ovnbpf_xdp_vif" in dp.fds and all(fn in dp.fds for fn in PIPELINE_STAGES):
            gen = dp.gen
            dp.fill_slots(gen)
            bpf[b"ovnbpf_pl_active"][ctypes.c_int(0)] = ctypes.c_uint(gen)
        dp._record(cflags, compile_s)
        if reuse:
            _live[key] = dp
        return dp

    @property
    def gen(self) -> int:
        """The pipeline generation this build's stage programs tail-call (OVNBPF_GEN)."""
        return int(dict(self.spec.defines).get("OVNBPF_GEN", 0))

    def fill_slots(self, gen: int, prog_array=None) -> None:
        """Write this build's pipeline stages into generation `gen`'s program slots."""
        table = prog_array if prog_array is not None else self.bpf[b"ovnbpf_pl_progs"]
        for fn, stage in PIPELINE_STAGES.items():
            table[ctypes.c_int(gen * PL_STAGES + stage)] = ctypes.c_int(self.fds[fn])

    def _record(self, cflags: list[str], compile_s: float) -> None:
        try:
            d = CACHE_DIR / self.key
            d.mkdir(parents=True, exist_ok=True)
            (d / "source.c").write_text(self.text)
            (d / "build.json").write_text(json.dumps({
                "codegen_version": CODEGEN_VERSION, "cflags": cflags,
                "kernel": platform.release(), "compile_load_s": round(compile_s, 3),
                "verified_insns": self.verified_insns()}, indent=1))
        except OSError:
            pass   # the record is informational; a read-only home must not break loading

    def fd(self, function: str) -> int:
        return self.fds[function]

    def map_fd(self, name: str) -> int:
        return self.bpf[name.encode()].get_fd()

    def table(self, name: str):
        return self.bpf[name.encode()]

    def verified_insns(self) -> dict[str, int]:
        return {fn: verified_insns(fd) for fn, fd in self.fds.items()}

    def close(self, unpin: bool = True) -> None:
        """Unload (programs stay alive only while attached); unpin our maps if asked."""
        if self.closed:
            return
        self.closed = True
        if _live.get(self.key) is self:
            _live.pop(self.key, None)
        self.bpf.cleanup()
        if unpin and self.spec.pin_dir:
            shutil.rmtree(self.spec.pin_dir, ignore_errors=True)


# ---- attaching -------------------------------------------------------------------------

XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2


class Attachments:
    """What we attached, so it can all be detached (also on error: use `with`)."""

    def __init__(self):
        self._xdp: list[tuple[str | None, int]] = []
        self._tc: list[tuple[str | None, int]] = []

    @staticmethod
    def _ipr(netns: str | None):
        from pyroute2 import IPRoute, NetNS
        return NetNS(netns) if netns else IPRoute()

    def xdp(self, ifindex: int, prog_fd: int, netns: str | None = None,
            native: bool = True) -> None:
        """Attach, or atomically replace, the XDP program of an interface."""
        flags = XDP_FLAGS_DRV_MODE if native else XDP_FLAGS_SKB_MODE
        with self._ipr(netns) as ipr:
            ipr.link("set", index=ifindex,
                     xdp={"attrs": [("IFLA_XDP_FD", prog_fd), ("IFLA_XDP_FLAGS", flags)]})
        if (netns, ifindex) not in self._xdp:
            self._xdp.append((netns, ifindex))

    def tc_ingress(self, ifindex: int, prog_fd: int, netns: str | None = None,
                   name: str = "ovnbpf") -> None:
        """cls_bpf in direct-action mode on the clsact ingress hook; replaces in place."""
        with self._ipr(netns) as ipr:
            if (netns, ifindex) not in self._tc:
                try:
                    ipr.tc("add", "clsact", ifindex)
                except Exception as e:   # EEXIST: a clsact is already there
                    if getattr(e, "code", None) != 17:
                        raise
            ipr.tc("replace-filter", "bpf", ifindex, ":1", fd=prog_fd, name=name,
                   parent="ffff:fff2", classid=1, direct_action=True, prio=1,
                   protocol=0x0003)   # ETH_P_ALL (pyroute2 puts it in network order)
        if (netns, ifindex) not in self._tc:
            self._tc.append((netns, ifindex))

    def detach(self, ifindex: int, netns: str | None = None) -> None:
        """Remove our XDP program and clsact from one interface (gone already is fine)."""
        try:
            with self._ipr(netns) as ipr:
                if (netns, ifindex) in self._xdp:
                    ipr.link("set", index=ifindex, xdp={"attrs": [("IFLA_XDP_FD", -1)]})
                if (netns, ifindex) in self._tc:
                    ipr.tc("del", "clsact", ifindex)
        except Exception:
            pass
        for lst in (self._xdp, self._tc):
            if (netns, ifindex) in lst:
                lst.remove((netns, ifindex))

    def adopt(self, ifindex: int, netns: str | None = None, tc: bool = True) -> None:
        """Remember an interface attached by an earlier process (controller restart)."""
        if (netns, ifindex) not in self._xdp:
            self._xdp.append((netns, ifindex))
        if tc and (netns, ifindex) not in self._tc:
            self._tc.append((netns, ifindex))

    def detach_all(self) -> None:
        errors = []
        for netns, ifindex in reversed(self._xdp):
            try:
                with self._ipr(netns) as ipr:
                    ipr.link("set", index=ifindex, xdp={"attrs": [("IFLA_XDP_FD", -1)]})
            except Exception as e:   # the interface may be gone already: that detaches too
                errors.append(e)
        for netns, ifindex in reversed(self._tc):
            try:
                with self._ipr(netns) as ipr:
                    ipr.tc("del", "clsact", ifindex)
            except Exception as e:
                errors.append(e)
        self._xdp.clear()
        self._tc.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach_all()
