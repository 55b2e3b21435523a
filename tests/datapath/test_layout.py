"""Pure-Python checks of the map layouts (no root needed)."""
from __future__ import annotations

import pytest

from datapath import maps as M


def test_mcast_layout_10000_members():
    local = list(range(1, 10001))
    hdr, chunks = M.mcast_layout({(1, 32768): (local, [2, 3, 4])})
    assert hdr[M.McastKey(1, 32768)] == M.McastGroup(10000, 3, 32768)
    # 20 chunks of local members (10000 / 512 rounded up), then one chunk of chassis
    assert sorted(k.chunk for k in chunks) == list(range(21))
    assert chunks[M.ChunkKey(1, 32768, 20)][:4] == (2, 3, 4, 0)
    assert chunks[M.ChunkKey(1, 32768, 19)][10000 - 19 * 512 - 1] == 10000


def test_mcast_layout_limit():
    with pytest.raises(ValueError):
        M.mcast_layout({(1, 32768): (range(1, 16385), [2])})


def test_codecs_match_c_sizes():
    sizes = {"ovnbpf_config": (4, 16), "ovnbpf_vifs": (4, 16), "ovnbpf_lports": (8, 32),
             "ovnbpf_tunnels": (4, 32), "ovnbpf_mcast": (8, 16),
             "ovnbpf_mcast_chunks": (16, 2048)}
    for name, (k, v) in sizes.items():
        _, kc, vc = M.SPECS[name]
        assert (kc.size, vc.size) == (k, v), name
