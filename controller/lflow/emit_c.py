"""Emit deterministic C (bcc syntax) for a plan, against bpf/lib/flow.h.

One map per shape (`ovnbpf_s<N>`, keyed by datapath + the shape's masked fields, valued by
the template's constants), one function per table that probes its shapes in priority order,
and the entries `ovnbpf_pipeline_ingress/egress(struct ovnbpf_flow *f)` described in
ovnbpf_pipeline.h. Only shapes are in the C: the same code serves any number of ports.
`encode_entries` packs a plan's entries into the byte layout of the same key/value structs.

Southbound strings never become identifiers: shapes and tables are numbered. Provenance
comments describe the shape (stages, priority, match pattern, action template); which
lflows fill a shape is map data (Entry.lflow), not code, or a new port would change the C.

Not lowered (the emitted code hands the flow to OVNBPF_NOT_COMPILED): masked constant
assignments and copies wider than 64 bits that are not 64-bit aligned.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from . import actions as A
from . import ast
from .plan import NotCompiled, Plan, Punt, Shape, PIPELINES
from .symbols import FLOW_MEMBERS, SymbolTable, default_symtab

__all__ = ["emit_c", "header_text", "encode_entries", "CODEGEN_VERSION", "Layout"]

CODEGEN_VERSION = 1
HEADER = Path(__file__).with_name("ovnbpf_pipeline.h")
_CTYPE = {8: "__u8", 16: "__u16", 32: "__u32", 64: "__u64"}


class NotLowered(Exception):
    pass


# ---- struct layouts shared by the C and the entry encoder -----------------------------------

@dataclass(frozen=True)
class Member:
    name: str
    bits: int          # 32 or 64
    comment: str = ""


@dataclass(frozen=True)
class Layout:
    members: tuple[Member, ...]   # in memory order, padding included

    @property
    def fmt(self) -> str:
        return "<" + "".join("Q" if m.bits == 64 else "I" for m in self.members)


def _words(width: int) -> int:
    return 1 if width <= 64 else 2


def _lay_out(named: list[tuple[str, int, str]]) -> Layout:
    """64-bit members first, then 32-bit ones, then explicit padding to 8 bytes."""
    wide = [Member(n, 64, c) for n, bits, c in named if bits > 32]
    narrow = [Member(n, 32, c) for n, bits, c in named if bits <= 32]
    members = wide + narrow
    if wide and len(narrow) % 2:
        members.append(Member("_pad0", 32))
    return Layout(tuple(members))


def _value_parts(prefix: str, width: int, comment: str) -> list[tuple[str, int, str]]:
    if width <= 64:
        return [(prefix, width, comment)]
    return [(f"{prefix}_hi", 64, comment + " (bits 64..127)"), (f"{prefix}_lo", 64, comment)]


def _field_width(symtab: SymbolTable, name: str) -> int:
    """Width of an operand written as text (`xreg0[0..47]`, `outport`)."""
    ref = _ref(name)
    fld, lo, hi = symtab.resolve(ref.name)
    if fld.is_string:
        return 32
    return (ref.hi - ref.lo + 1) if ref.sliced else hi - lo + 1


def _ref(name: str) -> ast.FieldRef:
    if "[" not in name:
        return ast.FieldRef(name)
    base, rng = name[:-1].split("[")
    lo, _, hi = rng.partition("..")
    return ast.FieldRef(base, int(lo), int(hi or lo))


def key_layout(shape: Shape, symtab: SymbolTable) -> Layout:
    named = [("dp", 32, "Datapath_Binding tunnel key")]
    for i, kf in enumerate(shape.key):
        fld = symtab.fields[kf.field]
        width = 32 if fld.is_string else fld.width
        named += _value_parts(f"k{i}", width, kf.describe())
    return _lay_out(named)


def value_layout(shape: Shape, symtab: SymbolTable) -> Layout:
    named = []
    for i, field in enumerate(shape.params):
        if field is None:
            named.append((f"v{i}", 32, "lflow cookie"))
        else:
            named += _value_parts(f"v{i}", _field_width(symtab, field), field)
    return _lay_out(named or [("unused", 32, "no constants")])


# ---- field access as C ------------------------------------------------------------------

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


def _read(w: _Writer, symtab, ref) -> list[str]:
    """Emit temporaries holding a field's value as 64-bit words (low word first)."""
    pieces, width = _pieces(symtab, ref)
    names = [w.fresh("t") for _ in range(_words(width))]
    for name in names:
        w.line(f"__u64 {name} = 0;")
    for member, mbit, vbit, n in pieces:
        src = f"f->{member}" if mbit == 0 else f"(f->{member} >> {mbit})"
        if n < FLOW_MEMBERS[member]:
            src = f"({src} & {_mask(n)})"
        shift = f" << {vbit % 64}" if vbit % 64 else ""
        w.line(f"{names[vbit // 64]} |= (__u64){src}{shift};")
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


def _param_words(shape: Shape, index: int, symtab) -> list[str]:
    width = _field_width(symtab, shape.params[index])
    if width <= 64:
        return [f"v->v{index}"]
    return [f"v->v{index}_lo", f"v->v{index}_hi"]


def _arg_words(w, symtab, args) -> list[str]:
    out = []
    for arg in args:
        if not isinstance(arg, ast.FieldRef):
            raise NotLowered("helper argument is not a field")
        words = _read(w, symtab, arg)
        out += list(reversed(words))  # hi word first, as the helpers take them
    return out


_COPY = {"put_arp": "OVNBPF_COPY_PUT_ARP", "put_nd": "OVNBPF_COPY_PUT_ND",
         "put_fdb": "OVNBPF_COPY_PUT_FDB"}


def _lower_action(w: _Writer, shape: Shape, act, symtab) -> None:
    if isinstance(act, A.Assign):
        if isinstance(act.src, ast.Param):
            words = _param_words(shape, act.src.index, symtab)
        elif isinstance(act.src, ast.FieldRef):
            words = _read(w, symtab, act.src)
        else:
            raise NotLowered("masked constant assignment")
        _write(w, symtab, act.dst, words)
    elif isinstance(act, A.Exchange):
        a, b = _read(w, symtab, act.a), _read(w, symtab, act.b)
        _write(w, symtab, act.a, b)
        _write(w, symtab, act.b, a)
    elif isinstance(act, A.DecTtl):
        w.line("if (f->ip_ttl <= 1)")
        w.line("    return OVNBPF_PL_DROP;  /* TTL would reach 0: processing stops */")
        w.line("f->ip_ttl--;")
    elif isinstance(act, A.Next):
        w.line("return OVNBPF_PL_NEXT;")
    elif isinstance(act, A.Output):
        w.line("return OVNBPF_PL_OUTPUT;")
    elif isinstance(act, A.Drop):
        w.line("return OVNBPF_PL_DROP;")
    elif isinstance(act, A.ResultCall) and act.category == A.COMPILED:
        args = ", ".join(["f"] + _arg_words(w, symtab, act.args))
        result = w.fresh("r")
        w.line(f"__u64 {result} = ovnbpf_{act.keyword}({args});")
        _write(w, symtab, act.dst, [result])
    elif isinstance(act, A.Call) and act.keyword in ("get_arp", "get_nd"):
        args = ", ".join(["f"] + _arg_words(w, symtab, act.args))
        w.line(f"ovnbpf_{act.keyword}({args});")
    elif isinstance(act, A.Call) and act.keyword in _COPY:
        w.line(f"OVNBPF_PUNT_COPY(f, {_COPY[act.keyword]});")
    elif isinstance(act, A.CtClear):
        w.line("/* ct_clear: the datapath keeps no conntrack state */")
    elif isinstance(act, Punt):
        w.line("OVNBPF_PUNT(f, v->v0);")
        w.line("return OVNBPF_PL_CONTROLLER;")
    elif isinstance(act, NotCompiled):
        w.line("OVNBPF_NOT_COMPILED(f, v->v0);")
        w.line("return OVNBPF_PL_NOT_COMPILED;")
    else:
        raise NotLowered(f"no lowering for {act.format()}")


def _comment(text: str) -> str:
    return "/* " + text.replace("*/", "* /") + " */"


def _emit_struct(w: _Writer, name: str, layout: Layout) -> None:
    w.line(f"struct {name} {{")
    for m in layout.members:
        note = f"  {_comment(m.comment)}" if m.comment else ""
        w.line(f"    {_CTYPE[m.bits]} {m.name};{note}")
    w.line("};")


def _emit_shape_probe(w: _Writer, index: int, shape: Shape, symtab) -> None:
    w.tmp = 0  # temporaries are block-local: number them per shape, so C depends on it only
    w.line(_comment(f"shape {index}: {shape.describe()}"))
    w.line("{")
    w.depth += 1
    w.line(f"struct ovnbpf_s{index}_key key;")
    w.line("__builtin_memset(&key, 0, sizeof(key));")
    w.line("key.dp = f->dp;")
    for i, kf in enumerate(shape.key):
        words = _read(w, symtab, ast.FieldRef(kf.field))
        mask = kf.mask if kf.mask is not None else (1 << 32) - 1
        if len(words) == 1:
            w.line(f"key.k{i} = {words[0]} & {mask:#x}ULL;")
        else:
            w.line(f"key.k{i}_hi = {words[1]} & {mask >> 64:#x}ULL;")
            w.line(f"key.k{i}_lo = {words[0]} & {mask & ((1 << 64) - 1):#x}ULL;")
    w.line(f"struct ovnbpf_s{index}_val *v = ovnbpf_s{index}.lookup(&key);")
    w.line("if (v) {")
    w.depth += 1
    mark = (len(w.lines), w.tmp)
    try:
        for act in shape.template:
            _lower_action(w, shape, act, symtab)
        if not any(isinstance(a, (A.Next, A.Output, A.Drop, Punt, NotCompiled))
                   for a in shape.template):
            w.line("return OVNBPF_PL_DROP;  /* actions end without next/output */")
    except NotLowered as e:
        del w.lines[mark[0]:]
        w.line(_comment(f"not lowered: {e}"))
        w.line("OVNBPF_NOT_COMPILED(f, 0);")
        w.line("return OVNBPF_PL_NOT_COMPILED;")
    w.depth -= 1
    w.line("}")
    w.depth -= 1
    w.line("}")


def emit_c(plan: Plan, symtab: SymbolTable | None = None,
           pipelines: tuple[str, ...] = PIPELINES, tables: dict | None = None) -> str:
    """The generated C for a plan. `tables` may restrict output to {pipeline: [table...]}
    (used by snapshot tests); a restricted file is not a complete pipeline."""
    symtab = symtab or default_symtab()
    w = _Writer()
    w.line(_comment(f"Generated by ovnbpf controller/lflow/emit_c.py (codegen {CODEGEN_VERSION}). "
                    "DO NOT EDIT."))
    w.line(_comment(f"shape_hash {plan.shape_hash}: {len(plan.shapes)} shapes; map contents "
                    "come from the plan's entries."))
    w.line('#include "flow.h"')
    w.line('#include "ovnbpf_pipeline.h"')
    selected = [(i, s) for i, s in enumerate(plan.shapes) if s.pipeline in pipelines
                and (tables is None or s.table in tables.get(s.pipeline, ()))]
    w.line()
    w.line(_comment("---- maps: one per shape ----"))
    for i, shape in selected:
        w.line()
        w.line(_comment(f"shape {i}: {shape.describe()}"))
        _emit_struct(w, f"ovnbpf_s{i}_key", key_layout(shape, symtab))
        _emit_struct(w, f"ovnbpf_s{i}_val", value_layout(shape, symtab))
        w.line(f"BPF_HASH(ovnbpf_s{i}, struct ovnbpf_s{i}_key, struct ovnbpf_s{i}_val, "
               "OVNBPF_SHAPE_MAP_SIZE);")
    for pipeline in pipelines:
        numbers = plan.tables(pipeline) if tables is None else sorted(tables.get(pipeline, ()))
        last = max(plan.tables(pipeline), default=-1) if tables is None else max(numbers, default=-1)
        for table in range(last + 1):
            w.line()
            w.line(_comment(f"---- {pipeline} table {table} ----"))
            w.line(f"static __always_inline int ovnbpf_{pipeline}_t{table}(struct ovnbpf_flow *f)")
            w.line("{")
            w.depth += 1
            for i, shape in selected:
                if (shape.pipeline, shape.table) == (pipeline, table):
                    _emit_shape_probe(w, i, shape, symtab)
            w.line("return OVNBPF_PL_DROP;  /* no flow matched */")
            w.depth -= 1
            w.line("}")
        if tables is None:
            w.line()
            w.line(f"static __always_inline int ovnbpf_pipeline_{pipeline}(struct ovnbpf_flow *f)")
            w.line("{")
            w.line("    int rc;")
            for table in range(last + 1):
                w.line(f"    rc = ovnbpf_{pipeline}_t{table}(f);")
                w.line("    if (rc != OVNBPF_PL_NEXT)")
                w.line("        return rc;")
            w.line("    return OVNBPF_PL_DROP;  /* next; past the last table */")
            w.line("}")
    return "\n".join(w.lines) + "\n"


def header_text() -> str:
    return HEADER.read_text()


# ---- entries -> bytes ---------------------------------------------------------------------

def _split(value: int, width: int) -> list[int]:
    if width <= 64:
        return [value]
    return [value >> 64, value & ((1 << 64) - 1)]


def encode_entries(plan: Plan, port_key, datapath_key,
                   symtab: SymbolTable | None = None) -> dict[str, list[tuple[bytes, bytes]]]:
    """{map name: [(key bytes, value bytes)]} for every entry, in the structs' layout
    (host byte order, little-endian). Port and datapath names become keys here."""
    symtab = symtab or default_symtab()
    out: dict[str, list] = {}
    for entry in plan.entries:
        shape = plan.shapes[entry.shape]
        named = {"dp": datapath_key(entry.datapath)}
        for i, (kf, value) in enumerate(zip(shape.key, entry.key)):
            fld = symtab.fields[kf.field]
            if kf.mask is None:
                named[f"k{i}"] = port_key(value)
                continue
            parts = _split(value, fld.width)
            names = [f"k{i}"] if len(parts) == 1 else [f"k{i}_hi", f"k{i}_lo"]
            named.update(zip(names, parts))
        for i, (field, param) in enumerate(zip(shape.params, entry.params)):
            if isinstance(param, ast.StrConst):
                named[f"v{i}"] = port_key(param.value)
                continue
            width = 32 if field is None else _field_width(symtab, field)
            parts = _split(param.value, width)
            names = [f"v{i}"] if len(parts) == 1 else [f"v{i}_hi", f"v{i}_lo"]
            named.update(zip(names, parts))
        klay, vlay = key_layout(shape, symtab), value_layout(shape, symtab)
        key = struct.pack(klay.fmt, *(named.get(m.name, 0) for m in klay.members))
        val = struct.pack(vlay.fmt, *(named.get(m.name, 0) for m in vlay.members))
        out.setdefault(f"ovnbpf_s{entry.shape}", []).append((key, val))
    return out
