"""Layering rules and a cheap top-level import."""

import ast
import importlib
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = ROOT / "stochthermo"


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                parts = path.relative_to(PKG.parent).with_suffix("").parts[: -node.level]
                mod = ".".join(parts + ((mod,) if mod else ()))
            yield mod, node.lineno


def _module_name(path):
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _targets(path):
    """Modules of ours that ``path`` imports, at module level or inside functions.

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module of ours,
    else of ``pkg``. The implicit import of a parent package's ``__init__`` is not counted (it
    would join every module to the top-level package).
    """
    name = _module_name(path)
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                up = base[: len(base) - (node.level - 1)]
                mod = ".".join(up + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                yield (sub if sub in MODULES else mod), node.lineno


def import_graph():
    """``{module: {imported module of ours: first line}}`` over ``stochthermo/``."""
    graph = {}
    for name, path in MODULES.items():
        edges = {}
        for target, line in _targets(path):
            if target in MODULES and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None (depth-first search)."""
    state, path = {}, []

    def visit(v):
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def test_no_import_cycle_counting_function_level_imports():
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle:
        hops = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:]))
        raise AssertionError(f"import cycle: {hops} -> {cycle[-1]}")


def test_cycle_finder_sees_a_cycle():
    """Control: the search finds a planted cycle and passes an acyclic graph."""
    assert find_cycle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 2}}) is None


def test_function_level_imports_are_in_the_graph():
    """Control: imports inside functions count (the feature dispatch used to hide a cycle)."""
    graph = import_graph()
    assert "stochthermo.simulation._chunked" in graph["stochthermo.simulation._simulate"]
    assert "stochthermo.kernels._langevin" in graph["stochthermo.simulation._plans"]


def test_executor_and_distributed_know_no_feature():
    graph = import_graph()
    features = ("stochthermo.simulation", "stochthermo.learning", "stochthermo.bridge",
                "stochthermo.store")
    for mod in ("stochthermo._executor", "stochthermo.distributed"):
        for target, line in graph[mod].items():
            assert not target.startswith(features), f"{mod}:{line} imports {target}"


def test_nothing_below_the_cli_imports_commands():
    for name, path in MODULES.items():
        if name.startswith("stochthermo.commands") or name == "stochthermo.cli":
            continue
        for target, line in _targets(path):
            assert not target.startswith("stochthermo.commands"), f"{name}:{line} imports {target}"


def test_kernels_import_nothing_of_ours_but_kernels():
    for name, path in MODULES.items():
        if not name.startswith("stochthermo.kernels"):
            continue
        for target, line in _targets(path):
            if target.startswith("stochthermo"):
                assert target.startswith("stochthermo.kernels"), f"{name}:{line} imports {target}"


def test_kernels_import_only_numba_numpy_and_kernels():
    allowed = ("numba", "numpy", "math", "stochthermo.kernels", "__future__", "typing", "os")
    for f in (PKG / "kernels").rglob("*.py"):
        for mod, line in _imports(f):
            assert mod.startswith(allowed), f"{f.name}:{line} imports {mod}"


def test_symbolic_never_imports_kernels():
    for f in (PKG / "symbolic").rglob("*.py"):
        for mod, line in _imports(f):
            assert "kernels" not in mod, f"{f.name}:{line} imports {mod}"


def test_no_torch_anywhere():
    for f in PKG.rglob("*.py"):
        for mod, line in _imports(f):
            assert mod.split(".")[0] != "torch", f"{f}:{line} imports torch"


def test_no_global_numpy_rng_in_library():
    bad = ("np.random.seed(", "np.random.normal(", "np.random.rand(", "np.random.randn(",
           "np.random.randint(", "np.random.shuffle(", "np.random.choice(")
    for f in PKG.rglob("*.py"):
        text = f.read_text()
        for b in bad:
            assert b not in text, f"{f} calls the global RNG via {b}"


def test_import_is_cheap():
    code = ("import sys, stochthermo; "
            "heavy = [m for m in ('sympy', 'matplotlib', 'numba', 'scipy', 'tqdm') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ruff_clean():
    """The configured lint rules (pyproject.toml) hold for the whole tree."""
    import shutil

    import pytest

    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the 'test' extra)")
    root = PKG.parent
    out = subprocess.run([ruff, "check", "--quiet", str(root)], capture_output=True, text=True,
                         cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr


MAX_BODY_LINES = 80

# Known long functions, to be split into private helpers (validate / compute / assemble); they
# carry no ``# long:`` reason. Remove an entry once its function is split. Any other function
# over the limit fails the test.
_NOT_YET_SPLIT: set[str] = set()  # entries as "estimators/_entropy.py:_ep_inference"


def _functions(tree, prefix=""):
    """``(qualified name, node)`` for every function in ``tree``, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, prefix + node.name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, prefix + node.name + ".")
        else:
            yield from _functions(node, prefix)


def _body_span(node):
    """First line of the body after the docstring (decorators included), and its length."""
    body = node.body
    if (len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    first = body[0]
    start = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])])
    return start, node.end_lineno - start + 1


def long_functions(source, limit=MAX_BODY_LINES):
    """``{name: body lines}`` of the functions in ``source`` whose body (after the docstring)
    is longer than ``limit`` lines and that state no reason: a comment starting with ``# long:``
    on the line right above the body or on its first line."""
    lines = source.splitlines()
    found = {}
    for name, node in _functions(ast.parse(source)):
        start, n = _body_span(node)
        if n <= limit:
            continue
        near = [lines[i - 1].strip() for i in (start - 1, start) if 0 < i <= len(lines)]
        if any(s.startswith("# long:") or "  # long:" in s for s in near):
            continue
        found[name] = n
    return found


def test_no_long_function_without_a_stated_reason():
    new, stale = [], set(_NOT_YET_SPLIT)
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).as_posix()
        for name, n in long_functions(f.read_text()).items():
            key = f"{rel}:{name}"
            if key in _NOT_YET_SPLIT:
                stale.discard(key)
            else:
                new.append(f"{key} ({n} lines)")
    assert not new, (f"functions over {MAX_BODY_LINES} body lines; split them into private "
                     "helpers or state the reason in a '# long:' comment above the body: "
                     + ", ".join(new))
    assert not stale, f"split or gone, remove from _NOT_YET_SPLIT: {sorted(stale)}"


def test_long_function_check_sees_a_long_body():
    """Control: an 81-line body is caught, an 80-line one, the docstring and a reason are not."""
    def make(n, doc=True, reason=False):
        head = ['def f():', '    """Doc\n\n    more.\n    """'] if doc else ["def f():"]
        if reason:
            head.append("    # long: one pass per step")
        return "\n".join(head + ["    x = 1"] * n) + "\n"

    assert long_functions(make(81)) == {"f": 81}
    assert long_functions(make(81, doc=False)) == {"f": 81}
    assert long_functions(make(80)) == {}
    assert long_functions(make(81, reason=True)) == {}
    nested = "class A:\n    def g(self):\n" + "        y = 2\n" * 81
    assert long_functions(nested) == {"A.g": 81}


# ----------------------------------------------------------------------------- frozen results
_CONSTRUCTORS = ("__init__", "__post_init__")


def frozen_writes(source: str) -> list[tuple[str, str]]:
    """``(kind, enclosing function)`` of every ``object.__setattr__(...)`` and ``settle(...)``."""
    found = []

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            name = func
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            if isinstance(child, ast.Call):
                f = child.func
                if (isinstance(f, ast.Attribute) and f.attr == "__setattr__"
                        and isinstance(f.value, ast.Name) and f.value.id == "object"):
                    found.append(("object.__setattr__", func))
                elif isinstance(f, ast.Name) and f.id == "settle":
                    found.append(("settle", func))
            visit(child, name)

    visit(ast.parse(source), "<module>")
    return found


def test_frozen_objects_change_only_while_constructed():
    """Frozen dataclasses store normalised fields only through ``_frozen.settle``, and only from
    ``__init__``, ``__post_init__`` or an ``_init_*`` helper; everything later uses
    ``dataclasses.replace``."""
    bad = []
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).as_posix()
        for kind, func in frozen_writes(f.read_text()):
            if kind == "object.__setattr__" and rel != "_frozen.py":
                bad.append(f"{rel}:{func} calls object.__setattr__ (use _frozen.settle)")
            if kind == "settle" and not (func in _CONSTRUCTORS or func.startswith("_init_")):
                bad.append(f"{rel}:{func} calls settle outside construction")
    assert not bad, bad


def test_frozen_write_check_sees_both_kinds():
    src = ("class A:\n    def __post_init__(self):\n        settle(self, x=1)\n"
           "    def later(self):\n        object.__setattr__(self, 'x', 2)\n"
           "        settle(self, x=3)\n")
    assert frozen_writes(src) == [("settle", "__post_init__"), ("object.__setattr__", "later"),
                                  ("settle", "later")]


# ----------------------------------------------------------------------------- benchmarks
def test_benchmark_scripts_import_names_that_exist():
    """Every ``from stochthermo... import name`` in ``benchmarks/*.py`` names something that
    exists (the scripts are run by hand, so a moved name would otherwise go unnoticed)."""
    missing = []
    for f in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.ImportFrom) and node.module
                    and node.module.split(".")[0] == "stochthermo"):
                mod = importlib.import_module(node.module)
                missing += [f"{f.name}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(mod, a.name)]
    assert not missing, missing
