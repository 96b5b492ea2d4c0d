"""The README's Python example runs as written."""

import pathlib
import re


def test_readme_example_runs(capsys):
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "0.27" in out
    # both stationary covariances appear, each labelled with its time (map vs Langevin limit)
    assert "discrete time" in blocks[0] and "continuous time" in blocks[0]
    assert "0.00181124" in out and "0.00173399" in out


def test_readme_says_how_to_read_the_report():
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "How to read the report" in text and "one standard error" in text


def test_readme_quickstart_matches_ci():
    root = pathlib.Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    ci = (root / ".ci" / "run").read_text()
    test_cmd = "pip install -e '.[test]' && python -m pytest"
    assert test_cmd in readme and test_cmd in ci
    assert "pip install -e . && stochthermo demo" in readme


def test_every_readme_python_block_runs_in_order(capsys):
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "aliasing" in out and "1250" in out  # the coarse-sampling example warns
    assert "0.6476" in out and "0.5528" in out  # the sensor's exact entropy production, efficiency
    assert "entropy_production:plugin" in out
