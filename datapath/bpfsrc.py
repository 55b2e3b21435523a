"""Where ovnbpf's C sources are: the one locator every build goes through.

`bpf/` is installed as package data (pyproject: `bpf` is a namespace package of C,
headers and its README only), so the import system finds it the same way in a source
checkout, an editable install and a `pip install .` anywhere else: nothing builds C from a
path relative to a Python file.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def bpf_dir() -> Path:
    """The directory holding xdp_vif.c, lib/ and bench/ (a real directory: bcc and clang
    take file paths). A namespace package's search path may hold non-directory entries
    (an editable install's path hook), hence the walk rather than importlib.resources."""
    spec = importlib.util.find_spec("bpf")
    for entry in (spec.submodule_search_locations or []) if spec else []:
        root = Path(entry)
        if (root / "lib" / "flow.h").is_file():
            return root.resolve()
    raise FileNotFoundError("ovnbpf's C sources (the package data `bpf`) are not installed")


def lib_header(name: str) -> Path:
    """A header of bpf/lib/."""
    return bpf_dir() / "lib" / name
