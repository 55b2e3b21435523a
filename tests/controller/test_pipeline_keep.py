"""PipelineBuilder's build decisions on Southbound contents written by real ovn-northd:
a flow of a new shape that comes and goes costs one build (its removal is a map update),
the unused shape is dropped once the controller has been idle, and every result it
programs equals a fresh compile's entries."""
import dataclasses
import time

import pytest

from controller import compile as C
from controller.db import oneshot
from controller.chassisd import desired as D
from controller.chassisd.pipeline import PipelineBuilder
from controller.db import rows

pytestmark = pytest.mark.root       # ovsdb-server + ovn-northd processes


class Recorder:
    """Below the builder: records what it would build or write (no kernel here)."""
    def __init__(self):
        self.builds, self.entry_writes = [], 0

    def install_pipeline(self, path, entries):
        self.builds.append(path.parent.name)
        return {}

    def update_pipeline_entries(self, entries):
        self.entry_writes += 1


def test_transient_shape_is_one_build_and_is_dropped_when_idle(ovn_central, tmp_path):
    c = ovn_central
    c.nbctl("ls-add", "ls1", "--", "lsp-add", "ls1", "p1", "--", "lsp-set-addresses", "p1",
            "0a:00:00:00:01:01 10.0.1.1", "--", "lsp-add", "ls1", "p2", "--",
            "lsp-set-addresses", "p2", "0a:00:00:00:01:02 10.0.1.2")
    c.sbctl("chassis-add", "hv1", "geneve", "192.0.2.1")
    c.nbctl("--wait=sb", "sync")
    c.sbctl("lsp-bind", "p1", "hv1")
    base = oneshot.snapshot(c.sb_remote)
    dp = next(d.uuid for d in base.datapaths if d.name == "ls1")
    foreign = rows.LogicalFlow("00000000-0000-4000-8000-00000000f00d", (dp,), "ingress", 9,
                               33333, "ip4.dst == 10.9.9.9 && udp.dst == 4242", "drop;",
                               "ls_in_foreign")
    extra = dataclasses.replace(base, flows=base.flows + (foreign,))
    dp_ = Recorder()
    builder = PipelineBuilder(dp_, tmp_path)
    ids = D.ChassisIds()

    def program(state):
        want = D.compute(state, "hv1", {"p1": "p1-dev"}, ids)
        result = builder.compile(state, "hv1", want)
        builder.install(result)
        return result

    first = program(base)
    with_shape = program(extra)
    assert with_shape.shape_hash != first.shape_hash and len(dp_.builds) == 2
    gone = program(base)
    assert len(dp_.builds) == 2, "the shape that went is a map update, not a build"
    assert gone.shape_hash == with_shape.shape_hash and builder.unused == 1
    fresh = C.compile_state(base, "hv1", cookie=lambda u: gone.cookies and
                            {v: k for k, v in gone.cookies.items()}[u],
                            synthetic_key=builder.group_keys)
    by_shape = lambda r: {(r.plan.shapes[e.shape], e.datapath, e.key, e.params, e.lflow)  # noqa: E731
                          for e in r.plan.entries}
    assert by_shape(gone) == by_shape(fresh), "the same flows, in the kept program"
    # idle long enough: the next step drops the unused shape (one build)
    assert not builder.compaction_due()
    builder.changed_at = time.monotonic() - builder.COMPACT_IDLE_S - 1
    assert builder.compaction_due() and not builder.compaction_due()
    compact = program(base)
    assert len(dp_.builds) == 3 and compact.shape_hash == first.shape_hash
    assert builder.unused == 0 and not builder.compaction_due()
