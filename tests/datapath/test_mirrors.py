"""Every Python mirror of the C is checked against the C as compiled, not against typed-in
figures: struct layouts, map key/value layouts, constants, verdicts, drop reasons.

How: one bcc build (the compiler and include expansion the datapath itself uses, so the
figures are the ones the kernel sees) of a probe translation unit that includes every
header declaring a mirrored map, struct or constant. Map layouts come from bcc's own
ctypes of each map's key and value (field names, offsets, sizes); constants and the
offsets of structs no map holds come from a probe program that stores them in an array,
run once with BPF_PROG_TEST_RUN. A mismatch names the map/struct, field or constant.
"""
from __future__ import annotations

import ctypes
import re

import pytest

from .conftest import needs_bpf

pytestmark = [pytest.mark.root, pytest.mark.bpf, needs_bpf]


def _constants():
    """(python name, python value, C expression)."""
    from controller.lflow import layout, sbmaps
    from controller.punt import event as E
    from controller.chassisd import desired
    from controller.lflow import symbols
    from datapath import chassis as C, drops, loader as L, maps as M
    out = [
        ("maps.MCAST_CHUNK", M.MCAST_CHUNK, "OVNBPF_MCAST_CHUNK"),
        ("maps.MCAST_MAX_MEMBERS", M.MCAST_MAX_MEMBERS, "OVNBPF_MCAST_CHUNK * OVNBPF_MCAST_MAX_CHUNKS"),
        ("maps.MAX_CHASSIS", M.MAX_CHASSIS, "OVNBPF_MAX_CHASSIS"),
        ("desired.MAX_CHASSIS_ID", desired.MAX_CHASSIS_ID, "OVNBPF_MAX_CHASSIS - 1"),
        ("maps.LPORT_LOCAL", M.LPORT_LOCAL, "OVNBPF_LPORT_LOCAL"),
        ("maps.LPORT_REMOTE", M.LPORT_REMOTE, "OVNBPF_LPORT_REMOTE"),
        ("maps.LPORT_PATCH", M.LPORT_PATCH, "OVNBPF_LPORT_PATCH"),
        ("maps.CFG_CHECK_OUTER_DST", M.CFG_CHECK_OUTER_DST, "OVNBPF_CFG_CHECK_OUTER_DST"),
        ("maps.CFG_EGRESS_ON_INGRESS", M.CFG_EGRESS_ON_INGRESS, "OVNBPF_CFG_EGRESS_ON_INGRESS"),
        ("maps.TUN_FIB", M.TUN_FIB, "OVNBPF_TUN_FIB"),
        ("maps.TUN_EGRESS_MARK", M.TUN_EGRESS_MARK, "OVNBPF_TUN_EGRESS_MARK"),
        ("maps.TSRC_TRUST_DONE", M.TSRC_TRUST_DONE, "OVNBPF_TSRC_TRUST_DONE"),
        ("maps.FcacheControl.BYPASS", M.FcacheControl.BYPASS, "OVNBPF_FC_BYPASS"),
        ("loader.PL_STAGES", L.PL_STAGES, "OVNBPF_PL_STAGES"),
        ("loader.TAIL_MCAST_CONT", L.TAIL_MCAST_CONT, "OVNBPF_TAIL_MCAST_CONT"),
        ("loader.PIPELINE_STAGES[ovnbpf_pl_ingress]", L.PIPELINE_STAGES["ovnbpf_pl_ingress"],
         "OVNBPF_PL_STAGE_INGRESS"),
        ("loader.PIPELINE_STAGES[ovnbpf_pl_egress]", L.PIPELINE_STAGES["ovnbpf_pl_egress"],
         "OVNBPF_PL_STAGE_EGRESS"),
        ("chassis.PL_GENS", C.PL_GENS, "OVNBPF_PL_GENS"),
        ("chassis.MAX_LFLOWS", C.MAX_LFLOWS, "OVNBPF_MAX_LFLOWS"),
        ("chassis.ATTACH_VIF", C.ATTACH_VIF, "OVNBPF_ATTACH_VIF"),
        ("chassis.ATTACH_UPLINK", C.ATTACH_UPLINK, "OVNBPF_ATTACH_UPLINK"),
        ("chassis.ATTACH_LOOP", C.ATTACH_LOOP, "OVNBPF_ATTACH_LOOP"),
        ("drops.DROP_MAX", drops.DROP_MAX, "OVNBPF_DROP_MAX"),
        ("layout.KEY_WORDS", layout.KEY_WORDS, "OVNBPF_PL_KEY_WORDS"),
        ("layout.VAL_WORDS", layout.VAL_WORDS, "OVNBPF_PL_VAL_WORDS"),
        ("sbmaps.PSEC_PORT", sbmaps.PSEC_PORT, "OVNBPF_PSEC_PORT"),
        ("sbmaps.PSEC_MAC", sbmaps.PSEC_MAC, "OVNBPF_PSEC_MAC"),
        ("sbmaps.PSEC_IP4", sbmaps.PSEC_IP4, "OVNBPF_PSEC_IP4"),
        ("sbmaps.PSEC_IP6", sbmaps.PSEC_IP6, "OVNBPF_PSEC_IP6"),
        ("sbmaps.HAS_IP4", sbmaps.HAS_IP4, "OVNBPF_PSEC_HAS_IP4"),
        ("sbmaps.HAS_IP6", sbmaps.HAS_IP6, "OVNBPF_PSEC_HAS_IP6"),
        ("event.PUNT_MAGIC", E.PUNT_MAGIC, "OVNBPF_PUNT_MAGIC"),
        ("event.PUNT_VERSION", E.PUNT_VERSION, "OVNBPF_PUNT_VERSION"),
        ("event.INJECT_MAGIC", E.INJECT_MAGIC, "OVNBPF_INJECT_MAGIC"),
        ("event.CONSUME", E.CONSUME, "OVNBPF_PUNT_CONSUME"),
        ("event.COPY", E.COPY, "OVNBPF_PUNT_COPY_KIND"),
        ("event.STAGE_INGRESS", E.STAGE_INGRESS, "OVNBPF_PL_STAGE_INGRESS"),
        ("event.STAGE_EGRESS", E.STAGE_EGRESS, "OVNBPF_PL_STAGE_EGRESS"),
        ("event.RESUME_TABLE", E.RESUME_TABLE, "OVNBPF_RESUME_TABLE"),
        ("event.RESUME_OUTPUT", E.RESUME_OUTPUT, "OVNBPF_RESUME_OUTPUT"),
        ("event.MAX_FRAME", E.MAX_FRAME, "OVNBPF_PUNT_MAX_BYTES"),
        ("symbols.P_FRAG_BIT", 1 << symbols.P_FRAG_BIT, "OVNBPF_P_FRAG"),
        ("symbols.P_FRAG_BIT + 1", 1 << (symbols.P_FRAG_BIT + 1), "OVNBPF_P_LATER_FRAG"),
    ]
    copy = {"put_arp": "OVNBPF_COPY_PUT_ARP", "put_nd": "OVNBPF_COPY_PUT_ND",
            "put_fdb": "OVNBPF_COPY_PUT_FDB"}
    out += [(f"event.COPY_KINDS[{n}]", k, copy[n]) for k, n in E.COPY_KINDS.items()]
    out += [(f"chassis.OUT_TYPES[{n}]", k, f"OVNBPF_OUT_{n.upper()}") for k, n in C.OUT_TYPES.items()]
    out += [(f"chassis.STATS[{n}]", i, f"OVNBPF_STAT_{n.upper()}".replace(
        "RX_EGRESS_DONE_UNTRUSTED", "RX_DONE_UNTRUSTED")) for i, n in enumerate(C.STATS)]
    out += [(f"chassis.FCACHE_STATS[{n}]", i, f"OVNBPF_FC_STAT_{n.split('_', 1)[1].upper()}")
            for i, n in enumerate(C.FCACHE_STATS)]
    out += [(f"drops.Drop.{d.name}", d.value, f"OVNBPF_DROP_{d.name}") for d in drops.Drop]
    return out


def _ctypes_structs():
    """(python name, ctypes structure, C struct, {python field: C member}) for structs
    no map holds as such; every field is compared by offset, then the size."""
    from controller.punt import event as E
    return [
        ("event.Flow", E.Flow, "struct ovnbpf_flow", {}),
        ("event.EventHeader", E.EventHeader, "struct ovnbpf_punt_event", {}),
        ("event.Event", E.Event, "struct ovnbpf_punt_event", {"hdr": "magic"}),
        ("event.InjectHeader", E.InjectHeader, "struct ovnbpf_inject_hdr", {}),
    ]


def _map_codecs():
    """(map, key Codec, value Codec, key field names, value field names): the Python
    codecs of every map userspace reads or writes."""
    from controller.lflow import sbmaps
    from datapath import maps as M
    out = []
    for name, (_, k, v) in M.SPECS.items():
        out.append((name, k, v, _names(k), _names(v)))
    out.append(("ovnbpf_fc_ctl", M.U32, M.FcacheControl._codec, None, ("epoch", "flags")))
    out.append(("ovnbpf_pl_psec", M.Codec(sbmaps.PSEC_KEY), M.U32,
                ("dp", "port", "kind", "_pad", "mac", "addr_hi", "addr_lo"), None))
    out.append(("ovnbpf_pl_mac_bindings", M.Codec(sbmaps.MB_KEY), M.Codec("<Q"),
                ("dp", "port", "ip_hi", "ip_lo"), None))
    out.append(("ovnbpf_pl_fdb", M.Codec(sbmaps.FDB_KEY), M.U32, ("dp", "_pad", "mac"), None))
    return out


def _names(codec):
    if codec.tuple_type is None:
        return None
    return codec.order or codec.tuple_type._fields


_ITEM = re.compile(r"(\d*)([xcbBhHiIlLqQs])")


def _codec_offsets(fmt: str) -> list[int]:
    """Offsets of the fields a '<' struct format packs (padding 'x' skipped)."""
    import struct
    assert fmt[0] == "<", fmt
    out, off = [], 0
    for count, code in _ITEM.findall(fmt[1:]):
        n = int(count) if count else 1
        size = struct.calcsize("<" + code)
        if code == "x":
            off += n
        elif code == "s":
            out.append(off)
            off += n
        else:
            for _ in range(n):
                out.append(off)
                off += size
    return out


def _ctype_offsets(ct) -> dict[str, int]:
    """{member: offset} of a bcc ctypes Structure, arrays as one member."""
    return {name: getattr(ct, name).offset for name, *_ in getattr(ct, "_fields_", [])}


PROBE = r"""
#include "lib/punt.h"
struct ovnbpf_probe_out { __s64 v[%(n)d]; };
BPF_ARRAY(ovnbpf_probe, struct ovnbpf_probe_out, 1);
int ovnbpf_probe_run(struct xdp_md *ctx)
{
    __u32 zero = 0;
    struct ovnbpf_probe_out *o = ovnbpf_probe.lookup(&zero);
    if (!o)
        return XDP_ABORTED;
%(stores)s
    return XDP_PASS;
}
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """Build the probe once: ({C expression: value}, the bcc BPF object)."""
    from bcc import BPF
    from datapath import testrun
    from datapath.bpfsrc import bpf_dir
    from datapath.csource import expand
    exprs = [c for _, _, c in _constants()]
    for _, ct, cstruct, rename in _ctypes_structs():
        exprs.append(f"sizeof({cstruct})")
        for field, *_ in ct._fields_:
            exprs.append(f"__builtin_offsetof({cstruct}, {rename.get(field, field)})")
    exprs = list(dict.fromkeys(exprs))
    stores = "\n".join(f"    o->v[{i}] = (__s64)({e});" for i, e in enumerate(exprs))
    path = tmp_path_factory.mktemp("probe") / "probe.c"
    path.write_text(PROBE % {"n": len(exprs), "stores": stores})
    # xdp_inject.c holds struct ovnbpf_inject_hdr; its programs are compiled, not loaded
    text, _ = expand([bpf_dir() / "xdp_inject.c", path], None)
    b = BPF(text=text.encode(), cflags=["-DOVNBPF_GEN=0"])
    try:
        fd = b.load_func(b"ovnbpf_probe_run", BPF.XDP).fd
        testrun.run(fd, bytes(64))
        raw = bytes(b[b"ovnbpf_probe"][ctypes.c_int(0)])
        vals = [int.from_bytes(raw[8 * i:8 * i + 8], "little", signed=True)
                for i in range(len(exprs))]
        yield dict(zip(exprs, vals)), b
    finally:
        b.cleanup()


def _wrong_constants(values, constants) -> list[str]:
    return [f"{py} = {v}, but C {c} = {values[c]}" for py, v, c in constants if values[c] != v]


def test_constants_mirror_the_c(probe):
    wrong = _wrong_constants(probe[0], _constants())
    assert not wrong, "Python mirrors differ from the C:\n  " + "\n  ".join(wrong)


def test_drop_reasons_are_all_mirrored():
    """Every reason drop.h declares has its Python name (values: the test above)."""
    from datapath.drops import Drop, parse_header
    missing = sorted(set(parse_header()) - {d.name for d in Drop})
    extra = sorted({d.name for d in Drop} - set(parse_header()))
    assert not missing and not extra, f"drop.h only: {missing}; drops.py only: {extra}"


def test_structs_mirror_the_c(probe):
    values, _ = probe
    wrong = []
    for py, ct, cstruct, rename in _ctypes_structs():
        for field, *_ in ct._fields_:
            c_off = values[f"__builtin_offsetof({cstruct}, {rename.get(field, field)})"]
            if getattr(ct, field).offset != c_off:
                wrong.append(f"{py}.{field} at {getattr(ct, field).offset}, but {cstruct}."
                             f"{rename.get(field, field)} at {c_off}")
        if py != "event.EventHeader" and ctypes.sizeof(ct) != values[f"sizeof({cstruct})"]:
            wrong.append(f"sizeof({py}) = {ctypes.sizeof(ct)}, but sizeof({cstruct}) = "
                         f"{values[f'sizeof({cstruct})']}")
    assert not wrong, "Python struct mirrors differ from the C:\n  " + "\n  ".join(wrong)


def test_map_codecs_mirror_the_c(probe):
    """Each codec's size and, field by field (by C member name), its offsets are those
    bcc gave the map's key and value."""
    wrong = _wrong_codecs(probe[1], _map_codecs())
    assert not wrong, "map codecs differ from the C:\n  " + "\n  ".join(wrong)


def test_a_mismatch_is_named(probe):
    """The checks above can fail, and say where: a constant off by one, a codec whose
    fields are swapped, a codec one pad short."""
    from datapath import maps as M
    values, b = probe
    assert _wrong_constants(values, [("maps.LPORT_PATCH", 4, "OVNBPF_LPORT_PATCH")]) == [
        "maps.LPORT_PATCH = 4, but C OVNBPF_LPORT_PATCH = 3"]
    swapped = M.Codec("<IIIIQQ", M.Tunnel, ("remote_ip", "local_ip", "flags", "ifindex",
                                             "smac", "dmac"))
    assert _wrong_codecs(b, [("ovnbpf_tunnels", M.U32, swapped, None, swapped.order)]) == [
        "ovnbpf_tunnels value.flags: codec offset 8, C 12",
        "ovnbpf_tunnels value.ifindex: codec offset 12, C 8"]
    short = M.Codec("<III", M.Vif)
    assert _wrong_codecs(b, [("ovnbpf_vifs", M.U32, short, None, M.Vif._fields)]) == [
        "ovnbpf_vifs value: codec '<III' is 12 bytes, C 16"]


def _wrong_codecs(b, codecs) -> list[str]:
    wrong = []
    for name, kc, vc, knames, vnames in codecs:
        table = b[name.encode()]
        for part, codec, names, ct in (("key", kc, knames, table.Key), ("value", vc, vnames, table.Leaf)):
            if codec.size != ctypes.sizeof(ct):
                wrong.append(f"{name} {part}: codec {codec.fmt!r} is {codec.size} bytes, "
                             f"C {ctypes.sizeof(ct)}")
                continue
            if names is None:
                continue
            c_offs, py_offs = _ctype_offsets(ct), _codec_offsets(codec.fmt)
            if len(py_offs) != len(names):
                wrong.append(f"{name} {part}: codec {codec.fmt!r} packs {len(py_offs)} fields "
                             f"for {len(names)} names")
                continue
            for field, off in zip(names, py_offs):
                if field not in c_offs:
                    wrong.append(f"{name} {part}: no C member {field!r} (C: {sorted(c_offs)})")
                elif c_offs[field] != off:
                    wrong.append(f"{name} {part}.{field}: codec offset {off}, C {c_offs[field]}")
    return wrong
