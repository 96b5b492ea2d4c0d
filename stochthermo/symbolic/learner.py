r"""SymPy closed forms of the one-dimensional linear-Gaussian lagged learner.

Data ``b_i ~ N(mu, sd^2)``, model ``p(x | theta) = N(theta, s^2)``, Gaussian-noise SGD
``theta_{t+1} = (1 - k) theta_t + k (Bbar + xi_t)``, ``xi_t ~ N(0, sd^2 / m)``,
``theta_0 ~ N(mu0, v0)``, ``X_{t+1} ~ N(theta_t, s^2)``. Every quantity is read off the joint
Gaussian law of ``(Bbar, Theta_t, X_{t+1}, Theta_{t+1}, X_{t+2})``; derivation in
``theory/learning.md`` section 4, checked by ``theory/check_learning.py``. The numeric
(any-dimension) counterpart is ``stochthermo.learning.GaussianLearner``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:
    from typing import Any

__all__ = ["LEARNER_ARGS", "derive_gaussian_learner"]

#: argument order of the compiled functions
LEARNER_ARGS = ("t", "k", "v0", "sd", "N", "m", "s", "mu", "mu0")


@functools.lru_cache(maxsize=1)
def derive_gaussian_learner() -> tuple[dict[str, Any], dict[str, Any]]:
    """Derive every closed form once and compile it with ``lambdify(..., cse=True)``.

    Returns
    -------
    (dict, dict)
        ``name -> SymPy expression`` and ``name -> function`` of :data:`LEARNER_ARGS`
        (NumPy broadcasting in every argument).

    Notes
    -----
    With ``a = 1 - k``, ``c_t = 1 - a^t``, ``g_t = (1 - a^{2t}) / (1 - a^2)``:
    ``V_t = a^{2t} v0 + k^2 sd^2 g_t / m`` (``Var(Theta_t | B)``), ``e_t = c_t sd^2 / N``
    (``Cov(Theta_t, Bbar)``), ``W_t = V_t + c_t e_t`` (``Var Theta_t``),
    ``M_t = a^t mu0 + c_t mu``. The joint covariance is ``L S0 L^T`` for the linear map ``L``
    from ``(Bbar, Theta_t, xi_t, z_1, z_2)``.

    Examples
    --------
    >>> exprs, funcs = derive_gaussian_learner()
    >>> round(float(funcs["m_info"](0.0, 0.1, 1.0, 1.0, 10, 1, 1.0, 0.0, 0.0)), 12)
    0.0
    """
    t = sp.Symbol("t", integer=True, nonnegative=True)
    k, v0, sd, N, m, s = sp.symbols("k v0 sd N m s", positive=True)
    mu, mu0 = sp.symbols("mu mu0", real=True)
    a = 1 - k

    c = 1 - a**t
    g = (1 - a ** (2 * t)) / (1 - a**2)
    V = a ** (2 * t) * v0 + k**2 * sd**2 * g / m  # Var(theta_t | B)
    e = c * sd**2 / N  # Cov(theta_t, Bbar)
    W = V + c * e  # Var theta_t
    M = a**t * mu0 + c * mu  # E theta_t
    vb = sd**2 / N
    # joint Gaussian of (Bbar, theta_t, xi_t, z_1, z_2): linear maps to
    # (Bbar, theta_t, X_{t+1}, theta_{t+1}, X_{t+2}); covariance by L S0 L^T
    S0 = sp.Matrix([[vb, e, 0, 0, 0], [e, W, 0, 0, 0], [0, 0, sd**2 / m, 0, 0],
                    [0, 0, 0, s**2, 0], [0, 0, 0, 0, s**2]])
    L = sp.Matrix([
        [1, 0, 0, 0, 0],        # Bbar
        [0, 1, 0, 0, 0],        # theta_t
        [0, 1, 0, 1, 0],        # X_{t+1} = theta_t + z1
        [k, a, k, 0, 0],        # theta_{t+1}
        [k, a, k, 0, 1],        # X_{t+2} = theta_{t+1} + z2
    ])
    C = L * S0 * L.T
    mean = L * sp.Matrix([mu, M, 0, 0, 0])
    iB, iT, iX, iT1, iX2 = range(5)

    def mi(i, j):
        return sp.log(C[i, i] * C[j, j] / (C[i, i] * C[j, j] - C[i, j] ** 2)) / 2

    def ent(var):
        return sp.log(2 * sp.pi * sp.E * var) / 2

    def msq(i, j):
        return (mean[i] - mean[j]) ** 2 + C[i, i] + C[j, j] - 2 * C[i, j]

    # work: <w_t> = E KL(N(theta_t, s^2) || N(theta_{t+1}, s^2)) = E delta^2 / (2 s^2)
    d_mean = mean[iT1] - mean[iT]
    d_var = C[iT1, iT1] + C[iT, iT] - 2 * C[iT, iT1]
    work = (d_mean**2 + d_var) / (2 * s**2)
    # heat: <q_t> = E[(X_{t+2}-theta_{t+1})^2 - (X_{t+1}-theta_{t+1})^2] / (2 s^2)
    heat = (msq(iX2, iT1) - msq(iX, iT1)) / (2 * s**2)
    flow_theta = mi(iX, iT1) - mi(iX, iT)
    flow_x = mi(iX2, iT1) - mi(iX, iT1)
    sigma_x = ent(C[iX2, iX2]) - ent(C[iX, iX]) - heat - flow_x
    # route 2: E KL(P(x_{t+1} | theta_{t+1}) || N(theta_{t+1}, s^2)), P Gaussian with
    # conditional mean A + Bc theta_{t+1} and variance v1
    Bc = C[iX, iT1] / C[iT1, iT1]
    v1 = C[iX, iX] - C[iX, iT1] ** 2 / C[iT1, iT1]
    off2 = (mean[iX] - mean[iT1]) ** 2 + (Bc - 1) ** 2 * C[iT1, iT1]
    sigma_x_kl = (v1 / s**2 + off2 / s**2 - 1 - sp.log(v1 / s**2)) / 2
    # parameter heat, midpoint rule, exact for the quadratic U_B
    heat_theta = -(msq(iT1, iB) - msq(iT, iB)) / (2 * s**2)
    exprs = {
        "m_info": mi(iT, iB),
        "l_info": mi(iX, iB),
        "l_info_functional": mi(iT, iB),
        "i_x_theta": mi(iX, iT),
        "work": work,
        "kl": work,
        "heat": heat,
        "heat_theta": heat_theta,
        "info_flow_x": flow_x,
        "info_flow_theta": flow_theta,
        "sigma_x": sigma_x,
        "sigma_x_kl": sigma_x_kl,
        "entropy_theta": ent(W),
        "entropy_theta_given_b": ent(V),
        "mean_theta": M,
        "var_theta": W,
        "var_theta_given_b": V,
    }
    syms = (t, k, v0, sd, N, m, s, mu, mu0)
    funcs = {name: sp.lambdify(syms, ex, modules="numpy", cse=True)
             for name, ex in exprs.items()}
    return exprs, funcs
