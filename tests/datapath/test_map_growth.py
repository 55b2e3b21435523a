"""Hit counters that follow the work: a pipeline build sized for more lflows than the pinned
counters hold moves them to a larger pinned map, counts carried over; `ctl`'s reader
(read_counters on the pins) sees every slot; a restarted controller adopts the larger
map. Before: the counters had 65,536 slots whatever the Southbound held."""
from __future__ import annotations

import os

import pytest

from .conftest import needs_bpf
from .netns import Lab
from .test_chassis import HEADER, entries

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]


def _bump(fd, slot, n):
    from datapath import maps as M
    from datapath.libbpf import check, ffi, lib
    ncpu = M._possible_cpus()
    vals = ffi.new("uint64_t[]", [n] + [0] * (ncpu - 1))
    check(lib.bpf_map_update_elem(fd, ffi.new("uint32_t *", slot), vals, 0), "update")


def test_hit_counters_grow_with_the_lflows():
    from datapath import maps as M
    from datapath.chassis import HITS_MAP, ChassisDatapath, read_counters
    lab = Lab()
    dp = new = None
    try:
        hv = lab.ns("hv")
        pin = f"/sys/fs/bpf/{lab.tag}-hv"
        dp = ChassisDatapath(pin, netns=hv)
        small = {"lflow_hits": 1 << 16, "pl_flows": 1 << 16}
        dp.install_pipeline(HEADER, entries(), sizes=small)
        path = os.path.join(pin, HITS_MAP)
        fd = M.obj_get(path)
        assert M.map_info(fd).max_entries == 1 << 16
        _bump(fd, 7, 41)
        os.close(fd)
        assert dp.outgrown(small) is None
        big = {"lflow_hits": 1 << 18, "pl_flows": 1 << 16}
        assert dp.outgrown(big) == "lflow_hits grows from 65536 to 262144 slots"
        dp.install_pipeline(HEADER, entries(), sizes=big)
        fd = M.obj_get(path)
        assert M.map_info(fd).max_entries == 1 << 18
        _bump(fd, 200_000, 5)
        hits = read_counters(lambda name: M.obj_get(os.path.join(pin, name)))["lflow_hits"]
        assert hits == {7: 41, 200_000: 5}
        os.close(fd)
        assert dp.outgrown(big) is None
        # a restart builds its entry programs at the default size: it adopts the pin
        dp.close(detach=False, unpin=False)
        new, dp = ChassisDatapath(pin, netns=hv), None
        new.install_pipeline(HEADER, entries(), sizes=big)
        assert read_counters(new.entries.map_fd)["lflow_hits"] == {7: 41, 200_000: 5}
    finally:
        for d in (dp, new):
            if d is not None:
                d.close()
        lab.close()
