"""bpf/ is package data: the locator finds it through the import system, and pyproject's
package-data patterns ship every C file and header in it, so `pip install .` outside a
checkout builds the same programs (no root needed)."""
from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from datapath.bpfsrc import bpf_dir, lib_header
from datapath.csource import expand

ROOT = Path(__file__).resolve().parents[2]


def test_locator_finds_the_sources():
    assert (bpf_dir() / "xdp_vif.c").is_file() and lib_header("flow.h").is_file()


def test_pyproject_ships_every_c_file_and_header():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = conf["packages"]["find"]["include"]
    data = conf["package-data"]
    shipped, missing = set(), []
    for path in sorted(bpf_dir().rglob("*")):
        if path.suffix not in (".c", ".h") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(bpf_dir())
        package = ".".join(("bpf",) + rel.parent.parts)
        if package in include and any(fnmatch.fnmatch(rel.name, p) for p in data.get(package, ())):
            shipped.add(rel)
        else:
            missing.append(str(rel))
    assert not missing, f"not installed by pyproject.toml: {missing}"
    assert Path("lib/ovnbpf_pipeline.h") in shipped


def test_every_include_resolves_inside_bpf():
    """No entry program reaches outside bpf/ for its headers."""
    from datapath.loader import ENTRIES
    for source in sorted({s for s, _ in ENTRIES.values()} - {"pipeline.c"}):
        _, files = expand([bpf_dir() / source], None)
        outside = [str(f) for f in files if bpf_dir() not in f.parents]
        assert not outside, f"{source} includes {outside}"
