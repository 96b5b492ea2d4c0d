"""Mutual information estimators against closed forms, null controls, twins and bad input."""

import numpy as np
import pytest
import scipy.linalg as sla
from naive_est import correlated_gaussian, count_within_naive, discrete_mi_naive, ksg_naive

from stochthermo import exact
from stochthermo.errors import EstimationError, InsufficientDataError, ShapeError, ValidationError
from stochthermo.estimate import (
    lagged_mutual_information,
    mutual_information,
    transfer_entropy,
)
from stochthermo.estimators._information import _ksg
from stochthermo.kernels._knn import count_strict_1d
from stochthermo.models.linear import LinearLangevin

# a discrete joint distribution (3 x 4) and its exact information
P_XY = np.array([[0.10, 0.05, 0.02, 0.03], [0.02, 0.20, 0.08, 0.05], [0.05, 0.05, 0.05, 0.30]])


def discrete_truth(p):
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    return float((p * np.log(p / (px * py))).sum())


def draw_discrete(p, n, seed):
    rng = np.random.default_rng(seed)
    cells = rng.choice(p.size, size=n, p=p.ravel())
    return np.unravel_index(cells, p.shape)


# ----------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("dim", [1, 2, 3, 5, 7, 10])
def test_gaussian_correlated_d1_to_d10(dim):
    x, y, truth = correlated_gaussian(dim, 0.35, 4000, seed=dim)
    est = mutual_information(x, y, method="gaussian")
    assert abs(est.zscore(truth)) < 3
    assert est.bias > 0  # the plug-in overestimates; the correction removed it


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_knn_correlated(dim):
    x, y, truth = correlated_gaussian(dim, 0.35, 4000, seed=10 + dim)
    est = mutual_information(x, y, method="knn", k=4)
    assert abs(est.zscore(truth)) < 3


def test_knn_bias_grows_with_dimension():
    # documented behaviour: at fixed information the KSG estimate falls below the truth as the
    # dimension grows (here d = 10, i.e. a 20-dimensional joint space)
    x, y, truth = correlated_gaussian(10, 0.35, 4000, seed=3)
    est = mutual_information(x, y, method="knn")
    assert est.value < truth - 3 * est.stderr


def test_discrete_joint_distribution():
    truth = discrete_truth(P_XY)
    a, b = draw_discrete(P_XY, 5000, seed=1)
    est = mutual_information(a, b, method="discrete")
    assert abs(est.zscore(truth)) < 3
    assert est.meta["plugin"] == pytest.approx(discrete_mi_naive(a, b), rel=1e-12)
    # Miller-Madow: bias = -((mx - 1) + (my - 1) - (mxy - 1)) / (2n)
    assert est.bias == pytest.approx(-(2 + 3 - 11) / (2 * 5000))
    # string labels and 2-d rows are symbols too
    s = mutual_information(np.array(list("abc"))[a], b, method="discrete")
    assert s.value == pytest.approx(est.value)


def test_gaussian_conditional_chain():
    # x -> z -> y Markov chain plus a direct x -> y link: closed-form conditional information
    rng = np.random.default_rng(4)
    n = 6000
    x = rng.standard_normal(n)
    z = 0.8 * x + 0.6 * rng.standard_normal(n)
    y = 0.5 * z + 0.3 * x + 0.7 * rng.standard_normal(n)
    B = np.array([[1, 0, 0], [0.8, 0.6, 0], [0.3 + 0.4, 0.5 * 0.6, 0.7]])  # rows: x, z, y
    C = B @ B.T
    truth = exact.mutual_information(cov=C[np.ix_([0, 2, 1], [0, 2, 1])], blocks=[[0], [1], [2]])
    # I(X;Y|Z) = I(X;Y,Z) - I(X;Z)
    ixyz = exact.mutual_information(cov=C, blocks=[[0], [1, 2]])
    ixz = exact.mutual_information(cov=C[:2, :2], blocks=[[0], [1]])
    cmi = ixyz - ixz
    assert truth > cmi  # sanity of the construction (multi-information is larger)
    for method, k in (("gaussian", 3), ("knn", 5)):
        est = mutual_information(x, y, z=z, method=method, k=k)
        assert abs(est.zscore(cmi)) < 3, method
    # conditional independence x _|_ y | z
    y0 = 0.5 * z + 0.7 * rng.standard_normal(n)
    for method in ("gaussian", "knn"):
        est = mutual_information(x, y0, z=z, method=method)
        assert abs(est.value) < 3 * est.stderr, method


def test_discrete_conditional():
    rng = np.random.default_rng(8)
    n = 8000
    z = rng.integers(0, 3, n)
    x = (z + rng.integers(0, 2, n)) % 3
    y = (z + (rng.random(n) < 0.2)) % 3
    est = mutual_information(x, y, z=z, method="discrete")
    assert abs(est.value) < 3 * est.stderr  # x _|_ y | z
    y2 = np.where(rng.random(n) < 0.7, x, y)
    est2 = mutual_information(x, y2, z=z, method="discrete")
    assert est2.value > 10 * est2.stderr


# ----------------------------------------------------------------------------- null controls
@pytest.mark.parametrize("method", ["gaussian", "knn"])
@pytest.mark.parametrize("dim", [1, 4])
def test_independence_continuous(method, dim):
    rng = np.random.default_rng(100 + dim)
    x, y = rng.standard_normal((3000, dim)), rng.standard_normal((3000, dim))
    est = mutual_information(x, y, method=method)
    assert abs(est.value) < 3 * est.stderr
    assert est.stderr < 0.02


def test_independence_discrete():
    p = np.outer(P_XY.sum(1), P_XY.sum(0))
    a, b = draw_discrete(p, 4000, seed=2)
    est = mutual_information(a, b, method="discrete")
    assert abs(est.value) < 3 * est.stderr
    assert est.stderr < 0.01


# ----------------------------------------------------------------------------- twins
def test_ksg_matches_naive_twin():
    rng = np.random.default_rng(0)
    for dx, dy, k in ((1, 1, 3), (2, 3, 2), (1, 4, 5)):
        x, y = rng.standard_normal((300, dx)), rng.standard_normal((300, dy))
        y[:, 0] += x[:, 0]
        assert _ksg(x, y, None, k, 1) == pytest.approx(ksg_naive(x, y, k), abs=1e-12)


def test_count_kernel_matches_naive_twin():
    rng = np.random.default_rng(1)
    v = np.round(rng.standard_normal(500), 1)  # many ties and exact boundary distances
    eps = np.abs(np.round(rng.standard_normal(500), 1)) + 0.05
    eps[::7] = 0.1
    out = np.empty(500, dtype=np.int64)
    count_strict_1d(np.sort(v), v, eps, out)
    np.testing.assert_array_equal(out, count_within_naive(np.sort(v), v, eps))


def test_parallel_count_kernels_match_serial_and_naive():
    from stochthermo.kernels._knn import (
        build_kdtree,
        count_strict_1d_parallel,
        count_within_maxnorm,
        count_within_maxnorm_parallel,
    )

    rng = np.random.default_rng(4)
    n = 3000  # several parallel chunks
    v = np.round(rng.standard_normal(n), 1)
    eps = np.abs(np.round(rng.standard_normal(n), 1)) + 0.05
    out = np.empty(n, dtype=np.int64)
    count_strict_1d_parallel(np.sort(v), v, eps, out)
    np.testing.assert_array_equal(out, count_within_naive(np.sort(v), v, eps))
    pts = np.round(rng.standard_normal((n, 2)), 1)
    tree = build_kdtree(pts, 8)
    ordered = np.ascontiguousarray(pts[tree[0]])
    a, b = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    count_within_maxnorm(ordered, *tree[:7], pts, eps, a)
    count_within_maxnorm_parallel(ordered, *tree[:7], pts, eps, b)
    naive = (np.abs(pts[None, :, :] - pts[:, None, :]).max(axis=2) < eps[:, None]).sum(1)
    np.testing.assert_array_equal(a, naive)
    np.testing.assert_array_equal(b, naive)


def test_knn_threads_give_identical_results():
    x, y, _ = correlated_gaussian(2, 0.5, 3000, seed=5)
    one = mutual_information(x, y, z=x[:, :1] + y[:, 1:], k=4, workers=1)
    two = mutual_information(x, y, z=x[:, :1] + y[:, 1:], k=4, workers=2)
    assert (one.value, one.stderr) == (two.value, two.stderr)


def test_knn_error_bar_from_terms():
    # the error bar is the naive standard error of the per-sample terms times a correction
    # measured on the blocks; the value does not depend on the error-bar options
    x, y, _ = correlated_gaussian(1, 0.6, 4000, seed=6)
    est = mutual_information(x, y)
    bare = mutual_information(x, y, n_blocks=0)
    assert bare.value == est.value and np.isnan(bare.stderr)
    m = est.meta
    assert m["n_blocks"] == 10 and m["stderr_dof"] == 9
    assert m["block_values"].shape == (1, 10)
    # a single-draw block spread has 9 degrees of freedom: the correction lies well inside
    # (0.2, 5) for these seeds, and the error bar is widened by the t factor of 9 dof
    assert 0.2 < m["correlation_factor"] < 5
    t9 = 2.2622 / 1.95996
    expected = m["naive_stderr"] * np.sqrt(m["correlation_factor"]) * t9
    assert est.stderr == pytest.approx(expected, rel=1e-4)
    more = mutual_information(x, y, n_repeats=3)
    assert more.meta["stderr_dof"] == 27 and more.value == est.value


def test_knn_blocks_for_serially_correlated_samples():
    # an AR(1) pair sampled along one long series: neighbouring samples are correlated; the
    # first partition is contiguous, so its blocks see the correlation and the error bar grows
    # well beyond the same samples in random order
    rng = np.random.default_rng(12)
    n, phi = 6000, 0.95
    e = rng.standard_normal((n, 2))
    s = np.empty((n, 2))
    s[0] = e[0]
    for t in range(1, n):
        s[t] = phi * s[t - 1] + np.sqrt(1 - phi**2) * e[t]
    x, y = s[:, 0], 0.6 * s[:, 0] + 0.8 * s[:, 1]
    serial = mutual_information(x, y)
    p = rng.permutation(n)
    shuffled = mutual_information(x[p], y[p])
    assert serial.stderr > 2 * shuffled.stderr
    assert serial.stderr > 2 * serial.meta["naive_stderr"]


def test_knn_ties_are_broken_by_jitter():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, 2000).astype(float)
    y = x + rng.integers(0, 3, 2000)
    est = mutual_information(x, y, method="knn", seed=1)
    assert np.isfinite(est.value) and np.isfinite(est.stderr)
    again = mutual_information(x, y, method="knn", seed=1)
    assert again.value == est.value  # the jitter is seeded


# ----------------------------------------------------------------------------- coverage
def _coverage(method, n_rep, n, seed0, **kw):
    hits = 0
    for r in range(n_rep):
        if method == "discrete":
            a, b = draw_discrete(P_XY, n, seed0 + r)
            truth = discrete_truth(P_XY)
        else:
            a, b, truth = correlated_gaussian(2, 0.4, n, seed0 + r)
        lo, hi = mutual_information(a, b, method=method, **kw).interval(0.95)
        hits += lo <= truth <= hi
    return hits / n_rep


@pytest.mark.parametrize("method", ["gaussian", "discrete"])
def test_coverage_light(method):
    assert 0.90 <= _coverage(method, 300, 1000, 2000) <= 0.99


def test_coverage_knn_light():
    # one KSG pass plus one estimate per block: 100 seeds in a few seconds
    assert 0.90 <= _coverage("knn", 100, 1000, 3000) <= 0.99


@pytest.mark.slow
def test_coverage_knn_full():
    assert 0.90 <= _coverage("knn", 300, 2000, 7000) <= 0.99


# ----------------------------------------------------------------------------- time series
def test_transfer_entropy_ou():
    # x autonomous, x drives y: TE(x -> y) > 0 has a closed form, TE(y -> x) = 0
    tau = 0.1
    m = LinearLangevin([[1.0, 0.0], [-1.5, 1.0]], np.eye(2))
    from naive_est import ou_ensemble

    ens = ou_ensemble(m, n_traj=40, n_time=400, tau=tau, seed=9)
    C = exact.stationary_covariance(m)
    F = sla.expm(-m.A * tau)
    # joint covariance of (y_{t+1}, x_t, y_t)
    cross = F @ C  # Cov(z_{t+1}, z_t)
    J = np.array(
        [
            [C[1, 1], cross[1, 0], cross[1, 1]],
            [cross[1, 0], C[0, 0], C[0, 1]],
            [cross[1, 1], C[1, 0], C[1, 1]],
        ]
    )
    # I(Y_{t+1}; X_t | Y_t) from the log-determinants of the Gaussian blocks
    ld = lambda idx: np.linalg.slogdet(J[np.ix_(idx, idx)])[1]  # noqa: E731
    te_true = 0.5 * (ld([0, 2]) + ld([1, 2]) - ld([0, 1, 2]) - ld([2]))
    x, y = ens[:, :, :1], ens[:, :, 1:]
    te = transfer_entropy(x, y, method="gaussian")
    assert abs(te.zscore(te_true)) < 3
    null = transfer_entropy(y, x, method="gaussian")
    assert abs(null.value) < 3 * null.stderr
    lag = lagged_mutual_information(x, y, lag=0)
    assert abs(lag.zscore(exact.mutual_information(m, blocks=[1, 1]))) < 3


# ----------------------------------------------------------------------------- bad input
def test_bad_input_messages():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(50), rng.standard_normal(50)
    with pytest.raises(InsufficientDataError, match="k=3 nearest neighbours need more"):
        mutual_information(x[:3], y[:3], method="knn")
    with pytest.raises(InsufficientDataError, match="n_blocks=10 blocks"):
        mutual_information(x[:20], y[:20], method="knn")
    with pytest.raises(InsufficientDataError, match="n_blocks=3 blocks"):
        mutual_information(x[:12], y[:12], method="knn", n_blocks=3)
    bad = x.copy()
    bad[4] = np.nan
    with pytest.raises(ValidationError, match="x contains a non-finite value"):
        mutual_information(bad, y)
    with pytest.raises(ShapeError, match="mismatched lengths: x has 50, y has 49"):
        mutual_information(x, y[:49])
    with pytest.raises(EstimationError, match="constant column"):
        mutual_information(np.column_stack([x, np.ones(50)]), y, method="knn")
    with pytest.raises(EstimationError, match="constant column"):
        mutual_information(x, np.full(50, 2.0), method="gaussian")
    for bad_workers in (0, -2, 1.5, True, "all"):
        with pytest.raises(ValidationError, match="workers=.* must be a positive int"):
            mutual_information(x, y, method="knn", workers=bad_workers)
    with pytest.raises(ValidationError, match="unknown method='ksg'"):
        mutual_information(x, y, method="ksg")
    with pytest.raises(InsufficientDataError, match="needs at least 5 samples"):
        mutual_information(x[:4], y[:4], method="gaussian")


def test_maxnorm_tree_count_matches_naive_twin():
    from stochthermo.kernels._knn import build_kdtree, count_within_maxnorm

    rng = np.random.default_rng(2)
    pts = np.round(rng.standard_normal((700, 3)), 1)  # ties and boundary distances
    pts[:50] = pts[0]  # a block of identical points
    eps = np.abs(np.round(rng.standard_normal(700), 1)) + 0.1
    for leaf in (1, 4, 16):
        tree = build_kdtree(pts, leaf)
        out = np.empty(700, dtype=np.int64)
        count_within_maxnorm(pts[tree[0]], *tree[:7], pts, eps, out)
        naive = (np.abs(pts[None, :, :] - pts[:, None, :]).max(axis=2) < eps[:, None]).sum(1)
        np.testing.assert_array_equal(out, naive)


def test_knn_warns_of_its_bias_in_high_dimension():
    rng = np.random.default_rng(8)
    low = mutual_information(rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1)), seed=1)
    assert low.warnings == ()
    x = rng.normal(size=(2000, 3))
    y = x + rng.normal(size=(2000, 3))
    high = mutual_information(x, y, seed=1)
    assert any("KSG bias" in w for w in high.warnings)
    few = mutual_information(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)), seed=1)
    assert any("KSG bias" in w for w in few.warnings)
