"""A plan's entries as map records: the bytes of ovnbpf_pl_flows and ovnbpf_pl_dps.

Names become integers here, through the callables the caller passes: logical ports and
multicast groups (`port_key`, which also resolves the compiler's synthetic groups such as
`clone:ls1-lr1+_MC_flood_l2`), datapaths (`datapath_key`) and lflow uuids (`cookie`).
Layouts come from layout.py, the same ones the C was generated from. Host byte order.
"""
from __future__ import annotations

import struct
from typing import Callable

from . import ast
from .layout import KEY_WORDS, VAL_WORDS, pack_words, pipeline_layout
from .plan import Plan
from .symbols import SymbolTable, default_symtab

__all__ = ["encode_entries", "flow_record", "param_words", "plan_cookies", "FLOWS_MAP", "DPS_MAP", "KEY_FMT", "VAL_FMT"]

FLOWS_MAP = "ovnbpf_pl_flows"
DPS_MAP = "ovnbpf_pl_dps"
KEY_FMT = "<II" + "Q" * KEY_WORDS          # struct ovnbpf_pl_key
VAL_FMT = "<II" + "Q" * VAL_WORDS          # struct ovnbpf_pl_val


def plan_cookies(plan: Plan) -> dict[str, int]:
    """Cookies 1..N in uuid order: fine for a one-shot compile. A long-lived controller
    passes its own stable allocator instead, so a new lflow does not renumber the others."""
    return {u: i for i, u in enumerate(sorted({e.lflow for e in plan.entries}), 1)}


def _value(param, port_key) -> int:
    if isinstance(param, ast.StrConst):
        return port_key(param.value)
    return param.value


def param_words(lay, params, port_key) -> list[int]:
    """The value words of one entry: its template constants, packed per the shape layout."""
    return pack_words(lay.params, [_value(p, port_key) for p in params], lay.val_words)


def flow_record(shape, lay, index: int, dp: int, key: tuple, vwords: list[int], cookie: int,
                port_key) -> tuple[bytes, bytes]:
    """One ovnbpf_pl_flows record: shape `index` (its place in the plan), datapath key `dp`,
    the entry's key values (port names resolved through port_key) and value words."""
    keys = [port_key(v) if kf.mask is None else v for kf, v in zip(shape.key, key)]
    kwords = pack_words(lay.key, keys, KEY_WORDS)
    return (struct.pack(KEY_FMT, index, dp, *kwords),
            struct.pack(VAL_FMT, cookie, 0, *(vwords + [0] * (VAL_WORDS - len(vwords)))))


def encode_entries(plan: Plan, port_key: Callable[[str], int],
                   datapath_key: Callable[[str], int],
                   cookie: Callable[[str], int] | None = None,
                   symtab: SymbolTable | None = None,
                   layout=None) -> dict[str, list[tuple[bytes, bytes]]]:
    """{map name: [(key bytes, value bytes)]} for ovnbpf_pl_flows and ovnbpf_pl_dps.
    `layout`: the plan's pipeline_layout, if the caller has it already."""
    symtab = symtab or default_symtab()
    pl = layout or pipeline_layout(plan, symtab)
    cookie = cookie or plan_cookies(plan).__getitem__
    flows = []
    dps: dict[int, dict] = {}
    for entry in plan.entries:
        lay = pl.shapes[entry.shape]
        if lay is None:
            continue       # the C fails such shapes closed; nothing to look up
        dp = datapath_key(entry.datapath)
        record = dps.setdefault(dp, {"bits": [0] * pl.shape_words, "cookies": {}, "words": {}})
        record["bits"][entry.shape // 64] |= 1 << (entry.shape % 64)
        vwords = param_words(lay, entry.params, port_key)
        if lay.keyless:
            record["cookies"][pl.keyless_slot[entry.shape]] = cookie(entry.lflow)
            base = pl.keyless_word[entry.shape]
            for j, word in enumerate(vwords):
                record["words"][base + j] = word
            continue
        flows.append(flow_record(plan.shapes[entry.shape], lay, entry.shape, dp, entry.key,
                                 vwords, cookie(entry.lflow), port_key))
    fmt = pl.dp_record_fmt()
    n_cookies, n_words = max(pl.n_keyless, 1), max(pl.keyless_words, 1)
    records = []
    for dp, r in sorted(dps.items()):
        cookies = [r["cookies"].get(i, 0) for i in range(n_cookies)]
        if n_cookies % 2:
            cookies.append(0)
        words = [r["words"].get(i, 0) for i in range(n_words)]
        records.append((struct.pack("<I", dp), struct.pack(fmt, *r["bits"], *cookies, *words)))
    return {FLOWS_MAP: flows, DPS_MAP: records}
