"""The controller's side of the compiler: SB snapshot -> pipeline (C + map entries) -> the
datapath, rebuilding the program only when the flow shapes change. Compiles go through
controller/incremental.py: a change it can apply exactly costs time in proportion to the
change; anything else is a full compile_state().

A shape that goes away is not a rebuild: compiles keep the running program's shapes
while nothing new is needed (plan.build_plan `keep`), so a transient flow of a new shape
costs one build, not two. Unused shapes are dropped lazily: by the next build a new shape
forces anyway, or when the controller has been idle for COMPACT_IDLE_S (compact()).

The shape hash is the recompile decision: equal hash = same C, so only entries are written
into the running generation's maps; a new hash = build a new generation off the packet path
and swap it in (ChassisDatapath.install_pipeline is hitless).
"""
from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path

from .. import compile as C
from ..incremental import LazyDict, IncrementalCompiler
from ..lflow.plan import AnalysisCache
from ..limits import DEFAULT as DEFAULT_LIMITS, Limits, map_sizes
from . import desired as D

log = logging.getLogger("ovnbpf.pipeline")


def lflow_labels(state, uuids) -> dict:
    """{uuid: [pipeline, table, stage, priority, match, datapaths, actions]} of the flows
    that have a cookie: what `ovnbpf ctl` names beside their hit counters (grouped by
    datapath, drops told apart by their actions). Made once per fresh compile."""
    wanted = set(uuids)
    names = {d.uuid: d.name or str(d.tunnel_key) for d in state.datapaths}
    return {f.uuid: [f.pipeline, f.table_id, f.stage, f.priority, f.match[:100],
                     ",".join(sorted(names[d] for d in f.datapaths if d in names)),
                     f.actions[:100]]
            for f in state.flows if f.uuid in wanted}


class PipelineBuilder:
    COMPACT_IDLE_S = 60.0      # unused shapes go once nothing has changed for this long

    def __init__(self, datapath, workdir, limits: Limits = DEFAULT_LIMITS):
        self.datapath = datapath
        self.limits = limits
        self.workdir = Path(workdir)
        self.active_hash = None
        self.last_install = {}
        self.cache = AnalysisCache()          # per-lflow analysis survives across compiles
        # the allocators `ovnbpf compile` uses too (same limits, same numbers)
        self.group_keys, self.cookies = C.allocators(limits)
        self._last = None          # (compiler input, result) of the last compile
        self._installed = None     # the result the maps hold (a diff of 100,000 entries: skip)
        # a port, MAC or flow change within the running shapes is a delta, not a compile
        self.incremental = IncrementalCompiler(self.cache, self.group_keys, self.cookies,
                                               limits)
        self.running_shapes = ()   # the installed program's shapes (kept by compiles)
        self.unused = 0            # of those, how many no flow fills now
        self.changed_at = time.monotonic()
        self.compacting = False

    def compaction_due(self) -> bool:
        """The running program has shapes no flow fills and nothing changed for a while:
        time to rebuild without them (the caller steps, compile() then keeps nothing)."""
        if (self.unused and not self.compacting
                and time.monotonic() - self.changed_at > self.COMPACT_IDLE_S):
            self.compacting = True
            self._last = None
            self.incremental.forget(f"idle with {self.unused} unused shape(s): dropping them")
            return True
        return False

    def compile(self, state, chassis_name, want):
        """Compile with our own claims as the bindings (the SB may not show them yet).

        The compiler reads neither nb_cfg nor Port_Binding.up, so the input drops them;
        an input equal to the last one (a step woken by the local OVS DB, by our own claim
        coming back from the SB, or by an nb_cfg bump) reuses the last result. Unchanged
        rows are the same objects from one snapshot to the next, so comparing is cheap."""
        def as_compiled(p):
            bound = chassis_name if p.logical_port in want.claims else p.chassis
            if bound == p.chassis and not p.up:
                return p
            return dataclasses.replace(p, chassis=bound, up=False)
        mine = tuple(as_compiled(p) for p in state.ports)
        inp = dataclasses.replace(state, ports=mine, nb_cfg=0)
        if self._last is not None and self._last[0] == inp:
            result = self._last[1]
            D.synthetic_groups(want, {n: g.definition() for n, g in result.groups.items()},
                               port_key={p.logical_port: p.tunnel_key for p in state.ports}.get,
                               keys=result.group_keys)
            return result
        keep = () if self.compacting else self.running_shapes
        self.compacting = False
        self.changed_at = time.monotonic()
        result = self.incremental.compile(inp, chassis_name, keep=keep)
        self.unused = result.plan.unused
        self.group_keys.keep_only(result.groups)
        self.cookies.keep_only(result.cookies.values())
        D.synthetic_groups(want, {n: g.definition() for n, g in result.groups.items()},
                           port_key={p.logical_port: p.tunnel_key for p in state.ports}.get,
                           keys=result.group_keys)
        result.problems = [(w.split(":")[0].replace("lflow ", "") if w.startswith("lflow")
                            else "chassis", w) for w in result.warnings]
        uuids = list(result.cookies.values())      # labels are for the status: made when read
        result.lflow_labels = LazyDict(lambda: lflow_labels(state, uuids))
        self._last = (inp, result)
        return result

    def verify(self) -> bool:
        """Check the analyses the last compile took from templates (lflow/template.py)
        against real ones. False: one differed, and the next compile is a full one."""
        if self.incremental.verify():
            return True
        self._last = None
        return False

    def _sizes(self, compiled) -> dict | None:
        """Map sizes for this result (controller.limits.map_sizes), when the datapath
        sizes its maps (a stand-in in unit tests may not)."""
        if not hasattr(self.datapath, "outgrown"):
            return None
        return map_sizes(compiled.entries, max(compiled.cookies, default=0), self.limits)

    def _write(self, compiled):
        base = self.workdir
        if base.exists():   # keep the sources of the running generation only
            for old in base.iterdir():
                if old.name != str(self.active_hash)[:16]:
                    shutil.rmtree(old, ignore_errors=True)
        d = base / compiled.shape_hash[:16]
        d.mkdir(parents=True, exist_ok=True)
        (d / "ovnbpf_pipeline.h").write_text(compiled.header)
        path = d / "pipeline.c"
        path.write_text(compiled.source)
        return path

    def install(self, compiled, serve=None) -> bool:
        """True if a new program generation was built (a recompile). `serve(fn)` runs
        the slow build (clang: seconds) while the caller keeps its DB sessions alive."""
        sizes = self._sizes(compiled)
        outgrown = sizes and self.datapath.outgrown(sizes)
        if compiled.shape_hash == self.active_hash and not outgrown:
            if compiled is not self._installed:     # the same result: the maps hold it
                changes = compiled.changes
                if (changes is not None and compiled.changes_from is self._installed
                        and hasattr(self.datapath, "apply_pipeline_changes")):
                    # a delta on what the maps hold: write its keys only (the helper maps,
                    # a few rows per local port, are still made whole and diffed)
                    self.datapath.apply_pipeline_changes(
                        changes, {m: e for m, e in compiled.entries.items() if m not in changes})
                else:
                    self.datapath.update_pipeline_entries(compiled.entries)
                self._installed = compiled
            return False
        if outgrown:    # rare: sizes double, so n flows cost log2(n) of these at most
            log.info("rebuilding the pipeline with larger maps: %s", outgrown)
        path = self._write(compiled)
        if sizes:
            build = lambda: self.datapath.install_pipeline(path, compiled.entries,  # noqa: E731
                                                           sizes=sizes)
        else:
            build = lambda: self.datapath.install_pipeline(path, compiled.entries)  # noqa: E731
        info = serve(build) if serve else build()
        self.active_hash = compiled.shape_hash
        self._installed = compiled
        self.running_shapes = compiled.plan.shapes
        self.last_install = {"compile_s": compiled.timings.get("total_s"),
                             "unused_shapes": compiled.plan.unused, **info}
        return True
