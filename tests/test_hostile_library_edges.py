"""Library edges found by driving the command line with hostile input.

An atomic output never replaces a device, pipe or socket; a diagonal diffusion matrix is
checked without a dense eigen-solve; the symbolic layer refuses what it cannot invert with the
package's own error instead of a SymPy TypeError or a ``zoo``; a training-set file with
unusable labels or inputs is refused before any work.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from stochthermo._atomic import check_out_file, write_atomic
from stochthermo._validation import check_psd
from stochthermo.errors import ModelError, ValidationError


def test_atomic_write_never_replaces_a_pipe(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for call in (lambda: write_atomic(fifo, "x"), lambda: check_out_file(fifo)):
        with pytest.raises(FileExistsError, match="not a regular file"):
            call()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the pipe
    assert os.listdir(tmp_path) == ["pipe"]  # no temporary file left behind
    # control: a regular file is replaced
    f = tmp_path / "out.txt"
    f.write_text("old")
    write_atomic(f, "new")
    assert f.read_text() == "new"


def test_diagonal_psd_check_needs_no_eigen_solve(monkeypatch):
    solves = []
    real = np.linalg.eigvalsh
    monkeypatch.setattr(np.linalg, "eigvalsh", lambda m: solves.append(m.shape) or real(m))
    check_psd("D", 0.5 * np.eye(3000))  # a dense solve takes seconds at this size
    check_psd("D", np.diag([1.0, 0.0, 2.0]))
    assert solves == []
    with pytest.raises(ValidationError, match="eigenvalue -0.001"):
        check_psd("D", np.diag([1.0, -1e-3, 2.0]))
    with pytest.raises(ValidationError, match="eigenvalue -1"):  # not diagonal: the solve
        check_psd("D", np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert solves == [(2, 2)]


def test_symbolic_inverse_sympy_cannot_do_is_a_model_error():
    from stochthermo.symbolic import derive_linear

    d = derive_linear([["sin(k)**2 + cos(k)**2", 0], [0, 1]], [[1, 0], [0, 1]])
    with pytest.raises(ModelError, match="cannot invert this matrix exactly"):
        d.expression("current_matrix")


def test_symbolic_information_of_a_noiseless_model_is_refused():
    from stochthermo.symbolic import derive_linear

    d = derive_linear([[1, 0], [0, 1]], [[0, 0], [0, 0]])
    with pytest.raises(ModelError, match="information is not defined"):
        d.expression("mutual_information")
    # control: with noise it is a number (0: independent coordinates)
    assert derive_linear([[1, 0], [0, 1]], [[1, 0], [0, 1]]).expression("mutual_information") == 0


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x_train": np.ones((6, 2)), "y_train": np.linspace(0, 1, 6)}, "non-integer"),
    ({"x_train": np.ones((6, 2)), "y_train": np.arange(6) - 1}, "negative label"),
    ({"x_train": np.ones((6, 2)), "y_train": np.full(6, 10**12)}, "the label 1000000000000"),
    ({"x_train": np.ones((6, 2)), "y_train": np.zeros(6)}, "needs two classes"),
    ({"x_train": np.array(["a"] * 6), "y_train": np.arange(6) % 2}, "numeric array"),
    ({"x_train": np.full((6, 2), np.nan), "y_train": np.arange(6) % 2}, "NaN"),
    ({"x_train": np.array([None] * 6, dtype=object), "y_train": np.arange(6) % 2},
     "cannot be read"),
])
def test_training_set_files_with_unusable_labels_or_inputs(tmp_path, arrays, message):
    from stochthermo.learning._fig41 import load_dataset

    p = tmp_path / "data.npz"
    np.savez(p, **arrays)
    with pytest.raises(ValidationError, match=message):
        load_dataset(p)


def test_training_set_file_that_is_not_a_zip_and_a_good_one(tmp_path):
    from stochthermo.learning._fig41 import load_dataset

    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip archive")
    with pytest.raises(ValidationError, match="cannot be read"):
        load_dataset(bad)
    good = tmp_path / "good.npz"
    img = np.arange(6 * 4, dtype=float).reshape(6, 2, 2) * 10  # pixel-like: scaled to [0, 1]
    np.savez(good, x_train=img, y_train=np.array([0.0, 1, 2, 0, 1, 2]))
    U, y, _ = load_dataset(good)
    assert U.shape == (6, 4) and U.max() == 1.0 and y.tolist() == [0, 1, 2, 0, 1, 2]
