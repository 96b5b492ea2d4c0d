"""The scalar constant-rate Gaussian learner's fast closed-form route gives the same numbers."""

from __future__ import annotations

import numpy as np

from stochthermo.learning import GaussianLearner
from stochthermo.learning._gaussian import _logabsdet, _logdet, _symbolic_eval
from stochthermo.symbolic.learner import derive_gaussian_learner


def test_batched_sympy_forms_equal_the_per_key_functions():
    g = GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2, model_std=0.7, lr=0.15,
                        init_var=0.3)
    tf = np.arange(2000, dtype=float)
    batch = _symbolic_eval(tf, g._args())
    funcs = derive_gaussian_learner()[1]
    assert set(batch) == set(funcs)
    for name, f in funcs.items():
        ref = np.asarray(f(tf, *g._args()) + 0.0 * tf)
        scale = np.nanmax(np.abs(ref))
        np.testing.assert_allclose(batch[name], ref, rtol=0, atol=1e-13 * scale, err_msg=name)


def test_full_grid_and_sparse_steps_agree_with_numeric():
    g = GaussianLearner(lr=0.05, init_var=0.2)
    dense = g.closed_form(np.arange(500))  # one pass over every step
    sparse = g.closed_form(np.array([3, 250, 499]))  # only the asked steps
    num = g.closed_form(np.arange(500), method="numeric")
    for key in dense:
        d, n = np.asarray(dense[key]), np.asarray(num[key])
        scale = np.nanmax(np.abs(n)) if np.isfinite(n).any() else 1.0
        np.testing.assert_allclose(d, n, rtol=0, atol=1e-10 * max(scale, 1e-300), err_msg=key)
        np.testing.assert_allclose(np.asarray(sparse[key]), d[[3, 250, 499]], rtol=1e-12,
                                   atol=1e-15, err_msg=key)


def test_small_determinants_equal_lapack():
    rng = np.random.default_rng(0)
    for k in (1, 2):
        a = rng.standard_normal((50, k, k))
        c = a @ np.swapaxes(a, 1, 2)
        c[0] = 0.0  # singular
        ref = np.linalg.slogdet(c)
        np.testing.assert_allclose(_logdet(c)[1:], ref[1][1:], rtol=1e-12)
        assert _logdet(c)[0] == -np.inf
        np.testing.assert_allclose(_logabsdet(c)[1:], ref[1][1:], rtol=1e-12)
    neg = -np.eye(2)[None] * np.array([1.0, -1.0])[None, :, None]
    assert np.isnan(_logdet(neg))[0]
