"""State-dependent (multiplicative) diffusion: orders, stationary law, heat, twin, errors.

``NonlinearLangevin(drift, diffusion=g, dim=d)`` with ``g(x, t, out)`` writing the diagonal of
``D(x)``; ``theory/simulation.md`` [SIM-multiplicative]. The drift and diffusion functions are
shared between tests through ``params`` so that the kernel compiles only a few times.
"""

import numba
import numpy as np
import pytest
from naive_multiplicative import multiplicative_heat, multiplicative_path
from naive_sim import current_from_path, work_from_path
from scipy import integrate

from stochthermo.errors import SimulationError, ValidationError
from stochthermo.models.nonlinear import NonlinearLangevin, StateDependentLangevin
from stochthermo.simulation import LinearCurrent, simulate
from stochthermo.simulation._plans import MULTIPLICATIVE_METHODS

# ----------------------------------------------------------------------------- models


@numba.njit
def poly_drift(x, t, p, out):
    for i in range(x.shape[0]):
        out[i] = p[0] * x[i] + p[1] * x[i] ** 3 + p[4] + p[5] * np.sin(x[i])


@numba.njit
def poly_diff(x, t, p, out):
    for i in range(x.shape[0]):
        out[i] = p[2] + p[3] * x[i] ** 2 + p[6] * np.cos(x[i])


@numba.njit
def poly_deriv(x, t, p, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * p[3] * x[i] - p[6] * np.sin(x[i])


def poly(params, **kw):
    """``dx = (p0 x + p1 x^3 + p4 + p5 sin x) dt + sqrt(2 (p2 + p3 x^2 + p6 cos x)) dW``,
    coordinate by coordinate (missing parameters are 0)."""
    params = list(params) + [0.0] * (7 - len(params))
    return NonlinearLangevin(poly_drift, diffusion=poly_diff, dim=kw.pop("dim", 1),
                             params=params, **kw)


# a 2-d model with time dependence, D_11 depending on both coordinates, work and a current
@numba.njit
def drift2(x, t, out):
    out[0] = -x[0] + 0.5 * np.sin(t) * x[1]
    out[1] = -x[1] ** 3 + 0.2 * x[0]


@numba.njit
def diff2(x, t, out):
    out[0] = 0.5 + 0.3 * x[0] ** 2 + 0.1 * np.cos(t)
    out[1] = 0.4 * (1.0 + 0.5 * np.sin(x[1])) + 0.05 * x[0] ** 2


@numba.njit
def deriv2(x, t, out):
    out[0] = 0.6 * x[0]
    out[1] = 0.2 * np.cos(x[1])


@numba.njit
def pot2(x, t):
    return 0.5 * x[0] ** 2 + 0.25 * x[1] ** 4 - 0.5 * np.sin(t) * x[0] * x[1]


def drift2_np(x, t):
    return np.stack([-x[:, 0] + 0.5 * np.sin(t) * x[:, 1], -x[:, 1] ** 3 + 0.2 * x[:, 0]], 1)


def diff2_np(x, t):
    return np.stack([0.5 + 0.3 * x[:, 0] ** 2 + 0.1 * np.cos(t),
                     0.4 * (1 + 0.5 * np.sin(x[:, 1])) + 0.05 * x[:, 0] ** 2], 1)


def deriv2_np(x, t):
    return np.stack([0.6 * x[:, 0], 0.2 * np.cos(x[:, 1])], 1)


def pot2_np(x, t):
    return 0.5 * x[:, 0] ** 2 + 0.25 * x[:, 1] ** 4 - 0.5 * np.sin(t) * x[:, 0] * x[:, 1]


ROT = LinearCurrent("rot", [[0.0, -1.0], [1.0, 0.0]], [0.2, -0.1])


def model2(**kw):
    return NonlinearLangevin(drift2, diffusion=diff2, dim=2, potential=pot2,
                             time_dependent=True, temperatures=[1.5, 0.7], **kw)


# ----------------------------------------------------------------------------- orders


def _coarsen(z, k):
    n_traj, n, m = z.shape
    return z.reshape(n_traj, n // k, k, m).sum(axis=2) / np.sqrt(k)


def _slope(h, e):
    return np.polyfit(np.log(h), np.log(e), 1)[0]


@pytest.mark.parametrize("method, derivative", [("euler", False), ("milstein", False),
                                                ("milstein", True)])
def test_strong_order_geometric_brownian_motion(method, derivative):
    """GBM ``dx = mu x dt + sigma x dW`` against its exact solution on the same path."""
    mu, sig, T, n_fine, K = 0.5, 0.8, 1.0, 512, 2000
    kw = dict(diffusion_derivative=poly_deriv) if derivative else {}
    gbm = poly([mu, 0.0, 0.0, 0.5 * sig**2], **kw)
    z = np.random.default_rng(1).standard_normal((K, n_fine, 1))
    exact = np.exp((mu - 0.5 * sig**2) * T + sig * np.sqrt(T / n_fine) * z.sum(axis=(1, 2)))
    hs, err = [], []
    for k in (4, 8, 16, 32, 64):
        zc = _coarsen(z, k)
        n = zc.shape[1]
        ens = simulate(gbm, n_traj=K, n_steps=n, dt=T / n, x0=[1.0], method=method, _noise=zc,
                       save_every=n)
        hs.append(T / n)
        err.append(np.mean(np.abs(ens.x[:, -1, 0] - exact)))
    assert abs(_slope(hs, err) - MULTIPLICATIVE_METHODS[method][0]) < 0.15


# ----------------------------------------------------------------------------- stationary law


def _stationary_moment(func, a):
    """``<func(x)>`` under ``p ~ (1 + x^2)^(-a/2 - 1)``, the zero-flux solution of
    ``dx = -a x dt + sqrt(2 (1 + x^2)) dW`` (Ito): ``D p ~ exp(int F / D)``."""
    dens = lambda x: (1 + x * x) ** (-a / 2 - 1)  # noqa: E731
    num = integrate.quad(lambda x: func(x) * dens(x), -np.inf, np.inf)[0]
    return num / integrate.quad(dens, -np.inf, np.inf)[0]


@pytest.mark.parametrize("method", ["euler", "milstein"])
@pytest.mark.parametrize("convention", ["ito", "stratonovich"])
def test_stationary_law_multiplicative_noise(method, convention):
    a = 6.0
    # the same process written in either convention (Stratonovich drift F - D'/2 = -(a+1) x)
    p = [-a, 0, 1, 1] if convention == "ito" else [-a - 1, 0, 1, 1]
    model = poly(p, convention=convention)
    K = 20_000
    ens = simulate(model, n_traj=K, n_steps=1000, dt=0.002, x0=[0.0], method=method, seed=3,
                   save_every=1000)
    x = ens.x[:, -1, 0]
    for func in (np.square, lambda v: v**4, lambda v: (np.abs(v) < 0.5).astype(float)):
        vals = func(x)
        se = vals.std(ddof=1) / np.sqrt(K)
        exact = _stationary_moment(lambda v, f=func: float(f(np.array(v))), a)
        assert abs(vals.mean() - exact) < 3 * se, (vals.mean(), exact, se)
    # control: the stationary law of additive noise with D = 1 differs by many errors
    assert abs(np.mean(x**2) - 1.0 / a) > 10 * np.std(x**2) / np.sqrt(K)


# ----------------------------------------------------------------------------- heat


@pytest.mark.parametrize("derivative", [False, True])
def test_equilibrium_heat_null_and_first_law(derivative):
    """``U = x^2 / 2``, ``D = (1 + x^2) / 2``, Ito drift ``F = -D U' + D'``: Gibbs law at T = 1.

    Per trajectory the heat into the bath is ``-Delta U`` (no work); the mean medium entropy
    over a stationary ensemble is 0.
    """
    kw = dict(diffusion_derivative=poly_deriv) if derivative else {}
    model = poly([0.5, -0.5, 0.5, 0.5], **kw)
    K = 4000
    x0 = np.random.default_rng(5).standard_normal((K, 1))
    ens = simulate(model, n_traj=K, n_steps=1000, dt=0.002, x0=x0, method="milstein", seed=4,
                   save_every=100, observables=("heat", "medium_entropy"))
    Q = ens.observables["heat"][:, :, 0]
    S = ens.observables["medium_entropy"]
    dU = 0.5 * (ens.x[:, :, 0] ** 2 - ens.x[:, :1, 0] ** 2)
    # the force (F - D') / D = -x is linear, so the trapezoid is exact Stratonovich calculus
    np.testing.assert_allclose(Q, -dU, atol=1e-12 if derivative else 1e-7)
    np.testing.assert_array_equal(S, Q)  # temperature 1
    se = S[:, -1].std(ddof=1) / np.sqrt(K)
    assert abs(S[:, -1].mean()) < 3 * se
    # control: without the spurious drift dD/dx the force F / D misses the first law by O(1)
    x = ens.x[:, :, 0]
    naive = np.cumsum(0.5 * ((0.5 * x[:, :-1] - 0.5 * x[:, :-1] ** 3) / (0.5 + 0.5 * x[:, :-1] ** 2)
                             + (0.5 * x[:, 1:] - 0.5 * x[:, 1:] ** 3) / (0.5 + 0.5 * x[:, 1:] ** 2))
                      * np.diff(x, axis=1), axis=1)
    assert np.sqrt(np.mean((naive[:, -1] + dU[:, -1]) ** 2)) > 0.1


def _ring_steady_state(F0, Fs, D0, Dc, n=200_001):
    """Steady state of ``dx = (F0 + Fs sin x) dt + sqrt(2 (D0 + Dc cos x)) dW`` (Ito) on the
    circle: ``J = F p - (D p)'`` constant, so ``y = D p`` solves ``y' = (F / D) y - J``.

    Returns the grid, the density and the entropy production rate computed two ways:
    ``J^2 int 1 / (D p)`` and ``J int (F - D') / D`` (the medium entropy per unit time).
    """
    x = np.linspace(0.0, 2 * np.pi, n)
    F, D, dD = F0 + Fs * np.sin(x), D0 + Dc * np.cos(x), -Dc * np.sin(x)
    psi = integrate.cumulative_trapezoid(F / D, x, initial=0.0)
    inner = integrate.cumulative_trapezoid(np.exp(-psi), x, initial=0.0)
    # y = exp(psi) (y0 - J inner) with y(2 pi) = y(0); take J = 1, then normalise
    y0 = np.exp(psi[-1]) * inner[-1] / (np.exp(psi[-1]) - 1.0)
    y = np.exp(psi) * (y0 - inner)
    norm = integrate.trapezoid(y / D, x)
    J, p = 1.0 / norm, y / D / norm
    sigma_v = J**2 * integrate.trapezoid(1.0 / (D * p), x)
    sigma_m = J * integrate.trapezoid((F - dD) / D, x)
    return x, p, sigma_v, sigma_m


@pytest.mark.parametrize("convention", ["ito", "stratonovich"])
def test_ring_medium_entropy_rate_matches_exact_rate(convention):
    """A driven ring with state-dependent D: mean medium entropy per unit time = sigma."""
    F0, Fs, D0, Dc = 1.0, 0.5, 0.5, 0.3
    grid, p, sigma, sigma_m = _ring_steady_state(F0, Fs, D0, Dc)
    assert abs(sigma - sigma_m) < 1e-6 * sigma  # the two exact forms agree
    # Stratonovich form of the same process: f = F - D'/2 = F + (Dc / 2) sin x
    fs = Fs if convention == "ito" else Fs + 0.5 * Dc
    model = poly([0, 0, D0, 0, F0, fs, Dc], convention=convention)
    K, T, h = 4000, 5.0, 0.002
    cdf = integrate.cumulative_trapezoid(p, grid, initial=0.0)
    x0 = np.interp(np.random.default_rng(12).random(K) * cdf[-1], cdf, grid)[:, None]
    ens = simulate(model, n_traj=K, n_steps=int(T / h), dt=h, x0=x0, method="milstein",
                   seed=13, save_every=int(T / h), observables=("medium_entropy",))
    rate = ens.observables["medium_entropy"][:, -1] / T
    se = rate.std(ddof=1) / np.sqrt(K)
    assert abs(rate.mean() - sigma) < 3 * se, (rate.mean(), sigma, se)
    # control: weighting the force by the mean diffusion instead of D(x) misses by many errors
    x = ens.x[:, :, 0]
    assert abs(sigma - (F0 * (x[:, -1] - x[:, 0]) / D0 / T).mean()) > 10 * se


# ----------------------------------------------------------------------------- twin


@pytest.mark.parametrize("derivative", [False, True])
@pytest.mark.parametrize("method", ["euler", "milstein"])
@pytest.mark.parametrize("convention", ["ito", "stratonovich"])
def test_matches_numpy_twin(method, derivative, convention):
    kw = dict(diffusion_derivative=deriv2) if derivative else {}
    model = model2(convention=convention, **kw)
    h, n, K = 0.02, 30, 5
    z = np.random.default_rng(7).standard_normal((K, n, 2))
    x0 = 0.5 * np.random.default_rng(8).standard_normal((K, 2))
    ens = simulate(model, n_traj=K, n_steps=n, dt=h, method=method, x0=x0, _noise=z,
                   observables=("heat", "work", ROT), save_every=2)
    # the twin uses exact derivatives; the kernel's central differences agree to ~1e-9
    tol = dict(rtol=1e-10, atol=1e-12) if derivative else dict(rtol=1e-7, atol=1e-8)
    path = multiplicative_path(drift2_np, diff2_np, deriv2_np if derivative else None, x0, h,
                               z, method, convention=convention, ddiff_for_drift=deriv2_np)
    np.testing.assert_allclose(ens.x, path[:, ::2], **tol)
    heat = multiplicative_heat(path, drift2_np, diff2_np, deriv2_np, [1.5, 0.7], [0, 1], 2, h,
                               convention=convention)
    np.testing.assert_allclose(ens.observables["heat"], heat[:, ::2], **tol)
    np.testing.assert_allclose(ens.observables["work"], work_from_path(path, pot2_np, h)[:, ::2],
                               **tol)
    W, b = ROT.arrays(2)
    np.testing.assert_allclose(ens.observables["rot"], current_from_path(path, W, b)[:, ::2],
                               **tol)
    assert ens.meta["kernel"] == "mult" and ens.meta["model_type"] == "StateDependentLangevin"


def test_conventions_agree_on_the_same_ito_process():
    """An Ito model and its Stratonovich form (``f = F - D'/2``) give the same paths."""
    z = np.random.default_rng(9).standard_normal((6, 200, 1))
    args = dict(n_traj=6, n_steps=200, dt=0.005, x0=[0.3], _noise=z, method="milstein",
                observables=("heat",))
    ito = simulate(poly([0.5, -0.5, 0.5, 0.5]), **args)
    strat = simulate(poly([0.0, -0.5, 0.5, 0.5], convention="stratonovich"), **args)
    np.testing.assert_allclose(strat.x, ito.x, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(strat.observables["heat"], ito.observables["heat"], atol=1e-7)


# ----------------------------------------------------------------------------- determinism


def test_threads_chunks_resume_identical():
    model = model2()
    args = dict(n_traj=23, n_steps=80, dt=0.01, seed=11, save_every=4, method="milstein",
                observables=("heat", "medium_entropy", "work", ROT), x0=[0.2, -0.1])
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(model, **args)
    finally:
        numba.set_num_threads(old)
    many = simulate(model, **args)
    chunked = simulate(model, **args, chunk_size=5)
    for other in (many, chunked):
        np.testing.assert_array_equal(one.x, other.x)
        for k in one.observables:
            np.testing.assert_array_equal(one.observables[k], other.observables[k])
    first = simulate(model, **{**args, "n_steps": 40})
    rest = simulate(model, n_steps=40, save_every=4, resume=first)
    np.testing.assert_array_equal(rest.x, one.x[:, 10:])
    for k in one.observables:
        np.testing.assert_array_equal(rest.observables[k], one.observables[k][:, 10:])
    other_seed = simulate(model, **{**args, "seed": 12})
    assert not np.array_equal(other_seed.x, one.x)


# ----------------------------------------------------------------------------- bad input


def test_negative_diffusion_names_state_and_step():
    with pytest.raises(SimulationError, match=r"diffusion returned D\[0\] = -1\.0 at x = "
                                              r"\[0\.\], t = 0 \(step 0, trajectory 0\)"):
        simulate(poly([0.0, 0.0, -1.0, 0.0]), n_traj=3, n_steps=5, dt=0.1, seed=1)
    # D = 1 - x^2 turns negative once a trajectory leaves [-1, 1]
    with pytest.raises(SimulationError, match=r"diffusion returned D\[0\] = -") as info:
        simulate(poly([0.0, 0.0, 1.0, -1.0]), n_traj=4, n_steps=400, dt=0.1, seed=2)
    err = info.value
    assert err.step > 0 and 0 <= err.trajectory < 4
    assert f"step {err.step}, trajectory {err.trajectory}" in str(err)
    x_bad = err.partial["bad_state"][err.trajectory, 0]
    assert abs(x_bad) > 1 and f"{x_bad:.6g}"[:5] in str(err)
    # heat divides by D: zero diffusion is refused there, allowed without heat
    with pytest.raises(SimulationError, match=r"> 0 \(heat and medium entropy divide by D\)"):
        simulate(poly([-1.0, 0.0, 0.0, 1.0]), n_traj=2, n_steps=5, dt=0.1,
                 observables=("heat",))
    ens = simulate(poly([-1.0, 0.0, 0.0, 1.0]), n_traj=2, n_steps=5, dt=0.1)
    assert np.all(ens.x == 0.0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(diffusion=3, dim=1), "diffusion=3 is not callable"),
        (dict(diffusion=poly_diff), "dim= must be given"),
        (dict(diffusion=poly_diff, dim=1, convention="ito-ish"),
         "unknown convention='ito-ish'; valid choices are 'ito', 'stratonovich'"),
        (dict(D=1.0, diffusion=poly_diff, dim=1), "D=1.0 and diffusion= were both given"),
        (dict(diffusion=lambda x, out: None, dim=1), "diffusion must take .* takes 2"),
        (dict(diffusion_derivative=poly_deriv, dim=1), "without diffusion="),
        (dict(diffusion=poly_diff, dim=1, diffusion_derivative="d"),
         "diffusion_derivative='d' is not callable"),
        (dict(), "give D= .* or diffusion="),
    ],
)
def test_bad_model_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NonlinearLangevin(poly_drift, params=[0, 0, 1, 0], **kwargs)


def test_methods_per_family():
    m = poly([-1.0, 0.0, 1.0, 0.0])
    assert isinstance(m, StateDependentLangevin) and isinstance(m, NonlinearLangevin)
    for bad in ("heun", "exact"):
        with pytest.raises(ValidationError, match="valid choices are 'euler', 'milstein'"):
            simulate(m, n_traj=2, n_steps=2, dt=0.1, method=bad)
    additive = NonlinearLangevin(drift2, 0.5, dim=2)
    assert type(additive) is NonlinearLangevin and repr(additive).startswith(
        "NonlinearLangevin(d=2, drift=drift2, D=")
    with pytest.raises(ValidationError, match="valid choices are 'euler', 'heun', 'exact'"):
        simulate(additive, n_traj=2, n_steps=2, dt=0.1, method="milstein")
    with pytest.raises(ValidationError, match="needs diffusion="):
        StateDependentLangevin(poly_drift, dim=1)
    assert "diffusion=poly_diff" in repr(m)
    assert "convention='stratonovich'" in repr(poly([0, 0, 1, 0], convention="stratonovich"))
    np.testing.assert_allclose(m.diffusion_at([[0.0], [2.0]]), [[1.0], [1.0]])
