"""Emit deterministic C (bcc syntax) for a plan, against bpf/lib/flow.h.

Few maps, whatever the topology (the kernel allows 64 per program): every shape's entries
live in one hash map, `ovnbpf_pl_flows`, keyed by (shape id, datapath, packed key words)
(bpf/lib/pl_maps.h; packing in layout.py). A per-datapath record, `ovnbpf_pl_dps`, read
once per pipeline run, says which shapes have entries for that datapath, so a packet only
probes shapes that can hit (a switch never probes router shapes); it also holds the entries
of key-less shapes (`1 -> next;`), which therefore cost no lookup at all.

One function per table probes its shapes in priority order; the entries
`ovnbpf_pipeline_ingress/egress(struct ovnbpf_flow *f)` run the tables. Only shapes are in
the C: the same code serves any number of ports. Southbound strings never become
identifiers: shapes and tables are numbered. Provenance comments describe the shape
(stages, priority, match pattern, action template); which lflows fill a shape is map data
(see `shape_lflows` in the compile result), not code, or a new port would change the C.

Not lowered (the shape's block hands its flows to OVNBPF_NOT_COMPILED, counted, with the
cookie): masked constant assignments, copies wider than 64 bits that are not 64-bit
aligned, shapes whose key or constants do not fit the fixed records.
"""
from __future__ import annotations

from datapath.bpfsrc import lib_header

from . import actions as A
from . import ast
from .encode import encode_entries  # noqa: F401  (re-exported: older callers import it here)
from .layout import KEY_WORDS, VAL_WORDS, PipelineLayout, ShapeLayout, Slot, pipeline_layout
from .plan import Plan, Shape, PIPELINES
from .symbols import FLOW_MEMBERS, SymbolTable, default_symtab

__all__ = ["emit_c", "header_text", "encode_entries", "CODEGEN_VERSION", "HEADER"]

CODEGEN_VERSION = 4
HEADER = lib_header("ovnbpf_pipeline.h")   # bpf/lib/: the generated C includes it
_CTYPE = {8: "__u8", 16: "__u16", 32: "__u32", 64: "__u64"}


NotLowered = A.NotLowered     # re-exported: raised by the action classes' lower_c


# ---- field access as C ------------------------------------------------------------------

def _words(width: int) -> int:
    return 1 if width <= 64 else 2


def _pieces(symtab: SymbolTable, ref: ast.FieldRef):
    """(member, member bit, value bit, nbits) covering the referenced bits, low bits first."""
    fld, lo, hi = symtab.resolve(ref.name)
    if ref.sliced:
        lo, hi = lo + ref.lo, lo + ref.hi
    width = 32 if fld.is_string else hi - lo + 1
    out, off = [], 0
    for s in reversed(fld.storage):
        a, b = max(off, lo), min(off + s.width, lo + width)
        if a < b:
            out.append((s.member, s.shift + a - off, a - lo, b - a))
        off += s.width
    for _, _, vbit, n in out:
        if vbit // 64 != (vbit + n - 1) // 64:
            raise NotLowered(f"{ref.name} straddles a 64-bit word")
    return out, width


def _mask(n: int) -> str:
    return f"{(1 << n) - 1:#x}ULL"


class _Writer:
    """An indenting line writer (the emitter never builds C by string concatenation)."""

    def __init__(self):
        self.lines: list[str] = []
        self.depth = 0
        self.tmp = 0

    def line(self, text: str = "") -> None:
        self.lines.append(("    " * self.depth + text) if text else "")

    def fresh(self, stem: str) -> str:
        self.tmp += 1
        return f"{stem}{self.tmp}"


def _piece_expr(member: str, mbit: int, vbit: int, n: int) -> str:
    src = f"f->{member}" if mbit == 0 else f"(f->{member} >> {mbit})"
    if n < FLOW_MEMBERS[member]:
        src = f"({src} & {_mask(n)})"
    shift = f" << {vbit % 64}" if vbit % 64 else ""
    return f"(__u64){src}{shift}"


def _read_exprs(symtab, ref) -> list[str]:
    """A field's value as C expressions, one per 64-bit word, low word first."""
    pieces, width = _pieces(symtab, ref)
    words = [[] for _ in range(_words(width))]
    for member, mbit, vbit, n in pieces:
        words[vbit // 64].append(_piece_expr(member, mbit, vbit, n))
    return [" | ".join(parts) if parts else "0" for parts in words]


def _read(w: _Writer, symtab, ref) -> list[str]:
    """Emit temporaries holding a field's value (read before any write), low word first."""
    names = []
    for expr in _read_exprs(symtab, ref):
        name = w.fresh("t")
        w.line(f"__u64 {name} = {expr};")
        names.append(name)
    return names


def _write(w: _Writer, symtab, ref, words: list[str]) -> None:
    pieces, _ = _pieces(symtab, ref)
    for member, mbit, vbit, n in pieces:
        word = words[vbit // 64] if vbit // 64 < len(words) else "0"
        value = f"({word} >> {vbit % 64})" if vbit % 64 else word
        ctype = _CTYPE[FLOW_MEMBERS[member]]
        if n == FLOW_MEMBERS[member]:
            w.line(f"f->{member} = ({ctype}){value};")
            continue
        w.line(f"f->{member} = ({ctype})((f->{member} & ~({_mask(n)} << {mbit})) | "
               f"(({value} & {_mask(n)}) << {mbit}));")


# ---- where an entry's cookie and constants are read from ---------------------------------

class _Entry:
    """C expressions for the entry that hit: `v->...` (hash map value) or `d->...`
    (a key-less shape's slot in the datapath record)."""

    def __init__(self, cookie: str, words: list[str], layout: ShapeLayout):
        self.cookie, self.words, self.layout = cookie, words, layout

    def param(self, index: int) -> list[str]:
        slot: Slot = self.layout.params[index]
        if slot.width > 64:
            return [self.words[slot.word], self.words[slot.word + 1]]
        expr = self.words[slot.word]
        if slot.shift:
            expr = f"({expr} >> {slot.shift})"
        if slot.width < 64:
            expr = f"({expr} & {_mask(slot.width)})"
        return [expr]


class _Lowering:
    """What an action's lower_c(c) works with: lines, temporaries, field reads and
    writes, the hit entry's constants and cookie (see actions/base.py)."""

    def __init__(self, w: _Writer, entry: _Entry, symtab):
        self.w, self.entry, self.symtab = w, entry, symtab
        self.cookie = entry.cookie

    def line(self, text: str) -> None:
        self.w.line(text)

    def fresh(self, stem: str) -> str:
        return self.w.fresh(stem)

    def read(self, ref) -> list[str]:
        return _read(self.w, self.symtab, ref)

    def write(self, ref, words: list[str]) -> None:
        _write(self.w, self.symtab, ref, words)

    def param(self, index: int) -> list[str]:
        return self.entry.param(index)

    def arg_words(self, args) -> list[str]:
        """Helper arguments (fields only), each read into temporaries, hi word first."""
        out = []
        for arg in args:
            if not isinstance(arg, ast.FieldRef):
                raise NotLowered("helper argument is not a field")
            out += list(reversed(self.read(arg)))
        return out


def _comment(text: str) -> str:
    return "/* " + text.replace("*/", "* /") + " */"


def _shape_bit(index: int) -> str:
    return f"d->bits[{index // 64}] & (1ULL << {index % 64})"


def _emit_key(w: _Writer, index: int, shape: Shape, lay: ShapeLayout, symtab) -> None:
    w.line("__builtin_memset(key, 0, sizeof(*key));")
    w.line(f"key->shape = {index};")
    w.line("key->dp = f->dp;")
    for kf, slot in zip(shape.key, lay.key):
        exprs = _read_exprs(symtab, ast.FieldRef(kf.field))
        mask = kf.mask if kf.mask is not None else (1 << 32) - 1
        note = f"  {_comment(kf.describe())}"
        if slot.width > 64:
            w.line(f"key->w[{slot.word}] = ({exprs[0]}) & {mask & (2**64 - 1):#x}ULL;{note}")
            w.line(f"key->w[{slot.word + 1}] = ({exprs[1]}) & {mask >> 64:#x}ULL;")
            continue
        value = f"(({exprs[0]}) & {mask:#x}ULL)"
        shift = f" << {slot.shift}" if slot.shift else ""
        w.line(f"key->w[{slot.word}] |= {value}{shift};{note}")


def _emit_shape_probe(w: _Writer, index: int, shape: Shape, pl: PipelineLayout, symtab) -> None:
    w.tmp = 0  # temporaries are block-local: number them per shape, so C depends on it only
    w.line(_comment(f"shape {index}: {shape.describe()}"))
    lay = pl.shapes[index]
    w.line(f"if ({_shape_bit(index)}) {{")
    w.depth += 1
    if lay is None:
        w.line(_comment(f"not lowered: {pl.errors[index]}"))
        w.line("OVNBPF_NOT_COMPILED(f, 0);")
        w.line("return OVNBPF_PL_NOT_COMPILED;")
        w.depth -= 1
        w.line("}")
        return
    if lay.keyless:
        slot, base = pl.keyless_slot[index], pl.keyless_word[index]
        entry = _Entry(f"d->cookie[{slot}]", [f"d->w[{base + j}]" for j in range(lay.val_words)], lay)
        w.line(_comment("key-less: the datapath record holds the entry"))
    else:
        _emit_key(w, index, shape, lay, symtab)
        w.line("struct ovnbpf_pl_val *v = ovnbpf_pl_flows.lookup(key);")
        w.line("if (v) {")
        w.depth += 1
        entry = _Entry("v->cookie", [f"v->w[{j}]" for j in range(lay.val_words)], lay)
    mark = (len(w.lines), w.tmp)
    w.line(f"OVNBPF_PL_HIT({entry.cookie});")
    try:
        lowering = _Lowering(w, entry, symtab)
        lowering.pipeline = shape.pipeline     # conntrack zones: inport's or outport's
        for act in shape.template:
            act.lower_c(lowering)
        if not any(a.terminal for a in shape.template):
            w.line("return OVNBPF_PL_DROP;  /* actions end without next/output */")
    except NotLowered as e:
        del w.lines[mark[0]:]
        w.line(_comment(f"not lowered: {e}"))
        w.line(f"OVNBPF_NOT_COMPILED(f, {entry.cookie});")
        w.line("return OVNBPF_PL_NOT_COMPILED;")
    if not lay.keyless:
        w.depth -= 1
        w.line("}")
    w.depth -= 1
    w.line("}")


def _emit_dp_record(w: _Writer, plan: Plan, pl: PipelineLayout) -> None:
    w.line(_comment("One record per datapath, read once per pipeline run: which shapes have "
                    "entries for it (a packet probes only those), and the entries of the "
                    "key-less shapes (no lookup needed)."))
    w.line(f"#define OVNBPF_PL_SHAPES {len(plan.shapes)}")
    w.line(f"#define OVNBPF_PL_SHAPE_WORDS {pl.shape_words}")
    w.line(f"#define OVNBPF_PL_KEYLESS {max(pl.n_keyless, 1)}")
    w.line(f"#define OVNBPF_PL_KEYLESS_WORDS {max(pl.keyless_words, 1)}")
    w.line("struct ovnbpf_pl_dp {")
    w.line("    __u64 bits[OVNBPF_PL_SHAPE_WORDS];     /* bit N: shape N has entries here */")
    w.line("    __u32 cookie[OVNBPF_PL_KEYLESS];       /* key-less shapes: lflow cookie */")
    if max(pl.n_keyless, 1) % 2:
        w.line("    __u32 _pad;")
    w.line("    __u64 w[OVNBPF_PL_KEYLESS_WORDS];      /* key-less shapes: constants */")
    w.line("};")
    w.line("OVNBPF_PL_MAP(\"hash\", __u32, struct ovnbpf_pl_dp, ovnbpf_pl_dps, OVNBPF_PL_MAX_DPS, 0);")


def emit_c(plan: Plan, symtab: SymbolTable | None = None,
           pipelines: tuple[str, ...] = PIPELINES, tables: dict | None = None,
           layout: PipelineLayout | None = None) -> str:
    """The generated C for a plan. `tables` may restrict output to {pipeline: [table...]}
    (used by snapshot tests); a restricted file is not a complete pipeline."""
    symtab = symtab or default_symtab()
    pl = layout or pipeline_layout(plan, symtab)
    w = _Writer()
    w.line(_comment(f"Generated by ovnbpf controller/lflow/emit_c.py (codegen {CODEGEN_VERSION}). "
                    "DO NOT EDIT."))
    w.line(_comment(f"shape_hash {plan.shape_hash}: {len(plan.shapes)} shapes; map contents "
                    "come from the plan's entries."))
    w.line('#include "flow.h"')
    w.line('#include "ovnbpf_pipeline.h"')
    if tables is None:
        w.line("#define OVNBPF_PIPELINE_HAS_RESUME 1")
    w.line()
    _emit_dp_record(w, plan, pl)
    selected = [(i, s) for i, s in enumerate(plan.shapes) if s.pipeline in pipelines
                and (tables is None or s.table in tables.get(s.pipeline, ()))]
    for pipeline in pipelines:
        numbers = plan.tables(pipeline) if tables is None else sorted(tables.get(pipeline, ()))
        last = max(plan.tables(pipeline), default=-1) if tables is None else max(numbers, default=-1)
        for table in range(last + 1):
            if tables is not None and table not in numbers:
                continue
            stages = sorted({s.stages[0] for _, s in selected
                             if (s.pipeline, s.table) == (pipeline, table)})
            w.line()
            w.line(_comment(f"---- {pipeline} table {table}"
                            + (f" ({', '.join(stages)})" if stages else "") + " ----"))
            w.line(f"static __always_inline int ovnbpf_{pipeline}_t{table}(struct ovnbpf_flow *f, "
                   "const struct ovnbpf_pl_dp *d, struct ovnbpf_pl_key *key)")
            w.line("{")
            w.depth += 1
            for i, shape in selected:
                if (shape.pipeline, shape.table) == (pipeline, table):
                    _emit_shape_probe(w, i, shape, pl, symtab)
            w.line("return OVNBPF_PL_DROP;  /* no flow matched */")
            w.depth -= 1
            w.line("}")
        if tables is None:
            w.line()
            w.line(_comment("Tables start..last; start > 0 resumes a packet the controller "
                            "injected after a punt (bpf/xdp_inject.c)."))
            w.line(f"static __always_inline int ovnbpf_pipeline_{pipeline}_from(struct ovnbpf_flow *f, "
                   "__u32 start)")
            w.line("{")
            w.line("    struct ovnbpf_pl_key key;")
            w.line("    __u32 dp = f->dp;")
            w.line("    const struct ovnbpf_pl_dp *d = ovnbpf_pl_dps.lookup(&dp);")
            w.line("    int rc;")
            w.line()
            w.line("    if (!d)")
            w.line("        return OVNBPF_PL_DROP;  /* no logical flows for this datapath */")
            w.line("    switch (start) {")
            w.line("    default:")
            w.line("        return OVNBPF_PL_DROP;  /* past the last table */")
            for table in range(last + 1):
                w.line(f"    case {table}:")
                w.line(f"        rc = ovnbpf_{pipeline}_t{table}(f, d, &key);")
                w.line("        if (rc != OVNBPF_PL_NEXT)")
                w.line("            return rc;")
            w.line("    }")
            w.line("    return OVNBPF_PL_DROP;  /* next; past the last table */")
            w.line("}")
            w.line()
            w.line(f"static __always_inline int ovnbpf_pipeline_{pipeline}(struct ovnbpf_flow *f)")
            w.line("{")
            w.line(f"    return ovnbpf_pipeline_{pipeline}_from(f, 0);")
            w.line("}")
    return "\n".join(w.lines) + "\n"


def header_text() -> str:
    return HEADER.read_text()


def check_header_constants() -> None:
    """The header's record sizes are layout.py's (a test calls this)."""
    text = lib_header("pl_maps.h").read_text()
    for name, value in (("OVNBPF_PL_KEY_WORDS", KEY_WORDS), ("OVNBPF_PL_VAL_WORDS", VAL_WORDS)):
        assert f"#define {name} {value} " in text, f"{name} in bpf/lib/pl_maps.h is not {value}"
