"""The datapath of one chassis, as the controller drives it.

    dp = ChassisDatapath(pin_dir, netns=None)   # entry programs built, maps pinned; an
                                                # existing pin_dir is adopted (restart)
    dp.set_config(chassis_id, encap_ip)
    dp.attach_uplink(ifname)                    # XDP decap + TC replication, underlay
    ifindex = dp.attach_vif(ifname)             # XDP + TC on a chassis-side VIF veth
    dp.detach_vif(ifname)
    dp.set_vifs({ifindex: (dp_key, port_key)})
    dp.set_lports({(dp_key, port_key): Local(ifindex) | Remote(chassis) | Patch(dp, port)})
    dp.set_tunnels({chassis_id: Tunnel(remote_ip, dmac=None, egress_mark=False)})
    dp.set_egress_on("egress" | "ingress")      # which chassis runs egress (bpf/lib/split.h)
    dp.set_mcast({(dp_key, group_key): Group(local_ports, remote_chassis, wire_key=0)})
    info = dp.install_pipeline(header, entries)  # hitless: {"gen", "insns", "build_s", "fill_s"}
    dp.update_pipeline_entries(entries)          # -> (added, changed, removed), no rebuild
    dp.counters()                                # {"stats", "drops", "lflow_hits"}
    dp.fcache.bypass = True                      # flow cache off (ovnbpf trace); .bump()
    dp.prog_fd("vif" | "tunnel" | "loop" | "inject")  # for BPF_PROG_TEST_RUN
    dp.open_punts(callback)                      # callback(bytes) per punt event (perf buffer)
    dp.punt_fds(); dp.poll_punts()               # for a poll loop; poll calls the callback
    dp.inject(header_and_frame)                  # a controller packet, live (xdp_inject.c)
    dp.last_output(cpu=None)                     # what the last packet on a CPU did
    dp.close(detach=True, unpin=True)

The set_* calls take the whole desired state and write only the difference (batched).

Programs (bpf/README.md): stable *entry* programs (xdp_vif, xdp_tunnel, xdp_loop,
tc_mcast) parse packets and tail-call the *pipeline* build of the active generation
through a pinned program array. `install_pipeline` builds a new pipeline module, fills
its maps, writes its programs into the inactive generation's slots and flips the active
index with one map write, so no packet ever meets a half-installed pipeline. Multicast
copies recirculate through a chassis-private veth pair (the "loop", created here) so each
copy runs the egress pipeline.

Everything kernel-side survives the process: attached programs, pinned maps and the
pinned program arrays keep forwarding when the controller is killed. A new
ChassisDatapath on the same pin_dir adopts the pinned maps and replaces the programs on
every interface it finds recorded in the pinned `ovnbpf_attached` map, atomically.
"""
from __future__ import annotations

import contextlib
import dataclasses
import ctypes
import hashlib
import ipaddress
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import maps as M
from .drops import DROP_MAX, Drop
from .loader import (ENTRY_FUNCTIONS, PIPELINE_STAGES, PL_STAGES, Attachments, BuildSpec,
                     Datapath)

__all__ = ["ChassisDatapath", "Local", "Remote", "Patch", "Tunnel", "Group",
           "PipelineLoadError", "verify_pipeline"]

PIPELINE_FUNCTIONS = tuple(PIPELINE_STAGES)
PL_GENS = 2
STATS = ("rx_vif", "rx_tunnel", "tx_local", "tx_tunnel", "mcast", "mcast_local",
         "mcast_remote", "pass", "tx_egress_done", "rx_egress_done",
         "punt", "punt_copy", "inject",
         "rx_egress_done_untrusted")                     # enum ovnbpf_stat, bpf/lib/maps.h
EGRESS_ON = ("egress", "ingress")
OUT_TYPES = {1: "local", 2: "remote", 3: "mcast", 4: "drop", 5: "pass", 6: "punt"}
FCACHE_STATS = ("fcache_hit", "fcache_miss", "fcache_fill")   # OVNBPF_FC_STAT_*, fcache.h
# OVNBPF_CT_* of bpf/lib/ct.h (conntrack), in the pipeline build's pinned ovnbpf_ct_stats
CT_STATS = ("ct_lookup", "ct_hit", "ct_created", "ct_expired", "ct_invalid", "ct_overflow",
            "ct_reopened")
ATTACH_VIF, ATTACH_UPLINK, ATTACH_LOOP = 1, 2, 3
MAX_LFLOWS = 65536       # the hit counters' size until a pipeline asks for more
HITS_MAP = "ovnbpf_lflow_hits"
PL_FLOWS_MAP = "ovnbpf_pl_flows"
LOOP_MTU = 3500          # veth with XDP: at most a page; VIF MTU for multicast <= 3442
LOOP_QUEUE = 20000       # recirculated copies that may wait for the loop (>= group size)
GRACE_S = 0.005          # an XDP program runs for microseconds; old slots go after this


class PipelineLoadError(RuntimeError):
    """A pipeline build failed to compile or to pass the verifier; the message ends with
    the tail of what clang / the kernel said."""


# ---- desired-state values -----------------------------------------------------------------

@dataclass(frozen=True)
class Local:
    ifindex: int


@dataclass(frozen=True)
class Remote:
    chassis: int


@dataclass(frozen=True)
class Patch:
    peer_dp: int
    peer_port: int


@dataclass(frozen=True)
class Tunnel:
    """The next hop is bpf_fib_lookup's answer; `dmac` (the static fallback while the
    kernel has no neighbour entry) and `ifindex` (default: the uplink) are optional.
    `egress_mark`: the chassis understands the egress-done bit (an ovnbpf chassis), so in
    ingress mode its unicast runs egress here (bpf/lib/split.h); never for OVS chassis.
    `trust_egress_done`: packets it marks egress-done skip egress here (it advertises that
    it sends the bit, and we that we accept it); from anyone else the mark is ignored."""
    remote_ip: str
    dmac: str | None = None
    ifindex: int | None = None
    egress_mark: bool = False
    trust_egress_done: bool = False


@dataclass(frozen=True)
class Group:
    local_ports: frozenset[int] | tuple[int, ...]
    remote_chassis: frozenset[int] | tuple[int, ...] = ()
    wire_key: int = 0      # outport of remote copies; 0 = the group key itself


def current_cpu() -> int:
    """The CPU this thread runs on (glibc's sched_getcpu; Python has no binding)."""
    return ctypes.CDLL(None, use_errno=True).sched_getcpu()


def _ip(s: str) -> int:
    return int(ipaddress.IPv4Address(s))


def _mac(s: str) -> int:
    return int(s.replace(":", ""), 16)


@contextlib.contextmanager
def _stderr_to(path: Path):
    """bcc prints clang's and the verifier's messages on fd 2: catch them for the error."""
    saved = os.dup(2)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _build(spec: BuildSpec) -> tuple[Datapath, float]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stderr"
        t0 = time.monotonic()
        try:
            with _stderr_to(log):
                dp = Datapath.build(spec, reuse=False)
        except Exception as e:
            if "Failed to load" in str(e):
                # the verifier's own words need its log: build once more, verbosely
                with contextlib.suppress(Exception), _stderr_to(log):
                    Datapath.build(dataclasses.replace(spec, debug=0x2, pin_dir=None),
                                   reuse=False).close(unpin=False)
            lines = log.read_text(errors="replace").strip().splitlines()
            tail = [ln[:300] for ln in lines if not ln.startswith(";")][-25:]
            if "Argument list too long" in str(e):
                tail.append("(E2BIG from the kernel: more than 64 maps used by one program, "
                            "or more than 1,000,000 instructions verified)")
            raise PipelineLoadError(f"pipeline {spec.pipeline}: {e}\n" + "\n".join(tail)) from None
        return dp, time.monotonic() - t0


def _size_defines(sizes: dict | None) -> tuple:
    if not sizes:
        return ()
    return (("OVNBPF_MAX_LFLOWS", str(sizes["lflow_hits"])),
            ("OVNBPF_PL_MAX_FLOWS", str(sizes["pl_flows"])))


def verify_pipeline(header: Path, sizes: dict | None = None) -> dict:
    """Build the pipeline programs that include `header` (maps of `sizes`:
    controller.limits.map_sizes), load them through the verifier (no attach, no pins) and unload them. -> {"insns":
    {program: verified insns}, "compile_s": seconds, "sizes"}; raises PipelineLoadError
    with the compiler/kernel message."""
    dp, secs = _build(BuildSpec(functions=PIPELINE_FUNCTIONS, pipeline=Path(header),
                                defines=_size_defines(sizes)))
    try:
        got = {"insns": dp.verified_insns(), "compile_s": round(secs, 3)}
        if sizes:
            got["sizes"] = {name: int(M.map_info(dp.map_fd(name)).max_entries)
                            for name in (HITS_MAP, PL_FLOWS_MAP)}
        return got
    finally:
        dp.close(unpin=False)


# ---- the chassis datapath -------------------------------------------------------------------

@dataclass
class _Pipeline:
    gen: int
    module: Datapath
    maps: dict[str, M.MapHandle] = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)     # what controller.limits.map_sizes() gave its build


def read_counters(map_fd, cookies=None) -> dict:
    """{"stats", "drops" by reason name, "lflow_hits" by cookie} from the per-CPU counter
    maps; map_fd(name) gives each map's fd (a loaded module's, or a pinned map's).
    cookies: the lflow cookies to read (default: every slot)."""
    stats = M.percpu_u64_all(map_fd("ovnbpf_stats"), len(STATS))
    try:   # pins made before the flow cache existed have no such map
        fc = M.percpu_u64_all(map_fd("ovnbpf_fc_stats"), len(FCACHE_STATS))
    except Exception:   # KeyError (a module without it), BpfError (no such pin)
        fc = [0] * len(FCACHE_STATS)
    try:   # made by the first pipeline build with conntrack (bpf/lib/ct.h)
        ct = M.percpu_u64_all(map_fd("ovnbpf_ct_stats"), 8)[:len(CT_STATS)]
    except Exception:   # KeyError, BpfError: no pipeline yet, or an older one
        ct = [0] * len(CT_STATS)
    drops = M.percpu_u64_all(map_fd("ovnbpf_drops"), DROP_MAX)
    hits_fd = map_fd("ovnbpf_lflow_hits")
    if cookies is None:
        hits = dict(enumerate(M.percpu_u64_all(hits_fd, M.map_info(hits_fd).max_entries)))
    else:
        hits = {c: M.percpu_u64_sum(hits_fd, c) for c in cookies}
    names = {-d.value: d.name for d in Drop}
    return {"stats": {**dict(zip(STATS, stats)), **dict(zip(FCACHE_STATS, fc)),
                      **dict(zip(CT_STATS, ct))},
            "drops": {names.get(i, f"UNKNOWN({-i})"): n for i, n in enumerate(drops) if n},
            "lflow_hits": {i: n for i, n in hits.items() if n}}


class ChassisDatapath:
    def __init__(self, pin_dir: str, netns: str | None = None):
        self.pin_dir, self.netns = pin_dir, netns
        adopting = os.path.exists(os.path.join(pin_dir, "ovnbpf_config"))
        self.entries = Datapath.build(BuildSpec(functions=ENTRY_FUNCTIONS, pipeline=None,
                                                pin_dir=pin_dir), reuse=False)
        self.att = Attachments()
        # the flow cache (bpf/lib/fcache.h): every write to a map the datapath or the
        # pipeline reads bumps its epoch, so no cached outcome outlives the state it came from
        self.fcache = M.FcacheControl(self.entries.map_fd("ovnbpf_fc_ctl"))
        self.maps = {n: M.handle(n, self.entries.map_fd(n), on_write=self.fcache.bump)
                     for n in M.SPECS}
        self.attached = M.MapHandle(self.entries.map_fd("ovnbpf_attached"), "hash", M.U32,
                                    M.U32)
        self.pipeline: _Pipeline | None = None
        self.punt_callback = None
        self.punts_lost = 0          # events the perf ring had no room for (userspace side)
        self.config = M.Config(0, 0, M.CFG_CHECK_OUTER_DST, 0)
        self.uplink: tuple[int, int] | None = None      # (ifindex, MAC)
        tag = hashlib.sha1(pin_dir.encode()).hexdigest()[:6]
        self.loop_names = (f"ovl{tag}a", f"ovl{tag}b")
        try:
            if adopting:
                self._adopt()
            self._ensure_loop()
        except Exception:
            self.close(detach=not adopting, unpin=not adopting)
            raise

    # -- setup ----------------------------------------------------------------------------

    def _ipr(self):
        from pyroute2 import IPRoute, NetNS
        return NetNS(self.netns) if self.netns else IPRoute()

    def _link(self, ifname: str) -> tuple[int, int]:
        with self._ipr() as ipr:
            found = ipr.link_lookup(ifname=ifname)
            if not found:
                raise ValueError(f"interface {ifname!r} not found in netns {self.netns or 'root'}")
            link = ipr.get_links(found[0])[0]
            return found[0], _mac(link.get_attr("IFLA_ADDRESS") or "00:00:00:00:00:00")

    def _sh(self, *args: str) -> None:
        cmd = (["ip", "netns", "exec", self.netns] if self.netns else []) + list(args)
        subprocess.run(cmd, check=True, capture_output=True)

    def _attach(self, ifindex: int, kind: int) -> None:
        prog = {ATTACH_VIF: "ovnbpf_xdp_vif", ATTACH_UPLINK: "ovnbpf_xdp_tunnel",
                ATTACH_LOOP: "ovnbpf_xdp_loop"}[kind]
        self.attached.update({ifindex: kind})      # recorded first: a restart finds it
        self.att.xdp(ifindex, self.entries.fd(prog), netns=self.netns)
        self.att.tc_ingress(ifindex, self.entries.fd("ovnbpf_tc_mcast"), netns=self.netns)

    def _ensure_loop(self) -> None:
        a, b = self.loop_names
        try:
            ia, _ = self._link(a)
        except ValueError:
            self._sh("ip", "link", "add", a, "mtu", str(LOOP_MTU), "type", "veth", "peer",
                     "name", b, "mtu", str(LOOP_MTU))
            # A veth ring holds 256 frames; with a qdisc in front, a full ring stops the
            # queue instead of dropping (veth backpressure), so a burst of copies waits.
            self._sh("ip", "link", "set", a, "txqueuelen", str(LOOP_QUEUE))
            self._sh("tc", "qdisc", "replace", "dev", a, "root", "pfifo", "limit",
                     str(LOOP_QUEUE))
            for n in (a, b):
                self._sh("ip", "link", "set", n, "up")
            ia, _ = self._link(a)
        ib, _ = self._link(b)
        self._attach(ib, ATTACH_LOOP)
        self.config = self.config._replace(loop_ifindex=ia)
        self.maps["ovnbpf_config"].apply({0: self.config})

    def _adopt(self) -> None:
        """Take over what an earlier process left: maps as installed state, programs
        replaced on every recorded interface (netlink replaces them atomically)."""
        for name, h in self.maps.items():
            if h.kind == "hash":
                h.sync_from_kernel()
        cfg = self.maps["ovnbpf_config"].get(0)
        if cfg:
            self.config = cfg
            self.maps["ovnbpf_config"].installed = {0: cfg}
        tun = self.maps["ovnbpf_tunnels"]
        tun.installed = {c: v for c in range(M.MAX_CHASSIS) if (v := tun.get(c)) and v.ifindex}
        self.attached.sync_from_kernel()
        vifs = {}
        for ifindex, kind in list(self.attached.installed.items()):
            try:
                self._attach(ifindex, kind)
            except Exception:          # the interface is gone: forget it
                self.attached.apply({k: v for k, v in self.attached.installed.items()
                                     if k != ifindex})
                continue
            if kind == ATTACH_UPLINK:
                with self._ipr() as ipr:
                    mac = ipr.get_links(ifindex)[0].get_attr("IFLA_ADDRESS")
                self.uplink = (ifindex, _mac(mac))
            if kind == ATTACH_VIF and (v := self.maps["ovnbpf_vifs"].get(ifindex)) and v.port:
                vifs[ifindex] = v
        self.maps["ovnbpf_vifs"].installed = vifs

    # -- configuration ----------------------------------------------------------------------

    def set_config(self, chassis_id: int, encap_ip: str) -> None:
        self.config = self.config._replace(chassis=chassis_id, encap_ip=_ip(encap_ip))
        self.maps["ovnbpf_config"].apply({0: self.config})

    def set_egress_on(self, mode: str) -> None:
        """"egress" (OVN's split: the chassis of the egress port runs egress) or "ingress"
        (this chassis runs egress for unicast to marking peers before encap; a load-time
        flag, no rebuild: bpf/lib/split.h)."""
        if mode not in EGRESS_ON:
            raise ValueError(f"egress_on {mode!r}: one of {', '.join(EGRESS_ON)}")
        flags = self.config.flags & ~M.CFG_EGRESS_ON_INGRESS
        if mode == "ingress":
            flags |= M.CFG_EGRESS_ON_INGRESS
        self.config = self.config._replace(flags=flags)
        self.maps["ovnbpf_config"].apply({0: self.config})

    def set_punt_rate(self, per_second: float, burst: int = 100) -> None:
        """At most `per_second` punts per second per CPU, `burst` back to back; the rest
        are counted drops (PUNT_RATE). per_second 0: no limit."""
        interval = 0 if per_second <= 0 else max(1, int(1e9 / per_second))
        self.maps["ovnbpf_punt_rate"].apply({0: M.PuntRate(interval, max(1, burst))})

    def attach_uplink(self, ifname: str) -> None:
        ifindex, mac = self._link(ifname)
        self._attach(ifindex, ATTACH_UPLINK)
        self.uplink = (ifindex, mac)

    def detach_uplink(self, ifname: str) -> None:
        """The encap IP moved to another device (attach_uplink() it first): this one
        stops decapsulating."""
        self.detach_vif(ifname)

    def attach_vif(self, ifname: str) -> int:
        ifindex, _ = self._link(ifname)
        self._attach(ifindex, ATTACH_VIF)
        return ifindex

    def detach_vif(self, ifname: str) -> None:
        ifindex, _ = self._link(ifname)
        self.att.adopt(ifindex, self.netns)
        self.att.detach(ifindex, self.netns)
        self.attached.apply({k: v for k, v in self.attached.installed.items() if k != ifindex})

    def set_vifs(self, vifs: dict[int, tuple[int, int]]) -> tuple[int, int, int]:
        return self.maps["ovnbpf_vifs"].apply(
            {ifx: M.Vif(dp, port, 0) for ifx, (dp, port) in vifs.items()})

    def set_lports(self, lports: dict[tuple[int, int], Local | Remote | Patch]) -> tuple[int, int, int]:
        desired = {}
        for (dp, port), where in lports.items():
            if isinstance(where, Local):
                v = M.LPort(M.LPORT_LOCAL, ifindex=where.ifindex, chassis=0)
            elif isinstance(where, Remote):
                v = M.LPort(M.LPORT_REMOTE, ifindex=0, chassis=where.chassis)
            elif isinstance(where, Patch):
                v = M.LPort(M.LPORT_PATCH, 0, 0, peer_dp=where.peer_dp, peer_port=where.peer_port)
            else:
                raise TypeError(f"lport {dp}/{port}: {where!r} is not Local, Remote or Patch")
            desired[M.LPortKey(dp, port)] = v
        return self.maps["ovnbpf_lports"].apply(desired)

    def set_tunnels(self, tunnels: dict[int, Tunnel]) -> tuple[int, int, int]:
        if tunnels and (self.uplink is None or not self.config.encap_ip):
            raise RuntimeError("set_tunnels: call set_config() and attach_uplink() first")
        desired, srcs = {}, {}
        for chassis, t in tunnels.items():
            if not 0 < chassis < M.MAX_CHASSIS:
                raise ValueError(f"tunnel to chassis {chassis}: ids are 1..{M.MAX_CHASSIS - 1}")
            desired[chassis] = M.Tunnel(_ip(t.remote_ip), self.config.encap_ip,
                                        t.ifindex or self.uplink[0], self.uplink[1],
                                        _mac(t.dmac) if t.dmac else 0,
                                        M.TUN_FIB | (M.TUN_EGRESS_MARK if t.egress_mark else 0))
            srcs[_ip(t.remote_ip)] = chassis | (M.TSRC_TRUST_DONE if t.trust_egress_done else 0)
        r = self.maps["ovnbpf_tunnels"].apply(desired)
        self.maps["ovnbpf_tunnel_srcs"].apply(srcs)
        return r

    def set_mcast(self, groups: dict[tuple[int, int], Group]) -> tuple[int, int, int]:
        hdr, chunks = M.mcast_layout({k: (g.local_ports, g.remote_chassis, g.wire_key)
                                      for k, g in groups.items()})
        # chunks first: a header never points at members that are not there yet
        self.maps["ovnbpf_mcast_chunks"].update(
            {k: v for k, v in chunks.items()
             if self.maps["ovnbpf_mcast_chunks"].installed.get(k) != v})
        r = self.maps["ovnbpf_mcast"].apply(hdr)
        self.maps["ovnbpf_mcast_chunks"].apply(chunks)
        return r

    # -- pipeline ---------------------------------------------------------------------------

    def _active_gen(self) -> int:
        v = self.entries.table("ovnbpf_pl_active")[ctypes.c_int(0)]
        return int(v.value) & 1

    def outgrown(self, sizes: dict) -> str | None:
        """Why the running build cannot take a state sized as `sizes`
        (controller.limits.map_sizes): a map it would overflow, or None. The caller
        rebuilds with the new sizes."""
        if self.pipeline is None or not self.pipeline.sizes:
            return None
        have = dict(self.pipeline.sizes, lflow_hits=self._hits_size())
        for name, want in sizes.items():
            if want > have.get(name, want):
                return f"{name} grows from {have[name]} to {want} slots"
        return None

    def _hits_size(self) -> int:
        return int(M.map_info(self._counter_fd(HITS_MAP)).max_entries)

    def _grow_hits(self, size: int):
        """Unpin a hit-counter map smaller than `size` so the next build pins a new one;
        -> the old map's fd (its counts are copied over once the build has made the new
        one), or None. Programs holding the old map keep it until they are replaced."""
        path = os.path.join(self.pin_dir, HITS_MAP)
        fd = M.obj_get_or_none(path)
        if fd is None:
            return None
        if M.map_info(fd).max_entries >= size:
            os.close(fd)
            return None
        os.unlink(path)
        return fd

    def install_pipeline(self, header: Path,
                         entries: dict[str, list[tuple[bytes, bytes]]],
                         sizes: dict | None = None) -> dict:
        """Build `header` as the next generation, fill its maps with `entries`
        ({map name: [(key bytes, value bytes)]}), then switch to it atomically.
        sizes: controller.limits.map_sizes() of the state (default: the C's own); hit
        counters that must grow move to a new pinned map, counts carried over."""
        active = self._active_gen()
        gen = 1 - active if self.pipeline is not None or self._slot_used(active) else active
        old_hits = self._grow_hits(sizes["lflow_hits"]) if sizes else None
        try:
            module, build_s = _build(BuildSpec(functions=PIPELINE_FUNCTIONS,
                                               pipeline=Path(header), pin_dir=self.pin_dir,
                                               defines=(("OVNBPF_GEN", str(gen)),
                                                        *_size_defines(sizes))))
        except Exception:
            if old_hits is not None:   # put the old counters back where ctl finds them
                path = os.path.join(self.pin_dir, HITS_MAP)
                with contextlib.suppress(OSError):
                    if os.path.exists(path):
                        os.unlink(path)
                    M.pin(old_hits, path)
                os.close(old_hits)
            raise
        try:
            if old_hits is not None:
                M.percpu_copy(old_hits, module.map_fd(HITS_MAP))
                os.close(old_hits)
                old_hits = None
            t0 = time.monotonic()
            new = _Pipeline(gen, module, sizes=dict(sizes or {}))
            self._fill(new, entries)
            fill_s = time.monotonic() - t0
            module.fill_slots(gen, self.entries.table("ovnbpf_pl_progs"))
        except Exception:
            module.close(unpin=False)
            raise
        self._open_punt_buffer(new)      # before the flip: the first punt has a reader
        self.entries.table("ovnbpf_pl_active")[ctypes.c_int(0)] = ctypes.c_uint(gen)
        self.fcache.bump()             # after the flip: a run that saw the old build is stale
        old, self.pipeline = self.pipeline, new
        if gen != active:
            time.sleep(GRACE_S)        # let packets already in the old generation finish
            self._clear_slots(active)
        if old is not None:
            if self.punt_callback is not None:
                # punts the old build submitted before the flip still reach the controller
                old.module.bpf.perf_buffer_consume()
            old.module.close(unpin=False)
        return {"gen": gen, "insns": module.verified_insns(), "build_s": round(build_s, 3),
                "fill_s": round(fill_s, 4)}

    def _slot_used(self, gen: int) -> bool:
        table = self.entries.table("ovnbpf_pl_progs")
        try:
            return table[ctypes.c_int(gen * PL_STAGES)] is not None
        except KeyError:
            return False

    def _clear_slots(self, gen: int) -> None:
        table = self.entries.table("ovnbpf_pl_progs")
        for stage in PIPELINE_STAGES.values():
            with contextlib.suppress(KeyError):
                del table[ctypes.c_int(gen * PL_STAGES + stage)]

    def _fill(self, pl: _Pipeline, entries: dict[str, list[tuple[bytes, bytes]]]) -> tuple[int, int, int]:
        totals = [0, 0, 0]
        for name, items in entries.items():
            h = pl.maps.get(name)
            if h is None:
                try:
                    h = pl.maps[name] = M.RawMapHandle(pl.module.map_fd(name),
                                                       on_write=self.fcache.bump)
                except KeyError:
                    raise KeyError(f"pipeline entries name map {name!r}, which "
                                   f"{pl.module.spec.pipeline} does not declare") from None
            for i, n in enumerate(h.apply(dict(items))):
                totals[i] += n
        return tuple(totals)

    def update_pipeline_entries(self, entries: dict[str, list[tuple[bytes, bytes]]]) -> tuple[int, int, int]:
        """Make each named map of the active pipeline hold exactly its entries (a diff;
        maps not named are left alone). -> (added, changed, removed)."""
        if self.pipeline is None:
            raise RuntimeError("update_pipeline_entries: no pipeline installed by this process")
        return self._fill(self.pipeline, entries)

    def apply_pipeline_changes(self, changes: dict, entries: dict | None = None) -> tuple[int, int]:
        """Write a delta into the active pipeline's maps: {map name: (upserts [(key bytes,
        value bytes)], deleted keys)}, nothing else read or compared; `entries`: other maps
        as whole desired states (diffed, as update_pipeline_entries). -> (written, deleted)"""
        if self.pipeline is None:
            raise RuntimeError("apply_pipeline_changes: no pipeline installed by this process")
        written = deleted = 0
        for name, (upserts, deletes) in changes.items():
            h = self.pipeline.maps.get(name)
            if h is None:
                h = self.pipeline.maps[name] = M.RawMapHandle(self.pipeline.module.map_fd(name),
                                                              on_write=self.fcache.bump)
            h.write_delta(upserts, deletes)
            written, deleted = written + len(upserts), deleted + len(deletes)
        if entries:
            self._fill(self.pipeline, entries)
        return written, deleted

    # -- the punt path (bpf/lib/punt.h, bpf/xdp_inject.c) ------------------------------------

    PUNT_PAGES = 64      # per CPU: 256 KiB of events; beyond that the datapath counts PUNT_LOST

    def open_punts(self, callback) -> None:
        """callback(bytes) for every punt event of this and every later pipeline build."""
        self.punt_callback = callback
        if self.pipeline is not None:
            self._open_punt_buffer(self.pipeline)

    def _open_punt_buffer(self, pl: _Pipeline) -> None:
        if self.punt_callback is None:
            return
        cb = self.punt_callback

        def raw(cpu, data, size):
            cb(ctypes.string_at(data, size))

        def lost(n):
            self.punts_lost += n

        pl.module.table("ovnbpf_punts").open_perf_buffer(raw, page_cnt=self.PUNT_PAGES, lost_cb=lost)

    def punt_fds(self) -> list[int]:
        """The perf buffer fds of the active build (readable when events wait)."""
        if self.pipeline is None or self.punt_callback is None:
            return []
        from bcc import lib
        return [lib.perf_reader_fd(r) for r in self.pipeline.module.bpf.perf_buffers.values()]

    def poll_punts(self) -> None:
        """Deliver every waiting punt event to the callback (never blocks)."""
        if self.pipeline is not None and self.punt_callback is not None:
            self.pipeline.module.bpf.perf_buffer_consume()

    def inject(self, data: bytes) -> None:
        """Run xdp_inject.c on `data` (inject header + frame) as a live frame: it resumes
        the pipeline and really transmits. Drops are counted by the datapath."""
        from . import testrun
        if self.uplink is None:
            raise RuntimeError("inject: attach_uplink() first (live frames need a device)")
        testrun.run_live(self.prog_fd("inject"), data, ingress_ifindex=self.uplink[0])

    # -- observing --------------------------------------------------------------------------

    def flush_conntrack(self) -> None:
        """Forget every connection (bpf/lib/ct.h's table; `ovnbpf trace` between packets)."""
        if self.pipeline is not None:
            try:
                self.pipeline.module.table("ovnbpf_ct_v1").clear()
            except KeyError:        # a pipeline built without conntrack
                pass

    def counters(self) -> dict:
        opened = []

        def map_fd(name):
            if name.startswith("ovnbpf_ct_"):    # the pipeline build's, pinned beside ours
                opened.append(M.obj_get(os.path.join(self.pin_dir, name)))
                return opened[-1]
            return self._counter_fd(name)
        try:
            return read_counters(map_fd)
        finally:
            for fd in opened:
                os.close(fd)

    def _counter_fd(self, name: str) -> int:
        # grown hit counters are the running build's (the entry programs hold the old map)
        if name == HITS_MAP and self.pipeline is not None:
            return self.pipeline.module.map_fd(name)
        return self.entries.map_fd(name)

    def prog_fd(self, which: str) -> int:
        return self.entries.fd({"vif": "ovnbpf_xdp_vif", "tunnel": "ovnbpf_xdp_tunnel",
                                "loop": "ovnbpf_xdp_loop", "inject": "ovnbpf_xdp_inject"}[which])

    def last_output(self, cpu: int | None = None) -> dict:
        """What the last packet run on `cpu` (default: the CPU we are on; pin yourself with
        os.sched_setaffinity around a test run) did."""
        values = self.entries.table("ovnbpf_last_output")[ctypes.c_int(0)]
        o = values[current_cpu() if cpu is None else cpu]
        out = {"type": OUT_TYPES.get(o.type, "none"), "dp": o.dp, "inport": o.inport,
               "outport": o.outport, "hops": o.hops}
        if o.type == 1:
            out["ifindex"] = o.ifindex
        elif o.type == 2:
            out.update(chassis=o.chassis, ifindex=o.ifindex)
        elif o.type == 6:
            out["cookie"] = o.chassis
        elif o.type == 4:
            out["reason"] = Drop(o.reason).name if o.reason in set(Drop) else str(o.reason)
        return out

    # -- teardown ---------------------------------------------------------------------------

    def close(self, detach: bool = True, unpin: bool = True) -> None:
        """detach=False, unpin=False leaves everything forwarding (a controller restart)."""
        if detach:
            for ifindex in list(self.attached.installed):
                self.att.adopt(ifindex, self.netns)
            self.att.detach_all()
            with contextlib.suppress(Exception):
                self._sh("ip", "link", "del", self.loop_names[0])
        if self.pipeline is not None:
            if detach:
                for gen in range(PL_GENS):
                    self._clear_slots(gen)
            self.pipeline.module.close(unpin=False)
            self.pipeline = None
        self.entries.close(unpin=False)
        if unpin:
            shutil.rmtree(self.pin_dir, ignore_errors=True)
