"""The two benchmarks that run a hand-written stand-in pipeline (`bench datapath`: the L2
one, `bench split`: the router one) find it in the source checkout's tests: stand-ins are
test code, not installed, so these benchmarks need a checkout."""
from __future__ import annotations

from collections import namedtuple
from pathlib import Path

from . import maps as M
from .bpfsrc import bpf_dir

L2Key = namedtuple("L2Key", "dp mac")         # l2_pipeline.h: struct ovnbpf_pl_l2_key
L2_KEY, L2_VALUE = M.Codec("<I4xQ", L2Key), M.U32


def standin(name: str) -> Path:
    path = bpf_dir().parent / "tests" / "datapath" / "pipelines" / name
    if not path.is_file():
        raise FileNotFoundError(f"{name}: this benchmark runs a test stand-in pipeline; run it "
                                "from a source checkout (tests/datapath/pipelines/)")
    return path


def l2_handle(dp, on_write=None) -> M.MapHandle:
    """The L2 stand-in's map, ovnbpf_pl_l2 (dp, MAC) -> port, of a build that includes it."""
    return M.MapHandle(dp.map_fd("ovnbpf_pl_l2"), "hash", L2_KEY, L2_VALUE, on_write)
