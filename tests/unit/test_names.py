"""Names that say one thing (ARCHITECTURE.md, "Words").

A type is named once in the product: two classes (or namedtuples) defined at module level
in controller/ and datapath/ with the same name are two meanings of one word, which is how
Local/Remote/Patch/Group, Drop, Tunnel, LogicalFlow, CompileError and Deferred each came to
mean two or three things. A name may be shared only from ALLOWED, with the reason.
The glossary's function words (one function each) are checked the same way.
"""
import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("controller", "datapath")

# name -> why two definitions are one meaning (or why the second cannot go yet)
ALLOWED = {
    "And": "lflow.ast.And (a parsed match) and lflow.expr.And (its normalized form): the "
           "same connective in two layers; always read with its module",
    "Or": "as And",
    "Tunnel": "datapath.values.Tunnel (what set_tunnels takes) and datapath.maps.Tunnel, its "
              "ovnbpf_tunnels record, named like every record in maps.py after its C struct "
              "(struct ovnbpf_tunnel) and always read as M.Tunnel",
}

# module-level functions the glossary gives one meaning (and one definition) each
ONE_FUNCTION = ("snapshot", "plan", "compile_state", "build_plan", "config_changes")


def _namedtuple(value) -> bool:
    return (isinstance(value, ast.Call)
            and getattr(value.func, "attr", getattr(value.func, "id", None)) == "namedtuple")


def definitions(roots=PRODUCT, base=ROOT):
    """-> ({class name: [module path, ...]}, {function name: [module path, ...]})"""
    classes, functions = collections.defaultdict(list), collections.defaultdict(list)
    for top in roots:
        for path in sorted((base / top).rglob("*.py")):
            rel = str(path.relative_to(base))
            for node in ast.parse(path.read_text(), rel).body:
                if isinstance(node, ast.ClassDef):
                    classes[node.name].append(rel)
                elif isinstance(node, ast.Assign) and _namedtuple(node.value):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            classes[target.id].append(rel)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions[node.name].append(rel)
    return classes, functions


def test_each_class_name_defined_once():
    classes, _ = definitions()
    twice = {n: where for n, where in classes.items() if len(where) > 1 and n not in ALLOWED}
    assert not twice, ("one name, two types (rename one, see ARCHITECTURE.md \"Words\"; "
                       f"or add it to ALLOWED with the reason): {twice}")


def test_allow_list_is_still_needed():
    classes, _ = definitions()
    stale = [n for n in ALLOWED if len(classes.get(n, ())) < 2]
    assert not stale, f"no longer defined twice, drop from ALLOWED: {stale}"


def test_glossary_functions_defined_once():
    _, functions = definitions()
    twice = {n: functions[n] for n in ONE_FUNCTION if len(functions.get(n, ())) > 1}
    assert not twice, f"one word, two functions: {twice}"


def test_the_check_sees_a_duplicate(tmp_path):
    """The scan finds a class defined in two modules (so a pass above means something)."""
    for pkg in ("a", "b"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "m.py").write_text("import collections\nclass Local:\n    pass\n"
                                             "Tunnel = collections.namedtuple('T', 'x')\n"
                                             "def snapshot():\n    pass\n")
    classes, functions = definitions(("a", "b"), tmp_path)
    assert classes["Local"] == ["a/m.py", "b/m.py"]
    assert classes["Tunnel"] == ["a/m.py", "b/m.py"]
    assert functions["snapshot"] == ["a/m.py", "b/m.py"]
