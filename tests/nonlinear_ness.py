"""Nonlinear two-dimensional steady states with a known entropy-production rate.

Both are Gibbs laws ``p ~ exp(-U)`` (D = 1) driven out of equilibrium by a divergence-free
field ``Omega R grad U`` orthogonal to ``grad U`` (``R``: rotation by 90 degrees), which leaves
``p`` unchanged; then ``v = Omega R grad U`` and ``sigma = <Omega^2 |grad U|^2>``
(``theory/estimators.md`` [EST-ep-ness]).
"""

import math

import numba
import numpy as np

from stochthermo import simulate
from stochthermo.models.nonlinear import NonlinearLangevin

W0, W2 = 0.3, 0.3  # quartic ring: rotation speed W0 + W2 r^2


def quartic_ring_rate(w0=W0, w2=W2, D=1.0):
    """Exact rate of U = r^4/4 with rotation (w0 + w2 r^2)(-y, x): closed form.

    <r^m> = 4^(m/4) Gamma((m + 2)/4) / Gamma(1/2) under exp(-r^4/4) in 2-d, and
    sigma = <(w0 + w2 r^2)^2 r^2> / D.
    """
    def mom(m):
        return 4.0 ** (m / 4) * math.gamma((m + 2) / 4) / math.gamma(0.5)

    return (w0**2 * mom(2) + 2 * w0 * w2 * mom(4) + w2**2 * mom(6)) / D


@numba.njit
def _ring(x, t, p, out):
    r2 = x[0] * x[0] + x[1] * x[1]
    w = p[0] + p[1] * r2
    out[0] = -r2 * x[0] - w * x[1]
    out[1] = -r2 * x[1] + w * x[0]


def quartic_ring(w0=W0, w2=W2):
    return NonlinearLangevin(_ring, 1.0, dim=2, params=np.array([w0, w2]))


# double well in x, harmonic in y: U = (x^2 - 1)^2 / 4 * a + y^2 / 2, constant rotation w
DW_A, DW_W = 2.0, 0.8


@numba.njit
def _well(x, t, p, out):
    ux = p[0] * (x[0] ** 3 - x[0])
    uy = x[1]
    out[0] = -ux - p[1] * uy
    out[1] = -uy + p[1] * ux


def double_well(a=DW_A, w=DW_W):
    return NonlinearLangevin(_well, 1.0, dim=2, params=np.array([a, w]))


def double_well_rate(a=DW_A, w=DW_W):
    """sigma = w^2 <|grad U|^2> = w^2 <Laplacian U> = w^2 (a (3 <x^2> - 1) + 1), by quadrature."""
    from scipy.integrate import quad

    def dens(x):
        return math.exp(-a * (x * x - 1) ** 2 / 4)

    z = quad(dens, -np.inf, np.inf)[0]
    x2 = quad(lambda x: x * x * dens(x), -np.inf, np.inf)[0] / z
    return w**2 * (a * (3 * x2 - 1) + 1)


def sample(model, *, n_traj, n_time, tau, seed, substeps=4, burn=400, x0=None):
    """Saved every ``tau`` (Heun, ``substeps`` per interval), after ``burn`` intervals."""
    dt = tau / substeps
    ens = simulate(model, n_traj=n_traj, n_steps=(n_time + burn - 1) * substeps, dt=dt,
                   method="heun", save_every=substeps, seed=seed,
                   x0=np.zeros(2) if x0 is None else x0)
    return np.ascontiguousarray(ens.x[:, burn:])


# a tilted ring: dx = (f + a sin x) dt + sqrt(2) dW on the circle of period 2 pi
RING_F, RING_A = 1.0, 1.5


@numba.njit
def _tilted(x, t, p, out):
    out[0] = p[0] + p[1] * math.sin(x[0])


def tilted_ring(f=RING_F, a=RING_A):
    return NonlinearLangevin(_tilted, 1.0, dim=1, params=np.array([f, a]))


def tilted_ring_rate(f=RING_F, a=RING_A, n=4000):
    """sigma = J^2 int dx / p(x) with the periodic solution p ~ e^-Phi(x) int_x^{x+L} e^Phi.

    Phi(x) = -(f x - a cos x) (the drift is -Phi'); the current is J = N (1 - e^{-f L}).
    Computed by the trapezoid rule on a periodic grid (spectrally accurate).
    """
    L = 2 * np.pi
    xs = np.linspace(0.0, L, n, endpoint=False)
    h = L / n

    def phi(y):
        return -(f * y - a * np.cos(y))

    ys = np.linspace(0.0, 2 * L, 2 * n, endpoint=False)
    e = np.exp(phi(ys))
    csum = np.concatenate([[0.0], np.cumsum(0.5 * (e[1:] + e[:-1]) * h)])
    # int_x^{x+L} e^Phi for x on the grid, by differences of the running integral
    ints = csum[np.arange(n) + n] - csum[np.arange(n)]
    p = np.exp(-phi(xs)) * ints
    norm = p.sum() * h
    p /= norm
    J = (1.0 - np.exp(-f * L)) / norm
    return float(J**2 * np.sum(1.0 / p) * h)
