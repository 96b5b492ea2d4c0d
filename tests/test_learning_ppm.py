"""PPMs: gradients against finite differences, kernels against their NumPy twins."""

import numpy as np
import pytest

from stochthermo.errors import ValidationError
from stochthermo.learning import (
    GaussianMean,
    LinearRegression,
    MLPClassifier,
    SoftmaxRegression,
    learn,
)
from stochthermo.learning._fig41 import single_thread_blas

try:
    from . import naive_learn
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    import naive_learn


def _data(model, rng, n=12):
    if isinstance(model, GaussianMean):
        return rng.normal(size=(n, model.dim))
    U = rng.normal(size=(n, model.n_in))
    if isinstance(model, LinearRegression):
        return U, rng.normal(size=n)
    return U, rng.integers(0, model.n_classes, size=n)


MODELS = [
    GaussianMean(dim=3, std=0.7),
    LinearRegression(n_in=3, std=0.5),
    SoftmaxRegression(n_in=3, n_classes=4),
    MLPClassifier(n_in=3, n_classes=3, hidden=(5, 4), activation="tanh"),
    MLPClassifier(n_in=3, n_classes=3, hidden=(6,), activation="relu"),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__ + str(m.n_params))
def test_gradients_match_finite_differences(model):
    rng = np.random.default_rng(0)
    data = _data(model, rng)
    theta = model.init_params(rng) + 0.3 * rng.normal(size=model.n_params)
    g = model.grad(theta, data)
    ps = model.per_sample_grads(theta, data)
    np.testing.assert_allclose(ps.mean(axis=0), g, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    fd = np.empty_like(g)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = eps
        fd[j] = (model.loss(theta + e, data) - model.loss(theta - e, data)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    # per-sample gradient of sample 0 against FD of its own log-likelihood
    fd0 = np.empty_like(g)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = eps
        fd0[j] = -(model.log_likelihood(theta + e, data)[0]
                   - model.log_likelihood(theta - e, data)[0]) / (2 * eps)
    np.testing.assert_allclose(ps[0], fd0, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__ + str(m.n_params))
def test_kl_energy_and_fisher_consistency(model):
    rng = np.random.default_rng(1)
    data = _data(model, rng)
    probe = None if model.generative else data[0][:7]
    th = np.stack([model.init_params(rng) + 0.3 * rng.normal(size=model.n_params)
                   for _ in range(3)])
    delta = 1e-3 * rng.normal(size=th.shape)
    kl = model.kl(th, th + delta, probe)
    fq = model.fisher_quadratic(th, delta, probe)
    assert np.all(kl >= 0)
    np.testing.assert_allclose(fq, kl, rtol=5e-3)  # KL = 1/2 d'Fd + O(d^3)
    np.testing.assert_allclose(model.kl(th, th, probe), 0.0, atol=1e-14)
    # Monte Carlo: E_{x~p_a}[E_b(x) - E_a(x)] = KL(p_a || p_b)
    shape = model.noise_shape(probe)
    n = 20000
    noise = rng.standard_normal((n, *shape)) if model.noise_kind == "normal" \
        else rng.random((n, *shape))
    a, b = np.repeat(th[:1], n, 0), np.repeat(th[1:2], n, 0)
    x = model.generate(a, noise, probe)
    diff = model.energy(b, x, probe) - model.energy(a, x, probe)
    kl_ab = model.kl(th[:1], th[1:2], probe)[0]
    assert abs(diff.mean() - kl_ab) < 4 * diff.std() / np.sqrt(n) + 1e-12
    # entropy = E energy
    h = model.output_entropy(th[:1], probe)[0]
    e = model.energy(a, x, probe)
    assert abs(e.mean() - h) < 4 * e.std() / np.sqrt(n) + 1e-12


@pytest.mark.parametrize("act", [0, 1])
def test_mlp_kernels_match_numpy_twins(act):
    from stochthermo.kernels._mlp import mlp_forward, mlp_loss_grad, mlp_sgd_step_ensemble

    rng = np.random.default_rng(2)
    sizes = np.array([4, 7, 5, 3])
    d = int(sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(3)))
    p = 0.5 * rng.normal(size=d)
    X = rng.normal(size=(6, 4))
    y = rng.integers(0, 3, size=6)
    np.testing.assert_allclose(mlp_forward(p, sizes, act, X),
                               naive_learn.forward(p, sizes, act, X), rtol=1e-12, atol=1e-13)
    g = np.empty(d)
    loss = mlp_loss_grad(p, sizes, act, X, y, g)
    loss2, g2 = naive_learn.loss_grad(p, sizes, act, X, y)
    assert loss == pytest.approx(loss2, rel=1e-12)
    np.testing.assert_allclose(g, g2, rtol=1e-10, atol=1e-13)
    thetas = np.stack([p, p + 0.1])
    vel = np.zeros_like(thetas)
    idx = np.array([[0, 2, 4], [1, 3, 5]])
    losses = np.empty(2)
    mlp_sgd_step_ensemble(thetas, vel, sizes, act, X[None], y[None], idx, np.zeros(2, np.int64),
                          0.1, 0.0, losses)
    for k, q in enumerate([p, p + 0.1]):
        new, lk = naive_learn.sgd_step(q, sizes, act, X[idx[k]], y[idx[k]], 0.1)
        np.testing.assert_allclose(thetas[k], new, rtol=1e-12, atol=1e-13)
        assert losses[k] == pytest.approx(lk, rel=1e-12)


def test_mlp_kernel_thread_independent():
    import numba

    model = MLPClassifier(n_in=3, n_classes=3, hidden=(8,))
    rng = np.random.default_rng(3)
    data = _data(model, rng, n=40)
    kw = dict(lr=0.1, batch_size=4, n_steps=5, n_trials=4, seed=5,
              record=("params", "work", "heat"))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = learn(model, data, **kw)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        b = learn(model, data, **kw)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.work, b.work)


def test_validation_messages():
    with pytest.raises(ValidationError, match="activation"):
        MLPClassifier(activation="gelu")
    with pytest.raises(ValidationError, match="labels must be integers"):
        SoftmaxRegression(n_in=1, n_classes=2).check_data((np.zeros((3, 1)), [0, 1, 2]))
    with pytest.raises(ValidationError, match="shape"):
        GaussianMean(dim=2).check_data(np.zeros((4, 3)))


def test_digits_read_without_importing_sklearn_match_load_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    from stochthermo.learning._fig41 import _digits, load_dataset

    U, y = _digits()
    d = datasets.load_digits()
    np.testing.assert_array_equal(U, d.data / 16.0)
    np.testing.assert_array_equal(y, d.target)
    assert y.dtype == np.int64
    U2, y2, label = load_dataset("auto", max_samples=100, seed=1)
    assert label == "digits" and U2.shape == (100, 64) and U2.flags.c_contiguous
    assert 0.0 <= U2.min() and U2.max() <= 1.0 and set(np.unique(y2)) <= set(range(10))


def test_digits_fall_back_to_sklearn_when_the_file_is_missing(monkeypatch, tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    import importlib.util

    from stochthermo.learning import _fig41

    class Spec:
        submodule_search_locations = [str(tmp_path)]  # no datasets/data/digits.csv.gz here

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: Spec())
    U, y = _fig41._digits()
    np.testing.assert_array_equal(U, datasets.load_digits().data / 16.0)


def test_mlp_serial_gradients_equal_parallel_ones_and_restore_threads():
    import numba

    from stochthermo.kernels import _mlp

    model = MLPClassifier(n_in=5, n_classes=3, hidden=(9, 7))
    rng = np.random.default_rng(4)
    K, m = 6, 11
    th = np.ascontiguousarray(0.3 * rng.normal(size=(K, model.n_params)))
    U = rng.normal(size=(2, 30, 5))
    Y = rng.integers(0, 3, size=(2, 30))
    idx = rng.integers(0, 30, size=(K, m))
    data_of = np.array([0, 1, 0, 1, 1, 0])
    out = {}
    threads = numba.get_num_threads()
    for name in ("parallel", "serial", "serial, one BLAS thread"):
        g, loss = np.full_like(th, np.nan), np.full(K, np.nan)
        kernel = _mlp.mlp_grad_ensemble if name == "parallel" else _mlp.mlp_grad_ensemble_serial
        if name.endswith("BLAS thread"):
            with single_thread_blas():
                kernel(th, model._sizes, model._act, U, Y, idx, data_of, g, loss)
            assert not _mlp._ONE_BLAS_THREAD[0]
        else:
            kernel(th, model._sizes, model._act, U, Y, idx, data_of, g, loss)
        assert numba.get_num_threads() == threads
        out[name] = (g, loss)
    for name, (g, loss) in out.items():
        np.testing.assert_array_equal(g, out["parallel"][0], err_msg=name)
        np.testing.assert_array_equal(loss, out["parallel"][1], err_msg=name)
    for k in (0, 3):  # and each row is that trial's own mini-batch gradient
        ds = data_of[k]
        loss_k, g_k = naive_learn.loss_grad(th[k], model._sizes, model._act, U[ds, idx[k]],
                                            Y[ds, idx[k]])
        np.testing.assert_allclose(out["serial"][0][k], g_k, rtol=1e-10, atol=1e-13)


def test_noise_statistics_leave_lags_longer_than_the_run_undefined():
    from stochthermo.learning._fig41 import noise_statistics

    rng = np.random.default_rng(5)
    params = np.cumsum(rng.normal(size=(4, 4, 6)), axis=1)  # 3 increments
    var, ac = noise_statistics(params, lr=0.1, max_lag=5)
    assert var.shape == (3,) and np.all(var > 0)
    assert ac[0] == pytest.approx(1.0)
    assert np.all(np.isfinite(ac[:3])) and np.all(np.isnan(ac[3:]))


def test_single_thread_blas_reaches_the_blas_numba_calls_in_a_fresh_process():
    import json
    import subprocess
    import sys

    pytest.importorskip("threadpoolctl")
    code = (
        "import json, sys\n"
        "from threadpoolctl import threadpool_info\n"
        "from stochthermo.learning._fig41 import single_thread_blas\n"
        "assert 'scipy.linalg.cython_blas' not in sys.modules\n"
        "def blas():\n"
        "    return {i['filepath']: i['num_threads'] for i in threadpool_info()\n"
        "            if i['user_api'] == 'blas'}\n"
        "with single_thread_blas() as limited:\n"
        "    inside = blas()\n"
        "import scipy.linalg.cython_blas\n"  # the BLAS Numba's np.dot calls
        "print(json.dumps([limited, inside, sorted(blas())]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    limited, inside, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert limited
    assert sorted(inside) == loaded  # every BLAS, SciPy's included, was limited ...
    assert set(inside.values()) == {1}  # ... to one thread
