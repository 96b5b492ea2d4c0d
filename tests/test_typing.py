"""Static typing: mypy passes over the package, and every public signature is annotated.

Public functions are the functions named in ``__all__`` of a public module (no component of
its dotted name starts with ``_``), followed to the module that defines them; public methods
are those of the classes named there (names without a leading ``_``, and ``__init__``). Their
parameters and return must carry annotations, read from the ``def`` in the source (AST).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pathlib
import pkgutil
import subprocess
import sys
import tempfile
import time

import pytest

import stochthermo

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_mypy_passes():
    """``python -m mypy stochthermo`` exits 0 with the settings of ``[tool.mypy]``."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    # a cache that outlives the test run: a first run takes ~20 s, later runs ~1 s
    cache = pathlib.Path(tempfile.gettempdir()) / f"stochthermo-mypy-cache-{os.getuid()}"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "stochthermo", f"--cache-dir={cache}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, (
        f"mypy found problems (exit {proc.returncode}, {elapsed:.0f} s):\n"
        f"{proc.stdout[-6000:]}{proc.stderr[-2000:]}"
    )


def _public_modules() -> list[str]:
    names = ["stochthermo"]
    for info in pkgutil.walk_packages(stochthermo.__path__, "stochthermo."):
        parts = info.name.split(".")[1:]
        if not any(p.startswith("_") for p in parts):
            names.append(info.name)
    return names


def _def_node(func) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The ``def`` of ``func`` in its source file (matched by name and first line)."""
    path = inspect.getsourcefile(func)
    first = func.__code__.co_firstlineno
    tree = ast.parse(pathlib.Path(path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                node.name == func.__name__:
            lines = [node.lineno] + [d.lineno for d in node.decorator_list]
            if first in lines:
                return node
    raise LookupError(f"no def of {func.__qualname__} at {path}:{first}")


def missing_annotations(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """Parameters (and ``return``) of a ``def`` without an annotation."""
    a = node.args
    params = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    params += [p for p in (a.vararg, a.kwarg) if p is not None]
    out = [p.arg for p in params if p.annotation is None and p.arg not in ("self", "cls")]
    if node.returns is None:
        out.append("return")
    return out


def public_functions() -> dict[str, object]:
    """``{"module.name": function}`` for every function in ``__all__`` of a public module."""
    found = {}
    for modname in _public_modules():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj) or inspect.ismodule(obj) or not callable(obj):
                continue
            func = inspect.unwrap(obj)
            if inspect.isfunction(func) and func.__module__.startswith("stochthermo"):
                found[f"{modname}.{name}"] = func
    return found


def public_methods() -> dict[str, ast.FunctionDef]:
    """``{"module.Class.method": def}`` for the public methods (and ``__init__``) of the classes
    in ``__all__`` of a public module, read from the class body in the source."""
    found = {}
    for modname in _public_modules():
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            cls = getattr(mod, name, None)
            if not inspect.isclass(cls) or not cls.__module__.startswith("stochthermo"):
                continue
            tree = ast.parse(pathlib.Path(inspect.getsourcefile(cls)).read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
                    for f in node.body:
                        if isinstance(f, ast.FunctionDef) and (
                                not f.name.startswith("_") or f.name == "__init__"):
                            found[f"{cls.__module__}.{cls.__name__}.{f.name}"] = f
    return found


def test_public_methods_are_annotated():
    methods = public_methods()
    assert len(methods) > 100
    bad = {}
    for label, node in methods.items():
        miss = missing_annotations(node)
        if node.name == "__init__":
            miss = [m for m in miss if m != "return"]  # PEP 484: None is implied
        if miss:
            bad[label] = miss
    assert not bad, "public methods without annotations:\n" + "\n".join(
        f"  {k}: {', '.join(v)}" for k, v in sorted(bad.items()))


def test_public_functions_are_annotated():
    funcs = public_functions()
    assert len(funcs) > 50  # the search reaches the package (estimate, exact, learning, ...)
    bad = {}
    for label, func in funcs.items():
        miss = missing_annotations(_def_node(func))
        if miss:
            bad[label] = miss
    assert not bad, "public functions without annotations:\n" + "\n".join(
        f"  {k}: {', '.join(v)}" for k, v in sorted(bad.items()))


def test_annotation_check_sees_a_missing_annotation():
    """Control: the AST check flags an unannotated parameter and return, passes a typed def."""
    untyped = ast.parse("def f(a, b: int, *args, c=1, **kw): pass").body[0]
    typed = ast.parse("def g(self, a: int, *, b: str = 'x') -> None: pass").body[0]
    assert missing_annotations(untyped) == ["a", "c", "args", "kw", "return"]
    assert missing_annotations(typed) == []
