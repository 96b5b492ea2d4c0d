"""Re-derive the boxed results of ``theory/sgd.md`` with SymPy and assert them.

Run as ``python theory/check_sgd.py``; it prints one ``OK`` line per check and raises
``AssertionError`` at the first identity that fails. The derivations use SymPy only; the package
is imported at the end for a comparison with :mod:`stochthermo.exact` and
:mod:`stochthermo.symbolic`. Notation: ``Q = Sigma_g phi / |b|`` is the covariance of the
mini-batch gradient noise, ``r`` the learning rate, ``beta`` the heavy-ball momentum.
"""

from __future__ import annotations

import itertools
import time

import sympy as sp
from sympy.polys.constructor import construct_domain

T0 = time.perf_counter()
R = sp.Rational


def ok(label: str, what: str) -> None:
    print(f"OK  {label:<14} {what}")


def is_zero(expr) -> bool:
    """True when a scalar or matrix expression vanishes identically (exact rational functions)."""
    if isinstance(expr, sp.MatrixBase):
        return all(is_zero(e) for e in expr)
    expr = sp.sympify(expr)
    if expr.is_number:
        return sp.simplify(expr) == 0
    K, (val,) = construct_domain([expr], field=True)
    if K.is_EX:  # not recognised as a rational function: normalise it directly
        return sp.cancel(sp.expand(expr)) == 0
    return not val


def sym_matrix(prefix: str, n: int, **assumptions) -> sp.Matrix:
    M = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            M[i, j] = M[j, i] = sp.Symbol(f"{prefix}{i + 1}{j + 1}", **assumptions)
    return M


def solve_sym(residual, n: int) -> sp.Matrix:
    """The symmetric X with residual(X) = 0 (a linear matrix equation), solved exactly."""
    X = sym_matrix("_x", n)
    unknowns = sorted(X.free_symbols, key=lambda s: s.name)
    Rm = residual(X)
    eqs = [Rm[i, j] for i in range(n) for j in range(i, n)]
    sol = sp.solve(eqs, unknowns, dict=True)
    assert len(sol) == 1, "the linear matrix equation must have exactly one solution"
    return X.subs(sol[0]).applyfunc(sp.factor)


def continuous_cov(A, D):
    return solve_sym(lambda X: A * X + X * A.T - 2 * D, A.shape[0])


def discrete_cov(P, Qd):
    return solve_sym(lambda X: X - P * X * P.T - Qd, P.shape[0])


def vanishing_order(expr, r) -> int:
    """Order of the zero at r = 0 of a rational function of r (a large number if identically 0)."""
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    if num == 0:
        return 10**6
    assert sp.expand(den).subs(r, 0) != 0, "the function must be regular at r = 0"
    return min(m[0] for m in sp.Poly(sp.expand(num), r).monoms())


def assert_expansion(M: sp.Matrix, r, coeffs) -> None:
    """Assert M(r) = sum_k coeffs[k] r^k + O(r^len(coeffs)) entry by entry."""
    approx = sum((c * r**k for k, c in enumerate(coeffs)), sp.zeros(*M.shape))
    for e in M - approx:
        assert vanishing_order(e, r) >= len(coeffs)


def comm(X, Y):
    return X * Y - Y * X


# ---------------------------------------------------------------------------------------------
# [SGD-noise]: mini-batch gradient noise, by enumerating every batch
# ---------------------------------------------------------------------------------------------

def check_noise():
    N, b = 5, 2
    g = sp.symbols(f"g1:{N + 1}", real=True)
    gbar = sum(g) / N
    pop_var = sum((gi - gbar) ** 2 for gi in g) / N           # Sigma_g (1/N normalisation)
    # with replacement: ordered draws of b independent indices
    draws = list(itertools.product(range(N), repeat=b))
    var_with = sum((sum(g[i] for i in d) / b - gbar) ** 2 for d in draws) / len(draws)
    assert is_zero(var_with - pop_var / b)
    # without replacement: all subsets of size b
    subsets = list(itertools.combinations(range(N), b))
    var_without = sum((sum(g[i] for i in s) / b - gbar) ** 2 for s in subsets) / len(subsets)
    assert is_zero(var_without - pop_var / b * R(N - b, N - 1))
    ok("[SGD-noise]", "Cov(eta) = Sigma_g/|b|, times (N - |b|)/(N - 1) without replacement")
    # two different batches of one shuffled epoch: correlation -|b|/(N - |b|)
    N, b = 6, 2
    g = sp.symbols(f"g1:{N + 1}", real=True)
    gbar = sum(g) / N
    cov12 = sp.Integer(0)
    var1 = sp.Integer(0)
    perms = list(itertools.permutations(range(N)))
    for p in perms:
        e1 = sum(g[i] for i in p[:b]) / b - gbar
        e2 = sum(g[i] for i in p[b:2 * b]) / b - gbar
        cov12 += sp.expand(e1 * e2)
        var1 += sp.expand(e1 * e1)
    assert is_zero(cov12 / var1 + R(b, N - b))
    ok("[SGD-noise]", "within an epoch: corr(eta_batch1, eta_batch2) = -|b|/(N - |b|)")


# ---------------------------------------------------------------------------------------------
# [SGD-cov], [SGD-rate]: exact discrete covariance and its approach to the Langevin limit
# ---------------------------------------------------------------------------------------------

def check_discrete_covariance():
    r, h, q = sp.symbols("r h q", positive=True)
    C1d = discrete_cov(sp.Matrix([[1 - r * h]]), sp.Matrix([[r**2 * q]]))
    assert is_zero(C1d[0, 0] - r * q / (h * (2 - r * h)))
    cont = continuous_cov(sp.Matrix([[h]]), sp.Matrix([[r * q / 2]]))
    assert is_zero(C1d[0, 0] / cont[0, 0] - 1 / (1 - r * h / 2))
    ok("[SGD-cov]", "1-d: C_r = r q / (h (2 - r h)) = (r q / 2h) / (1 - r h / 2)")
    # diagonal H, general noise: entrywise closed form
    h1, h2 = sp.symbols("h1 h2", positive=True)
    H = sp.diag(h1, h2)
    Q = sym_matrix("q", 2, real=True)
    P = sp.eye(2) - r * H
    C = discrete_cov(P, r**2 * Q)
    hs = (h1, h2)
    for i in range(2):
        for j in range(2):
            assert is_zero(C[i, j] - r * Q[i, j] / (hs[i] + hs[j] - r * hs[i] * hs[j]))
    ok("[SGD-cov]", "diagonal H: C_ij = r Q_ij / (h_i + h_j - r h_i h_j)")
    # generic symmetric H and Q (2x2): the exact equation and its expansion in r
    H = sym_matrix("h", 2, real=True)
    C = discrete_cov(sp.eye(2) - r * H, r**2 * Q)
    assert is_zero(H * C + C * H - r * H * C * H - r * Q)
    # order-by-order solution of the exact equation, then the expansion of the exact C_r
    c1 = solve_sym(lambda X: H * X + X * H - Q, 2)
    c2 = solve_sym(lambda X: H * X + X * H - H * c1 * H, 2)
    assert_expansion(C, r, [sp.zeros(2, 2), c1, c2])
    cont = continuous_cov(H, r * Q / 2)
    assert is_zero(cont - r * c1)
    ok("[SGD-cov]", "generic 2x2: H C + C H - r H C H = r Q (exact)")
    ok("[SGD-rate]", "C_r = r C_1 + r^2 C_2 + O(r^3), H C_1 + C_1 H = Q, H C_2 + C_2 H = H C_1 H")
    # the relative gap is first order: C_r - C_cont = r^2 C_2 + O(r^3) with C_2 != 0
    assert not is_zero(c2)
    # exactly, C_r - C_cont solves H X + X H = r H C_r H (PSD right side, so C_r >= C_cont)
    X = C - cont
    assert is_zero(H * X + X * H - r * H * C * H)
    ok("[SGD-rate]", "|C_r - C_cont| / |C_cont| = r |C_2| / |C_1| + O(r^2): first order in r")


# ---------------------------------------------------------------------------------------------
# [SGD-mom]: heavy-ball momentum on the augmented state (theta_n, theta_{n-1})
# ---------------------------------------------------------------------------------------------

def augmented(H, Q, r, beta):
    d = H.shape[0]
    eye, Z = sp.eye(d), sp.zeros(d, d)
    P = sp.BlockMatrix([[(1 + beta) * eye - r * H, -beta * eye], [eye, Z]]).as_explicit()
    Qa = sp.BlockMatrix([[r**2 * Q, Z], [Z, Z]]).as_explicit()
    return P, Qa


def check_momentum():
    r, h, q, beta = sp.symbols("r h q beta", positive=True)
    P, Qa = augmented(sp.Matrix([[h]]), sp.Matrix([[q]]), r, beta)
    Ca = discrete_cov(P, Qa)
    var = Ca[0, 0]
    assert is_zero(var - r * q * (1 + beta) / (h * (1 - beta) * (2 * (1 + beta) - r * h)))
    # Langevin limit A = h/(1-beta), D = r q / (2 (1-beta)^2): C = D/A
    A, D = h / (1 - beta), r * q / (2 * (1 - beta) ** 2)
    assert is_zero(var / (D / A) - 1 / (1 - r * h / (2 * (1 + beta))))
    ok("[SGD-mom]", "1-d: Var = r q (1+b) / (h (1-b)(2(1+b) - r h)) -> D/A, gap r h / (2(1+b))")
    # the slow eigenvalue of the augmented map is 1 - r h / (1 - beta) + O(r^2): A = H/(1-beta)
    # write the eigenvalue as 1 - r mu and solve the characteristic equation order by order
    mu = sp.Symbol("mu")
    charpoly = sp.expand((P - (1 - r * mu) * sp.eye(2)).det())
    assert charpoly.subs(r, 0) == 0
    first = sp.expand(sp.cancel(charpoly / r)).subs(r, 0)
    roots = sp.solve(first, mu)
    assert len(roots) == 1 and is_zero(roots[0] - h / (1 - beta))
    ok("[SGD-langevin]", "momentum: slow eigenvalue 1 - r h/(1-beta) + O(r^2), so A = H/(1-beta)")
    # non-commuting 2x2, exact rationals, symbolic r
    H = sp.Matrix([[2, R(3, 5)], [R(3, 5), 1]])
    Q = sp.Matrix([[1, 0], [0, R(1, 4)]])
    for b in (R(1, 2), R(3, 10)):
        P, Qa = augmented(H, Q, r, b)
        Ca = discrete_cov(P, Qa)
        S = Ca[:2, :2]
        K = S - Ca[:2, 2:]                          # E[theta_n u_n^T], u_n = theta_n - theta_{n-1}
        assert is_zero(Ca[2:, 2:] - S)
        V = (K - b * K + r * S * H)                   # (1 - beta) K = V - r S H
        assert is_zero(V - r * (S * H + H * S) / (1 + b))
        L = S * H + H * S
        exact_eq = ((1 - b) * L - r * Q - r * (1 + b) / (1 - b) * H * S * H
                    + b * r / (1 - b**2) * (H * L + L * H))
        assert is_zero(exact_eq)
        rhs1 = Q / (1 - b)
        s1 = solve_sym(lambda X, rhs=rhs1: H * X + X * H - rhs, 2)
        rhs2 = H * s1 * H / (1 + b) - b * comm(H, comm(H, s1)) / ((1 - b) ** 2 * (1 + b))
        s2 = solve_sym(lambda X, rhs=rhs2: H * X + X * H - rhs, 2)
        assert_expansion(S, r, [sp.zeros(2, 2), s1, s2])
        cont = continuous_cov(H / (1 - b), r * Q / (2 * (1 - b) ** 2))
        assert is_zero(cont - r * s1)
    ok("[SGD-mom]", "exact: (1-b) L(S) = r Q + r (1+b)/(1-b) H S H - b r/(1-b^2) (H L + L H)")
    ok("[SGD-rate]", "momentum: L(S_2) = H S_1 H/(1+b) - b [H,[H,S_1]]/((1-b)^2 (1+b))")


# ---------------------------------------------------------------------------------------------
# [SGD-db], [SGD-ep2], [SGD-stat]
# ---------------------------------------------------------------------------------------------

def check_detailed_balance():
    H = sym_matrix("h", 2, real=True)
    S = sym_matrix("s", 2, real=True)
    eps = sp.Symbol("epsilon", positive=True)               # D = eps Sigma, eps = r phi / (2|b|)
    D = eps * S
    X = D.inv() * H
    assert is_zero(X - X.T - S.inv() * comm(H, S) * S.inv() / eps)
    kappa = S[0, 1] * (H[0, 0] - H[1, 1]) - H[0, 1] * (S[0, 0] - S[1, 1])
    assert is_zero(comm(H, S) - kappa * sp.Matrix([[0, 1], [-1, 0]]))
    ok("[SGD-db]", "D^-1 A - A^T D^-1 = Sigma^-1 [H, Sigma] Sigma^-1 / eps; [H,Sigma] = kappa J")
    # commuting pair (common eigenvectors, rational rotation): A C = D, M = 0, sigma = 0
    t, h1, h2, s1, s2 = sp.symbols("t h1 h2 s1 s2", positive=True)
    Rot = sp.Matrix([[1 - t**2, -2 * t], [2 * t, 1 - t**2]]) / (1 + t**2)
    Hc = Rot * sp.diag(h1, h2) * Rot.T
    Sc = Rot * sp.diag(s1, s2) * Rot.T
    assert is_zero(comm(Hc, Sc))
    Dc = eps * Sc
    C = continuous_cov(Hc, Dc)
    assert is_zero(Hc * C - Dc)
    assert is_zero(C - Hc.inv() * Dc)
    # the exact discrete chain is then reversible too: P C_r = C_r P^T
    r = sp.Symbol("r", positive=True)
    Pc = sp.eye(2) - r * Hc
    Cr = discrete_cov(Pc, r**2 * Sc)
    assert is_zero(Pc * Cr - Cr * Pc.T)
    ok("[SGD-db]", "commuting H, Sigma: C = H^-1 D, A C = D (detailed balance); P C_r symmetric")
    # conversely, A C = D with C symmetric forces [H, C] = 0 and then [H, D] = 0
    Cg = sym_matrix("c", 2, real=True)
    Dg = Hc * Cg                                     # suppose A C = D
    assert is_zero((Dg - Dg.T) - comm(Hc, Cg))       # D symmetric  <=>  [H, C] = 0
    ok("[SGD-db]", "A C = D and D symmetric imply [H, C] = 0, hence [H, D] = H^2 C - H C H = 0")


def check_entropy_production():
    eps = sp.Symbol("epsilon", positive=True)
    h1, h2, s1, s2, c = sp.symbols("h1 h2 s1 s2 c", positive=True)
    H = sp.diag(h1, h2)
    S = sp.Matrix([[s1, c], [c, s2]])
    D = eps * S
    C = continuous_cov(H, D)
    sigma = (H * D.inv() * H * C).trace() - H.trace()
    assert is_zero(sigma - c**2 * (h1 - h2) ** 2 / ((s1 * s2 - c**2) * (h1 + h2)))
    # rotation invariance: for every symmetric 2x2 H, sigma = kappa^2 / (tr H det Sigma)
    Hg = sym_matrix("h", 2, real=True)
    Cg = continuous_cov(Hg, D)
    sig_g = (Hg * D.inv() * Hg * Cg).trace() - Hg.trace()
    kappa = S[0, 1] * (Hg[0, 0] - Hg[1, 1]) - Hg[0, 1] * (S[0, 0] - S[1, 1])
    assert is_zero(sig_g - kappa**2 / (Hg.trace() * S.det()))
    # momentum rescales A by 1/(1 - beta) (and D by a scalar): sigma -> sigma / (1 - beta)
    beta = sp.Symbol("beta", positive=True)
    Am = Hg / (1 - beta)
    Dm = D / (1 - beta) ** 2
    Cm = continuous_cov(Am, Dm)
    sig_m = (Am.T * Dm.inv() * Am * Cm).trace() - Am.trace()
    assert is_zero(sig_m - sig_g / (1 - beta))
    ok("[SGD-ep2]", "2x2: sigma = kappa^2 / (tr H det Sigma), independent of r and |b|; "
       "momentum: / (1 - beta)")
    # the stationary law and its current: -H x = -D C^-1 x + M x, div(M x p) = 0, M != 0
    M = (-H + D * C.inv()).applyfunc(sp.cancel)
    x = sp.Matrix(sp.symbols("x1 x2", real=True))
    lnp = -(x.T * C.inv() * x)[0, 0] / 2
    Mx = M * x
    assert is_zero(sum(sp.diff(Mx[i], x[i]) + Mx[i] * sp.diff(lnp, x[i]) for i in range(2)))
    assert is_zero(M.subs(c, 0))
    assert not is_zero(M)
    # isotropic noise Sigma = s I: Gibbs law exp(-U/T) with T = eps s
    s = sp.Symbol("s", positive=True)
    Ci = continuous_cov(Hg, eps * s * sp.eye(2))
    assert is_zero(Ci - eps * s * Hg.inv())
    ok("[SGD-stat]", "drift = -D grad Phi + M x, div(M x p) = 0; M = 0 iff kappa = 0; "
       "isotropic: C = T H^-1")


# ---------------------------------------------------------------------------------------------
# [SGD-moments] and comparison with the package
# ---------------------------------------------------------------------------------------------

def check_moments_and_package():
    import numpy as np

    import stochthermo as st
    from stochthermo import exact

    Hn = [[R(3, 2), R(1, 5)], [R(1, 5), R(7, 10)]]
    Sn = [[1, R(3, 10)], [R(3, 10), R(1, 2)]]
    H, S = sp.Matrix(Hn), sp.Matrix(Sn)
    lr, bs, beta, N = R(3, 10), 2, R(1, 2), 10
    phi = R(N - bs, N - 1)
    Q = S * phi / bs
    P, Qa = augmented(H, Q, lr, beta)
    Cinf = discrete_cov(P, Qa)
    m0 = sp.Matrix([1, -1, 1, -1])                    # theta_{-1} = theta_0
    C0 = sp.Matrix([[R(1, 2), 0], [0, R(1, 3)]])
    C0a = sp.BlockMatrix([[C0, C0], [C0, C0]]).as_explicit()
    Cn, mn = C0a, m0
    model = st.LinearizedSGD(np.array(Hn, dtype=float), np.array(Sn, dtype=float), lr=float(lr),
                             batch_size=bs, momentum=float(beta), dataset_size=N)
    mo = exact.moments(model, [0, 1, 2, 3, 4, 5], mean0=[1.0, -1.0], cov0=np.array(C0, float))
    for n in range(6):
        closed = Cinf + P**n * (C0a - Cinf) * (P**n).T
        assert is_zero(closed - Cn)
        assert np.allclose(mo.cov[n], np.array(Cn[:2, :2], dtype=float), rtol=1e-12, atol=1e-14)
        assert np.allclose(mo.mean[n], np.array(mn[:2, 0], dtype=float).ravel(), rtol=1e-12)
        Cn = P * Cn * P.T + Qa
        mn = P * mn
    ok("[SGD-moments]", "C_n = C + P^n (C_0 - C) P^nT solves the recursion; = exact.moments")
    assert np.allclose(exact.stationary_covariance(model), np.array(Cinf[:2, :2], dtype=float),
                       rtol=1e-12, atol=1e-15)
    lang = model.to_langevin()
    A_ = H / (1 - beta)
    D_ = lr * Q / (2 * (1 - beta) ** 2)
    assert np.allclose(lang.A, np.array(A_, dtype=float), rtol=1e-14)
    assert np.allclose(lang.D, np.array(D_, dtype=float), rtol=1e-14)
    ok("[SGD-langevin]", "LinearizedSGD.to_langevin: A = H/(1-b), D = r Sigma phi/(2|b|(1-b)^2)")
    # 2x2 entropy production formula against the numeric code
    plain = st.LinearizedSGD(np.array(Hn, dtype=float), np.array(Sn, dtype=float), lr=0.01,
                             batch_size=4)
    kappa = S[0, 1] * (H[0, 0] - H[1, 1]) - H[0, 1] * (S[0, 0] - S[1, 1])
    sig = kappa**2 / (H.trace() * S.det())
    assert abs(exact.entropy_production(plain) - float(sig)) <= 1e-12 * float(sig)
    ok("package", "exact.entropy_production = kappa^2 / (tr H det Sigma) (2x2 SGD)")

    from stochthermo.symbolic import derive_sgd

    d = derive_sgd("[[h1, 0], [0, h2]]", "[[s1, c], [c, s2]]", "r", "b")
    ren = {sym: sp.Symbol(sym.name, positive=True) for sym in d.symbols}
    r, b = sp.Symbol("r", positive=True), sp.Symbol("b", positive=True)
    h1, h2 = sp.Symbol("h1", positive=True), sp.Symbol("h2", positive=True)
    Qs = sp.Matrix([[sp.Symbol("s1", positive=True), sp.Symbol("c", positive=True)],
                    [sp.Symbol("c", positive=True), sp.Symbol("s2", positive=True)]]) / b
    Cd = d.discrete_covariance.xreplace(ren)
    hs = (h1, h2)
    for i in range(2):
        for j in range(2):
            assert is_zero(Cd[i, j] - r * Qs[i, j] / (hs[i] + hs[j] - r * hs[i] * hs[j]))
    ok("package", "derive_sgd discrete_covariance = r Q_ij / (h_i + h_j - r h_i h_j)")


def main():
    check_noise()
    check_discrete_covariance()
    check_momentum()
    check_detailed_balance()
    check_entropy_production()
    check_moments_and_package()
    print(f"all SGD checks passed in {time.perf_counter() - T0:.1f} s")


if __name__ == "__main__":
    main()
