import numpy as np
import pytest

import stochthermo as st
from stochthermo.errors import ShapeError, UnstableModelError, ValidationError


def test_linear_langevin_basic():
    m = st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 2.0]], blocks=[1, 1])
    assert m.dim == 2 and m.n_blocks == 2
    np.testing.assert_array_equal(m.temperatures, [1.0, 2.0])
    assert m.is_bipartite
    with pytest.raises(ValueError):
        m.A[0, 0] = 3.0  # read-only


@pytest.mark.parametrize(
    "A, D, kw, exc, match",
    [
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.eye(2), {}, ShapeError, "A must be square"),
        ([[-1.0, 0.0], [0.0, 1.0]], np.eye(2), {}, UnstableModelError, "A must be stable"),
        (np.eye(2), [[1.0, 0.5], [0.0, 1.0]], {}, ValidationError, "D must be symmetric"),
        (np.eye(2), [[1.0, 0.0], [0.0, -1.0]], {}, ValidationError, "positive semi-definite"),
        ([[np.nan, 0.0], [0.0, 1.0]], np.eye(2), {}, ValidationError, "A contains a non-finite"),
        (np.eye(2), [[np.inf, 0.0], [0.0, 1.0]], {}, ValidationError, "D contains a non-finite"),
        (np.eye(2), np.eye(3), {}, ShapeError, "model has dimension 2"),
        (np.eye(3), np.eye(3), {"blocks": [[0, 1], [1, 2]]}, ValidationError, "not a partition"),
        (np.eye(3), np.eye(3), {"blocks": [1, 1]}, ValidationError, "sum to the dimension 3"),
        (np.eye(2), np.eye(2), {"x_star": [1.0, 2.0, 3.0]}, ShapeError, "x_star must have"),
        (np.eye(2), np.eye(2), {"temperatures": [1.0, -1.0]}, ValidationError, "temperatures"),
    ],
)
def test_linear_langevin_bad_input(A, D, kw, exc, match):
    with pytest.raises(exc, match=match):
        st.LinearLangevin(A, D, **kw)


def test_sgd_to_langevin():
    H = np.array([[2.0, 0.3], [0.3, 1.0]])
    S = np.array([[1.0, 0.2], [0.2, 0.5]])
    m = st.LinearizedSGD(H, S, lr=0.1, batch_size=4)
    lang = m.to_langevin()
    np.testing.assert_allclose(lang.A, H)
    np.testing.assert_allclose(lang.D, 0.1 * S / (2 * 4))
    w = st.LinearizedSGD(H, S, lr=0.1, batch_size=4, dataset_size=20)
    np.testing.assert_allclose(w.diffusion, 0.1 * S / 8 * (20 - 4) / 19)
    iso = st.LinearizedSGD(H, 3.0 * np.eye(2), lr=0.1, batch_size=5)
    assert iso.temperature == pytest.approx(0.1 * 3.0 / 10)
    with pytest.raises(st.errors.ModelError, match="not isotropic"):
        _ = m.temperature


@pytest.mark.parametrize(
    "args, kw, match",
    [
        ((np.eye(2), np.eye(2), 0.0, 1), {}, "lr=0.0 must be > 0"),
        ((np.eye(2), np.eye(2), -0.1, 1), {}, "lr=-0.1 must be > 0"),
        ((np.eye(2), np.eye(2), 0.1, 0), {}, "batch_size=0 must be an integer >= 1"),
        ((np.eye(2), np.eye(2), 0.1, 2.5), {}, "batch_size=2.5 must be an integer"),
        ((np.eye(2), np.eye(2), 0.1, 8), {"dataset_size": 4}, "exceeds dataset_size=4"),
        ((np.eye(2), np.eye(2), 0.1, 1), {"momentum": 1.0}, r"momentum=1.0 must be in \[0, 1\)"),
        ((-np.eye(2), np.eye(2), 0.1, 1), {}, "positive semi-definite|stable"),
        ((np.eye(2), np.ones((3, 3)), 0.1, 1), {}, "grad_noise_cov has shape"),
        (([[1.0, 2.0], [0.0, 1.0]], np.eye(2), 0.1, 1), {}, "hessian must be symmetric"),
    ],
)
def test_sgd_bad_input(args, kw, match):
    with pytest.raises(ValueError, match=match):
        st.LinearizedSGD(*args, **kw)


def test_blocks_forms():
    m = st.LinearLangevin(np.eye(3), np.eye(3), blocks=[[2], [0, 1]])
    assert m.blocks == ((2,), (0, 1))
    m2 = st.LinearLangevin(np.eye(3), np.eye(3), blocks=[2, 1])
    assert m2.blocks == ((0, 1), (2,))
    coupled = st.LinearLangevin(np.eye(2), [[1.0, 0.5], [0.5, 1.0]])
    assert not coupled.is_bipartite
