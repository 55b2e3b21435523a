"""--compare: two TraceResults of the same microflow, as (delivered port, rewritten fields).

Copies are compared as a multiset: each delivered copy is its port plus the fields whose
final value differs from the input packet, so the order of rewrites (which a frame cannot
show) and the order of copies do not matter. A difference explains itself, naming the
drop the other side recorded when one side did not deliver.
"""
from __future__ import annotations

from collections import Counter

from .fields import assignments, diff
from .model import TraceResult

__all__ = ["compare"]


def _copies(result: TraceResult, base: dict) -> Counter:
    return Counter((o.port, tuple(sorted((k, new) for k, (_, new) in diff(base, o.field_map).items())))
                   for o in result.outputs)


def _text(base: dict, port: str, changes: tuple) -> str:
    after = dict(base, **dict(changes))
    return " ".join([a + ";" for a in assignments(base, after)] + [f'output("{port}");'])


def _drops(result: TraceResult) -> str:
    if not result.drops:
        return ""
    shown = "; ".join(f"{d.reason}" + (f" at {d.stage} (lflow {d.lflow[:8]})" if d.lflow else "")
                      + (f" on {d.chassis}" if d.chassis else "") for d in result.drops[:3])
    return f" (its drops: {shown})"


def compare(expected: TraceResult, actual: TraceResult) -> list[str]:
    """Differences, one sentence each; [] when both deliver the same copies."""
    base = dict(expected.packet)
    want, got = _copies(expected, base), _copies(actual, base)
    out = []
    missing, extra = want - got, got - want
    for (port, changes), n in sorted(missing.items()):
        same_port = [c for (p, c) in extra if p == port]
        if same_port:
            out.append(f"{port}: {expected.engine} delivers `{_text(base, port, changes)}`, "
                       f"{actual.engine} `{_text(base, port, same_port[0])}`")
            extra[(port, same_port[0])] -= 1
            extra = +extra
        else:
            times = f" ({n} copies)" if n > 1 else ""
            out.append(f"{port}: {expected.engine} delivers `{_text(base, port, changes)}`{times}, "
                       f"{actual.engine} does not{_drops(actual)}")
    for (port, changes), n in sorted(extra.items()):
        times = f" ({n} copies)" if n > 1 else ""
        out.append(f"{port}: {actual.engine} delivers `{_text(base, port, changes)}`{times}, "
                   f"{expected.engine} does not{_drops(expected)}")
    return out
