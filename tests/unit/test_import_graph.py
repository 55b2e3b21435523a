"""The import graph of the product (controller/, datapath/) and the testbed (topologies/).

Every .py file is parsed (nothing is imported) and every import statement counts, at module
level and inside functions alike: a function-level import is still a dependency, and hiding
a cycle in one only moves the failure to run time. The test fails on
- any cycle between modules (or between the product's subpackages, e.g. controller.lflow
  -> controller.compile -> controller.punt -> controller.lflow),
- any product module importing the testbed (topologies) or the tests.
Run with -s to see the graph summary.
"""
import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("controller", "datapath", "topologies")
PRODUCT = ("controller", "datapath")
FORBIDDEN_FOR_PRODUCT = ("topologies", "tests")


def _modules():
    """{dotted name: path} of every module under TOPS."""
    mods = {}
    for top in TOPS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mods[".".join(parts)] = path
    return mods


def _imports(name, path, is_pkg):
    """(target dotted name, line, at function level) for every import in one file."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if is_pkg else name.rpartition(".")[0]
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    base = ".".join(base + ([child.module] if child.module else []))
                else:
                    base = child.module
                # `from X import a`: X.a when a is a module, else X (resolved later)
                out.extend((f"{base}.{a.name}", child.lineno, in_function) for a in child.names)
            visit(child, nested)

    visit(tree, False)
    return out


def _resolve(target, mods):
    """The module a dotted import target lands in, or None (outside TOPS/tests)."""
    while target:
        if target in mods or target.split(".")[0] == "tests":
            return target
        target = target.rpartition(".")[0]
    return None


def build_graph():
    mods = _modules()
    edges = {}          # module -> {imported module: at function level only}
    stats = Counter()
    for name, path in mods.items():
        for target, _, in_function in _imports(name, path, path.name == "__init__.py"):
            internal = _resolve(target, mods)
            stats["function-level imports" if in_function else "module-level imports"] += 1
            if internal is None:
                if in_function:
                    stats["function-level imports of outside modules"] += 1
                continue
            if internal == name or name.startswith(internal + "."):
                continue     # a package's own module, or its parent (imported first anyway)
            if in_function:
                stats["function-level imports of our own modules"] += 1
            prev = edges.setdefault(name, {}).get(internal, True)
            edges[name][internal] = prev and in_function
    return mods, edges, stats


def cycles(nodes, edges):
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _subpackage(name):
    """The unit of the package-level graph: controller.X / datapath / topologies.X."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] in ("controller", "topologies") else parts[0]


def _summary(mods, edges, stats):
    lines = [f"import graph: {len(mods)} modules "
             + ", ".join(f"{t} {sum(1 for m in mods if m.split('.')[0] == t)}" for t in TOPS)]
    n_edges = sum(len(t) for t in edges.values())
    n_func = sum(1 for t in edges.values() for f in t.values() if f)
    lines.append(f"  {n_edges} edges between them ({n_func} only through function-level imports)")
    for k in sorted(stats):
        lines.append(f"  {k}: {stats[k]}")
    pkg = {}
    for a, ts in edges.items():
        for b in ts:
            if _subpackage(a) != _subpackage(b):
                pkg.setdefault(_subpackage(a), set()).add(_subpackage(b))
    lines.append("  package-level graph:")
    for a in sorted(pkg):
        lines.append(f"    {a} -> {', '.join(sorted(pkg[a]))}")
    return lines, pkg


def test_no_import_cycles_and_the_product_never_imports_the_testbed():
    mods, edges, stats = build_graph()
    lines, pkg = _summary(mods, edges, stats)
    module_cycles = cycles(sorted(mods), edges)
    pkg_nodes = sorted({_subpackage(m) for m in mods})
    package_cycles = cycles(pkg_nodes, pkg)
    product_edges = sorted(f"{a} -> {b}" for a, ts in edges.items() for b in ts
                           if a.split(".")[0] in PRODUCT
                           and b.split(".")[0] in FORBIDDEN_FOR_PRODUCT)
    lines.append(f"  module cycles: {module_cycles or 'none'}")
    lines.append(f"  package cycles: {package_cycles or 'none'}")
    lines.append(f"  product -> testbed/tests edges: {product_edges or 'none'}")
    print("\n" + "\n".join(lines))
    assert not module_cycles, f"import cycles between modules: {module_cycles}"
    assert not package_cycles, f"import cycles between subpackages: {package_cycles}"
    assert not product_edges, f"the product imports the testbed or the tests: {product_edges}"


def test_the_checker_sees_cycles_and_function_level_imports(tmp_path):
    """The graph builder itself: a cycle hidden in a function-level import is found."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from . import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from .a import x\n")
    mods = {"pkg": tmp_path / "pkg" / "__init__.py", "pkg.a": tmp_path / "pkg" / "a.py",
            "pkg.b": tmp_path / "pkg" / "b.py"}
    edges = {}
    for name, path in mods.items():
        for target, _, in_function in _imports(name, path, path.name == "__init__.py"):
            internal = _resolve(target, mods)
            if internal and internal != name and not name.startswith(internal + "."):
                edges.setdefault(name, {})[internal] = in_function
    assert edges == {"pkg.a": {"pkg.b": False}, "pkg.b": {"pkg.a": True}}
    assert cycles(sorted(mods), edges) == [["pkg.a", "pkg.b"]]
