"""The OVSDB sessions' JSON parser in C.

The `ovs` package from PyPI ships without its C extension `ovs._json`, so every byte the
Southbound sends is lexed by `ovs.json.Parser` in Python, character by character: 5-10 ms
of a port add's update on our machines, before the controller can even look at it. Debian's
python3-openvswitch has the extension (the same OVS JSON parser C code, behind the same
`Parser(check_trailer)` / `feed` / `is_done` / `finish` interface, unchanged for years).
`use_c_parser()` loads it into the venv's `ovs` package when it lacks one of its own.
Without it everything works as before, only slower; `active()` says which one runs.
"""
from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import sys

import ovs
import ovs.json

SYSTEM_DIR = "/usr/lib/python3/dist-packages/ovs"


def active() -> str:
    """'C' or 'PYTHON': the parser ovs.json.Parser uses."""
    return ovs.json.PARSER


def use_c_parser() -> str:
    """Make ovs.json use the C parser if one can be found; returns active()."""
    if ovs.json.PARSER == ovs.json.PARSER_C:
        return active()
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    for path in sorted(glob.glob(f"{SYSTEM_DIR}/_json.{tag}-*.so")):
        try:
            loader = importlib.machinery.ExtensionFileLoader("ovs._json", path)
            spec = importlib.util.spec_from_file_location("ovs._json", path, loader=loader)
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            module.Parser(check_trailer=False)         # it works here, or we keep Python's
        except (ImportError, OSError, AttributeError, TypeError):
            continue
        sys.modules["ovs._json"] = module
        ovs._json = module
        ovs.json.ovs = ovs           # its failed `import ovs._json` left the name unbound
        ovs.json.PARSER = ovs.json.PARSER_C
        break
    return active()
