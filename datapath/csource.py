"""Turn an entry program (bpf/*.c) into the single C text bcc compiles.

bcc rewrites map accesses (`map.lookup(&k)`) only in the main file it is given, never in
included headers, so our own `#include "..."` lines are expanded here, each file once, with
`#line` markers so compiler errors still name the real file and line. System includes
(`<...>`) are left for clang. `#include OVNBPF_PIPELINE` is replaced by the pipeline header
chosen at build time (see bpf/lib/pipeline.h for the contract).
"""
from __future__ import annotations

import re
from pathlib import Path

from .bpfsrc import bpf_dir

_INCLUDE = re.compile(r'^\s*#\s*include\s+(?:"([^"]+)"|(OVNBPF_PIPELINE))\s*$')


def expand(entries: list[Path], pipeline: Path | None) -> tuple[str, list[Path]]:
    """Return (text, files read). Entries are concatenated into one translation unit."""
    seen: set[Path] = set()
    files: list[Path] = []
    out: list[str] = []

    def visit(path: Path) -> None:
        path = path.resolve()
        if path in seen:
            return
        seen.add(path)
        files.append(path)
        out.append(f'#line 1 "{path}"')
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = _INCLUDE.match(line)
            if not m:
                out.append(line)
                continue
            if m.group(2):
                if pipeline is None:
                    raise ValueError(f"{path}:{n}: needs a pipeline header")
                target = pipeline
            else:
                target = _resolve(m.group(1), path)
            visit(target)
            out.append(f'#line {n + 1} "{path}"')

    for e in entries:
        visit(e)
    return "\n".join(out) + "\n", files


def _resolve(name: str, including: Path) -> Path:
    for base in (including.parent, bpf_dir(), bpf_dir() / "lib"):
        p = (base / name)
        if p.exists():
            return p
    raise FileNotFoundError(f'#include "{name}" from {including}: not found')
