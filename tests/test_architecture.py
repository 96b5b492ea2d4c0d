"""Layering rules and a cheap top-level import."""

import ast
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[1] / "stochthermo"


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
