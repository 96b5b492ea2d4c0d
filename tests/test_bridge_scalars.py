"""Scalar logs: NaN rows kept, complete records before a truncated TensorBoard tail returned."""

import os
import pathlib
import warnings

import numpy as np
import pytest

from stochthermo.bridge import read_scalars
from stochthermo.errors import CorruptFileError

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "bridge")
TORCH = dict(np.load(os.path.join(FIX, "expected_torch.npz")))


def test_nan_rows_are_kept_in_every_format(tmp_path):
    steps, vals = read_scalars(os.path.join(FIX, "tc_nan.tfevents"))["loss"]
    assert steps.tolist() == TORCH["tb/steps"].tolist()
    assert np.array_equal(vals, TORCH["tb/values"], equal_nan=True)
    assert np.isnan(vals[2]) and np.isfinite(vals[[0, 1, 3, 4]]).all()
    (tmp_path / "a.csv").write_text("step,loss,acc\n0,1.0,0.1\n1,nan,\n2,0.5,0.3\n")
    s = read_scalars(tmp_path / "a.csv")
    assert s["loss"][0].tolist() == [0, 1, 2] and np.isnan(s["loss"][1][1])
    assert s["acc"][0].tolist() == [0, 2]  # an empty cell is no value, not NaN
    (tmp_path / "a.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": NaN}\n')
    s = read_scalars(tmp_path / "a.jsonl")
    assert s["loss"][0].tolist() == [0, 1] and np.isnan(s["loss"][1][1])


def test_truncated_tail_returns_complete_records_with_a_warning():
    with pytest.warns(RuntimeWarning, match="incomplete"):
        s = read_scalars(os.path.join(FIX, "tc_truncated.tfevents"))
    steps, vals = s["loss"]
    assert steps.tolist() == TORCH["tb/steps"][:-1].tolist()
    assert np.array_equal(vals, TORCH["tb/values"][:-1], equal_nan=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the complete file reads without a warning
        read_scalars(os.path.join(FIX, "tc_nan.tfevents"))


def test_truncated_inside_the_first_record_or_corrupted_is_still_refused(tmp_path):
    raw = pathlib.Path(FIX, "tc_nan.tfevents").read_bytes()
    p = tmp_path / "events.out.tfevents.cut"
    p.write_bytes(raw[:20])
    with pytest.raises(CorruptFileError, match="no complete record"):
        read_scalars(p)
    bad = bytearray(raw)
    bad[len(raw) // 2] ^= 0x01
    p.write_bytes(bytes(bad))
    with pytest.raises(CorruptFileError, match="CRC32C"):
        read_scalars(p)


def test_analyze_json_is_strict_with_nan_scalars(tmp_path, capsys):
    import json

    from stochthermo.cli import main

    rng = np.random.default_rng(0)
    for j in range(3):
        folder = tmp_path / "runs" / "bs4" / f"t{j}"
        folder.mkdir(parents=True)
        w = np.zeros(5)
        rows = ["step,loss"]
        for s in range(4):
            np.savez(folder / f"step_{s}.npz", w=w)
            rows.append(f"{s},{'nan' if s == 2 else 1.0 / (s + 1)}")
            w = w + 0.1 * rng.normal(size=5)
        (folder / "scalars.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert main(["analyze", str(tmp_path / "runs"), "--out", str(out), "--format", "json",
                 "--no-progress"]) == 0

    def refuse(const):
        raise AssertionError(f"non-strict JSON constant {const}")

    text = capsys.readouterr().out
    summary = json.loads(text, parse_constant=refuse)
    loss = summary["runs"][0]["scalars"]["loss"]
    assert loss["steps"] == [0, 1, 2, 3] and loss["mean"][2] is None  # NaN row kept as null
    json.loads((out / "summary.json").read_text(), parse_constant=refuse)
