"""Where a shape's key fields and constants live in the pipeline's fixed-size map records.

All shapes share one hash map (`ovnbpf_pl_flows`, see bpf/lib/pl_maps.h) whose key is
(shape id, datapath key, KEY_WORDS x u64) and whose value is (lflow cookie, VAL_WORDS x u64).
A shape packs its masked key fields and its action constants into those words: first fit,
widest first, never straddling a word; a 128-bit value takes two whole words, low word
first. The same layout drives the C (emit_c) and the bytes (encode), so they cannot drift.

Key-less shapes (the match tests nothing but the datapath, e.g. `1 -> next;`) need no hash
lookup: their entry lives in the per-datapath record (`ovnbpf_pl_dps`), which the pipeline
reads once per datapath anyway.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ast
from .symbols import SymbolTable

__all__ = ["KEY_WORDS", "VAL_WORDS", "Slot", "ShapeLayout", "shape_layout", "pack_words",
           "LayoutError", "operand_width", "field_ref"]

KEY_WORDS = 6    # OVNBPF_PL_KEY_WORDS in bpf/lib/pl_maps.h (tests/datapath/test_mirrors.py)
VAL_WORDS = 6    # OVNBPF_PL_VAL_WORDS in bpf/lib/pl_maps.h


class LayoutError(ValueError):
    pass


@dataclass(frozen=True)
class Slot:
    word: int     # first word
    shift: int    # bit offset in that word (0 for 128-bit values)
    width: int    # bits: <= 64, or 128 (words `word` = low half, `word + 1` = high half)

    @property
    def mask(self) -> int:
        return (1 << min(self.width, 64)) - 1


@dataclass(frozen=True)
class ShapeLayout:
    key: tuple[Slot, ...]       # per Shape.key
    params: tuple[Slot, ...]    # per Shape.params
    key_words: int
    val_words: int

    @property
    def keyless(self) -> bool:
        return not self.key


def _pack(widths: list[int], limit: int, what: str) -> tuple[tuple[Slot, ...], int]:
    slots: list[Slot | None] = [None] * len(widths)
    used: list[int] = []      # bits used per word
    for i in sorted(range(len(widths)), key=lambda i: (-widths[i], i)):
        w = widths[i]
        if w > 64:
            slots[i] = Slot(len(used), 0, 128)
            used += [64, 64]
            continue
        word = next((j for j, u in enumerate(used) if u + w <= 64), None)
        if word is None:
            word = len(used)
            used.append(0)
        slots[i] = Slot(word, used[word], w)
        used[word] += w
    if len(used) > limit:
        raise LayoutError(f"{what} needs {len(used)} words, the map record has {limit}")
    return tuple(slots), len(used)


def field_ref(name: str) -> ast.FieldRef:
    """`xreg0[0..47]` / `outport` as written in Shape.params, back to a FieldRef."""
    if "[" not in name:
        return ast.FieldRef(name)
    base, rng = name[:-1].split("[")
    lo, _, hi = rng.partition("..")
    return ast.FieldRef(base, int(lo), int(hi or lo))


def operand_width(symtab: SymbolTable, name: str) -> int:
    """Bits of a field operand as written (string fields are 32-bit port keys)."""
    ref = field_ref(name)
    fld, lo, hi = symtab.resolve(ref.name)
    if fld.is_string:
        return 32
    return (ref.hi - ref.lo + 1) if ref.sliced else hi - lo + 1


def _key_width(symtab: SymbolTable, kf) -> int:
    """Bits a masked key field needs: up to its mask's highest bit (flags/0x2 needs 2)."""
    fld = symtab.fields[kf.field]
    if fld.is_string:
        return 32
    if fld.width > 64:
        return 128
    return max(1, kf.mask.bit_length())


def shape_layout(shape, symtab: SymbolTable) -> ShapeLayout:
    key_widths = [_key_width(symtab, k) for k in shape.key]
    val_widths = [operand_width(symtab, p) for p in shape.params]
    key, kw = _pack(key_widths, KEY_WORDS, f"the key of {shape.describe()}")
    params, vw = _pack(val_widths, VAL_WORDS, f"the constants of {shape.describe()}")
    return ShapeLayout(key, params, kw, vw)


def pack_words(slots: tuple[Slot, ...], values: list[int], nwords: int) -> list[int]:
    """Values placed in their slots, as `nwords` 64-bit words."""
    words = [0] * nwords
    for slot, value in zip(slots, values):
        if slot.width > 64:
            words[slot.word] |= value & (2**64 - 1)
            words[slot.word + 1] |= (value >> 64) & (2**64 - 1)
        else:
            words[slot.word] |= (value & slot.mask) << slot.shift
    return words


@dataclass(frozen=True)
class PipelineLayout:
    """Record layouts of every shape of a plan, and the per-datapath record's slots."""
    shapes: tuple[ShapeLayout | None, ...]   # None: does not fit the records (see errors)
    errors: dict                             # shape id -> why it does not fit
    keyless_slot: dict                       # shape id -> its slot in ovnbpf_pl_dp.cookie[]
    keyless_word: dict                       # shape id -> its first word in ovnbpf_pl_dp.w[]
    n_keyless: int
    keyless_words: int
    shape_words: int                         # u64 words of the "has entries" bitmap

    def dp_record_fmt(self) -> str:
        """struct.pack format of struct ovnbpf_pl_dp (see emit_c)."""
        cookies = max(self.n_keyless, 1)
        pad = "I" if cookies % 2 else ""
        return "<" + "Q" * self.shape_words + "I" * cookies + pad + "Q" * max(self.keyless_words, 1)


def pipeline_layout(plan, symtab: SymbolTable) -> PipelineLayout:
    layouts, errors, slot, word = [], {}, {}, {}
    next_word = 0
    for i, shape in enumerate(plan.shapes):
        try:
            lay = shape_layout(shape, symtab)
        except LayoutError as e:
            layouts.append(None)
            errors[i] = str(e)
            continue
        layouts.append(lay)
        if lay.keyless:
            slot[i] = len(slot)
            word[i] = next_word
            next_word += lay.val_words
    return PipelineLayout(tuple(layouts), errors, slot, word, len(slot), next_word,
                          max(1, (len(plan.shapes) + 63) // 64))
