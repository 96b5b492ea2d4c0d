"""Re-derive the boxed results of ``theory/linear_langevin.md`` with SymPy and assert them.

Run as ``python theory/check_linear_langevin.py``; it prints one ``OK`` line per check and
raises ``AssertionError`` at the first identity that fails. The derivations below use only SymPy
and the definitions (Fokker-Planck equation, Gaussian expectations); the package is imported at
the very end, for a numerical comparison with :mod:`stochthermo.exact` and
:mod:`stochthermo.symbolic`.

Without loss of generality the fixed point is x_star = 0 (every quantity depends on x - x_star
only); a mean m is then the offset of the mean from the fixed point.
"""

from __future__ import annotations

import time

import sympy as sp
from sympy.polys.constructor import construct_domain

T0 = time.perf_counter()


def ok(label: str, what: str) -> None:
    print(f"OK  {label:<14} {what}")


def is_zero(expr) -> bool:
    """True when a scalar or matrix expression vanishes identically.

    The expression is mapped into the field of rational functions of its symbols (SymPy's sparse
    polynomial domains), where equality to zero is decided exactly.
    """
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
    """Symmetric n x n matrix of fresh symbols ``prefix_ij`` (i <= j)."""
    M = sp.zeros(n, n)
    for i in range(n):
        for j in range(i, n):
            M[i, j] = M[j, i] = sp.Symbol(f"{prefix}{i + 1}{j + 1}", **assumptions)
    return M


def gen_matrix(prefix: str, n: int) -> sp.Matrix:
    return sp.Matrix(n, n, lambda i, j: sp.Symbol(f"{prefix}{i + 1}{j + 1}", real=True))


def lyapunov(A: sp.Matrix, D: sp.Matrix) -> sp.Matrix:
    """The symmetric solution of A C + C A^T = 2 D, from the d(d+1)/2 linear equations."""
    n = A.shape[0]
    X = sym_matrix("_x", n)
    unknowns = sorted(X.free_symbols, key=lambda s: s.name)
    R = A * X + X * A.T - 2 * D
    eqs = [R[i, j] for i in range(n) for j in range(i, n)]
    sol = sp.solve(eqs, unknowns, dict=True)
    assert len(sol) == 1, "the Lyapunov equation must have exactly one solution"
    return X.subs(sol[0]).applyfunc(sp.factor)


def tr_block(M: sp.Matrix, block) -> sp.Expr:
    return sum(M[k, k] for k in block)


def sub(M: sp.Matrix, block) -> sp.Matrix:
    return M.extract(list(block), list(block))


def gauss_expect(expr, xs, m, C):
    """E[expr] for x ~ N(m, C), expr a polynomial of degree <= 2 in xs (Isserlis, order 2)."""
    ys = sp.symbols(f"_y0:{len(xs)}")
    e = sp.expand(sp.sympify(expr).subs(dict(zip(xs, [mi + yi for mi, yi in zip(m, ys)]))))
    poly = sp.Poly(e, *ys)
    out = sp.Integer(0)
    for powers, coeff in poly.terms():
        deg = sum(powers)
        if deg == 0:
            out += coeff
        elif deg == 1:
            continue
        elif deg == 2:
            idx = [k for k, p in enumerate(powers) for _ in range(p)]
            out += coeff * C[idx[0], idx[1]]
        else:
            raise ValueError("gauss_expect handles degree <= 2 only")
    return out


class Gaussian:
    """A Gaussian state N(m, C) of the process dx = -A x dt + sqrt(2D) dW and its flows.

    Everything is computed from the definitions: the log density, the mean local velocity
    v = F - D grad ln p, and expectations of quadratic forms. ``blocks`` is the bipartite split.
    """

    def __init__(self, A, D, m, C, blocks):
        self.A, self.D, self.m, self.C = A, D, m, C
        self.n = A.shape[0]
        self.blocks = blocks
        self.xs = sp.Matrix(sp.symbols(f"x1:{self.n + 1}", real=True))
        xs = self.xs
        Cinv = C.inv()
        y = xs - m
        self.lnp = -(y.T * Cinv * y)[0, 0] / 2          # up to x-independent terms
        self.grad = sp.Matrix([sp.diff(self.lnp, xk) for xk in xs])
        self.F = -A * xs
        self.v = (self.F - D * self.grad).applyfunc(sp.expand)
        self.Dinv = D.inv()
        # Cdot from the moment equation [LL-moments]
        self.Cdot = -A * C - C * A.T + 2 * D
        self.x_list = list(xs)

    def E(self, expr):
        return gauss_expect(expr, self.x_list, list(self.m), self.C)

    # definitions
    def sigma(self):
        return self.E((self.v.T * self.Dinv * self.v)[0, 0])

    def medium(self, b):
        w = self.Dinv * self.F
        return self.E(sum(w[k] * self.v[k] for k in b))

    def sigma_block(self, b):
        vb = sp.Matrix([self.v[k] for k in b])
        return self.E((vb.T * sub(self.Dinv, b) * vb)[0, 0])

    def info_flow(self, b):
        yb = sp.Matrix([self.xs[k] - self.m[k] for k in b])
        lnp_b = -(yb.T * sub(self.C, b).inv() * yb)[0, 0] / 2
        g = [sp.diff(self.lnp - lnp_b, self.xs[k]) for k in b]
        return self.E(sum(self.v[k] * gk for k, gk in zip(b, g)))

    def entropy_rate(self, b=None):
        """dS/dt of the (marginal) Gaussian: 1/2 tr(C_bb^-1 Cdot_bb)."""
        b = list(range(self.n)) if b is None else b
        return (sub(self.C, b).inv() * sub(self.Cdot, b)).trace() / 2


# ---------------------------------------------------------------------------------------------
# [LL-def], [LL-moments]: a Gaussian solves the Fokker-Planck equation iff its moments obey
# m' = -A m and C' = -A C - C A^T + 2 D.
# ---------------------------------------------------------------------------------------------

def check_fokker_planck():
    A = gen_matrix("a", 2)
    D = sym_matrix("d", 2, real=True)
    c11, c12, c22, m1, m2 = sp.symbols("c11 c12 c22 m1 m2", real=True)
    C = sp.Matrix([[c11, c12], [c12, c22]])
    m = sp.Matrix([m1, m2])
    x = sp.Matrix(sp.symbols("x1 x2", real=True))
    y = x - m
    lnp = -sp.log(C.det()) / 2 - (y.T * C.inv() * y)[0, 0] / 2
    mdot = -A * m
    Cdot = -A * C - C * A.T + 2 * D
    # d/dt ln p along the moment ODEs (chain rule through m and the three entries of C)
    dt_lnp = (sum(sp.diff(lnp, mi) * mdi for mi, mdi in zip(m, mdot))
              + sp.diff(lnp, c11) * Cdot[0, 0] + sp.diff(lnp, c12) * Cdot[0, 1]
              + sp.diff(lnp, c22) * Cdot[1, 1])
    # Fokker-Planck right-hand side divided by p:  -div(F p)/p + sum_ab D_ab d_a d_b p / p
    F = -A * x
    grad = [sp.diff(lnp, xi) for xi in x]
    rhs = -sum(sp.diff(F[i], x[i]) + F[i] * grad[i] for i in range(2))
    rhs += sum(D[a, b] * (sp.diff(lnp, x[a], x[b]) + grad[a] * grad[b])
               for a in range(2) for b in range(2))
    assert is_zero(dt_lnp - rhs)
    ok("[LL-def]", "Gaussian N(m, C) solves the Fokker-Planck equation (generic 2x2)")
    ok("[LL-moments]", "iff m' = -A m and C' = -A C - C A^T + 2 D")


def check_moments_solution():
    A = sp.Matrix([[1, 1], [0, 2]])
    D = sp.Matrix([[1, sp.Rational(1, 3)], [sp.Rational(1, 3), 2]])
    t = sp.Symbol("t", nonnegative=True)
    E = sp.exp(-A * t)
    assert is_zero(E.diff(t) + A * E)
    Cinf = lyapunov(A, D)
    m0 = sp.Matrix([1, -2])
    C0 = sp.Matrix([[sp.Rational(1, 2), 0], [0, 3]])
    mt = E * m0
    Ct = Cinf + E * (C0 - Cinf) * E.T
    assert is_zero(mt.diff(t) + A * mt)
    assert is_zero(Ct.diff(t) - (-A * Ct - Ct * A.T + 2 * D))
    assert is_zero(mt.subs(t, 0) - m0) and is_zero(Ct.subs(t, 0) - C0)
    ok("[LL-moments]", "m_t = e^{-At} m_0, C_t = C + e^{-At}(C_0 - C)e^{-A^T t} solve the ODEs")
    return A, D, m0, C0, mt, Ct, t


# ---------------------------------------------------------------------------------------------
# [LL-cov]: stationary covariance
# ---------------------------------------------------------------------------------------------

def check_covariance():
    A = gen_matrix("a", 2)
    D = sym_matrix("d", 2, real=True)
    C = lyapunov(A, D)
    assert is_zero(A * C + C * A.T - 2 * D) and is_zero(C - C.T)
    I2 = sp.eye(2)
    B = A - A.trace() * I2
    formula = (A.det() * D + B * D * B.T) / (A.trace() * A.det())
    assert is_zero(C - formula)
    ok("[LL-cov]", "A C + C A^T = 2D; 2x2: C = (det A D + B D B^T)/(tr A det A), B = A - tr A")
    return A, D, C


# ---------------------------------------------------------------------------------------------
# [LL-current], [LL-db]
# ---------------------------------------------------------------------------------------------

def check_current(A, D, C):
    # transient: the velocity from the definition v = F - D grad ln p
    c11, c12, c22, m1, m2 = sp.symbols("c11 c12 c22 m1 m2", real=True)
    Ct = sp.Matrix([[c11, c12], [c12, c22]])
    m = sp.Matrix([m1, m2])
    g = Gaussian(A, D, m, Ct, [[0], [1]])
    x = g.xs
    v_formula = -A * x + D * Ct.inv() * (x - m)
    assert is_zero(g.v - v_formula)
    Mt = -A + D * Ct.inv()
    assert is_zero(g.v - (Mt * (x - m) - A * m))
    # the contract's printed line with "- D C^-1 (x - m)" is not the Fokker-Planck velocity
    assert not is_zero(g.v - (-A * x - D * Ct.inv() * (x - m)))
    ok("[LL-current]", "v = -A x + D C^-1 (x - m) = M_t (x - m) - A m, M_t = -A + D C^-1")
    # steady state: M C = D - A C is antisymmetric, tr M = 0, div(M x p) = 0
    M = -A + D * C.inv()
    W = (M * C).applyfunc(sp.cancel)
    assert is_zero(W + W.T)
    assert is_zero(W - (C * A.T - A * C) / 2)
    assert is_zero(M.trace())
    xs = sp.Matrix(sp.symbols("x1 x2", real=True))
    lnp = -(xs.T * C.inv() * xs)[0, 0] / 2
    Mx = M * xs
    div_over_p = sum(sp.diff(Mx[i], xs[i]) + Mx[i] * sp.diff(lnp, xs[i]) for i in range(2))
    assert is_zero(div_over_p)
    ok("[LL-current]", "steady: M C = (C A^T - A C)/2 antisymmetric, tr M = 0, div(M x p) = 0")
    return M


def check_detailed_balance():
    # M = (D - A C) C^-1, so M = 0 iff A C = D
    A = gen_matrix("a", 2)
    D = sym_matrix("d", 2, real=True)
    C = sym_matrix("c", 2, real=True)
    assert is_zero((-A + D * C.inv()) - (D - A * C) * C.inv())
    # D^-1 A = S symmetric  =>  C = S^-1 solves the Lyapunov equation and M = 0
    S = sym_matrix("s", 2, real=True)
    A_db = D * S
    C_db = S.inv()
    assert is_zero(A_db * C_db + C_db * A_db.T - 2 * D)
    assert is_zero(-A_db + D * C_db.inv())
    # conversely A C = D with C symmetric  =>  D^-1 A = C^-1 symmetric
    ok("[LL-db]", "M = 0 iff A C = D iff D^-1 A symmetric (then C = A^-1 D)")


# ---------------------------------------------------------------------------------------------
# [LL-ep]: entropy production, two forms, transient form
# ---------------------------------------------------------------------------------------------

def check_entropy_production(A, D, C):
    c11, c12, c22, m1, m2 = sp.symbols("c11 c12 c22 m1 m2", real=True)
    Ct = sp.Matrix([[c11, c12], [c12, c22]])
    m = sp.Matrix([m1, m2])
    g = Gaussian(A, D, m, Ct, [[0, 1]])
    Dinv = D.inv()
    Mt = -A + D * Ct.inv()
    Am = A * m
    sigma_def = g.sigma()
    sigma_formula = (Dinv * Mt * Ct * Mt.T).trace() + (Am.T * Dinv * Am)[0, 0]
    assert is_zero(sigma_def - sigma_formula)
    ok("[LL-ep]", "<v^T D^-1 v> = tr(D^-1 M_t C M_t^T) + (A m)^T D^-1 (A m) (transient)")
    # sigma = medium entropy flow + dS/dt, with dS/dt = tr(M_t)
    assert is_zero(sigma_def - (g.medium([0, 1]) + g.entropy_rate()))
    assert is_zero(g.entropy_rate() - Mt.trace())
    ok("[LL-ep]", "sigma = Sdot_med + dS/dt, dS/dt = 1/2 tr(C^-1 C') = tr(M_t)")
    # steady state: two forms agree
    M = -A + D * C.inv()
    s1 = (Dinv * M * C * M.T).trace()
    s2 = (A.T * Dinv * A * C).trace() - A.trace()
    assert is_zero(s1 - s2)
    ok("[LL-ep]", "steady: tr(D^-1 M C M^T) = tr(A^T D^-1 A C) - tr A (generic 2x2)")


# ---------------------------------------------------------------------------------------------
# [LL-heat], [LL-info], [LL-sub], [LL-mi]: bipartite split
# ---------------------------------------------------------------------------------------------

def bipartite_identities(g: Gaussian, label_suffix: str):
    A, D, C, m = g.A, g.D, g.C, g.m
    Dinv = D.inv()
    Mt = -A + D * C.inv()
    Am = A * m
    MC = Mt * C
    flows, sigmas, sdots = [], [], []
    for b in g.blocks:
        sdot = g.medium(b)
        sdot_formula = (-tr_block(Dinv * A * C * Mt.T, b)
                        + sum((Dinv * Am)[k] * Am[k] for k in b))
        assert is_zero(sdot - sdot_formula), "medium entropy flow"
        idot = g.info_flow(b)
        idot_formula = -tr_block(Mt, b) + (sub(C, b).inv() * sub(MC, b)).trace()
        assert is_zero(idot - idot_formula), "information flow"
        sig = g.sigma_block(b)
        sig_formula = tr_block(Mt * C * Mt.T * Dinv, b) + sum(Am[k] * (Dinv * Am)[k] for k in b)
        assert is_zero(sig - sig_formula), "subsystem entropy production"
        # second law of the subsystem: sigma_i = Sdot_i + dS_i/dt - Idot_i = Sdot_i + tr_i(M_t)
        assert is_zero(sig - (sdot + g.entropy_rate(b) - idot))
        assert is_zero(sig - (sdot + tr_block(Mt, b)))
        flows.append(idot)
        sigmas.append(sig)
        sdots.append(sdot)
    assert is_zero(sum(sigmas) - g.sigma())
    dI = sum(g.entropy_rate(b) for b in g.blocks) - g.entropy_rate()
    assert is_zero(sum(flows) - dI)
    ok("[LL-heat]", f"Sdot_i = <(D^-1 F)_i o dx_i> = -tr_i(D^-1 A C M^T) + mean term{label_suffix}")
    ok("[LL-info]", f"Idot_i = -tr_i(M_t) + tr(C_ii^-1 (M_t C)_ii), sum = dI/dt{label_suffix}")
    ok("[LL-sub]", f"sigma_i = Sdot_i + dS_i/dt - Idot_i, sum_i sigma_i = sigma{label_suffix}")
    return flows, sigmas, sdots


def check_bipartite_transient():
    # generic 2x2 with D = diag(T1, T2) and an arbitrary Gaussian state
    A = gen_matrix("a", 2)
    T1, T2 = sp.symbols("T1 T2", positive=True)
    D = sp.diag(T1, T2)
    c11, c12, c22, m1, m2 = sp.symbols("c11 c12 c22 m1 m2", real=True)
    C = sp.Matrix([[c11, c12], [c12, c22]])
    g = Gaussian(A, D, sp.Matrix([m1, m2]), C, [[0], [1]])
    bipartite_identities(g, " (generic 2x2, transient)")
    # three dimensions, a 2x2 block with anisotropic D, exact rationals
    R = sp.Rational
    A3 = sp.Matrix([[2, R(1, 2), -1], [R(-1, 3), 1, R(1, 4)], [R(1, 2), R(-1, 2), R(3, 2)]])
    D3 = sp.Matrix([[2, R(1, 2), 0], [R(1, 2), 1, 0], [0, 0, 3]])
    C3 = sp.Matrix([[1, R(1, 5), R(-1, 7)], [R(1, 5), 2, R(1, 3)], [R(-1, 7), R(1, 3), R(3, 2)]])
    g3 = Gaussian(A3, D3, sp.Matrix([R(1, 2), -1, R(1, 3)]), C3, [[0, 1], [2]])
    flows, sigmas, sdots = bipartite_identities(g3, " (3-d, blocks [[0,1],[2]])")
    return g3, flows, sigmas, sdots


def check_bipartite_steady():
    # The transient identities above hold for every Gaussian state, so in particular for the
    # stationary one; here only the simplifications that need A C + C A^T = 2 D are checked.
    A = gen_matrix("a", 2)
    T1, T2 = sp.symbols("T1 T2", positive=True)
    D = sp.diag(T1, T2)
    C = lyapunov(A, D)
    Cinv = C.inv().applyfunc(sp.cancel)
    M = (-A + D * Cinv).applyfunc(sp.cancel)
    Dinv = D.inv()
    MC = (M * C).applyfunc(sp.cancel)
    blocks = [[0], [1]]
    flows = []
    for b, T in zip(blocks, (T1, T2)):
        sdot = -tr_block(Dinv * A * C * M.T, b)
        assert is_zero(sdot - (tr_block(Dinv * A * C * A.T, b) - tr_block(Dinv * A * D, b)))
        Q = T * sdot
        assert is_zero(Q + tr_block(A * C * M.T, b))
        # the transient correction tr(C_ii^-1 (M C)_ii) vanishes: (M C)_ii is antisymmetric
        corr = (sub(C, b).inv() * sub(MC, b)).trace()
        assert is_zero(corr)
        idot = -tr_block(M, b)
        sig = tr_block(M * C * M.T * Dinv, b)
        assert is_zero(sig - (Q / T - idot))
        flows.append(idot)
    assert is_zero(sum(flows))
    ok("[LL-heat]", "steady: Sdot_i = tr_i(D^-1 A C A^T) - tr_i(D^-1 A D), Q_i = -tr_i(A C M^T)")
    ok("[LL-info]", "steady: Idot_i = -tr_i(M), flows sum to zero (generic 2x2)")
    ok("[LL-sub]", "steady: sigma_i = Q_i / T_i - Idot_i (generic 2x2)")


def check_mutual_information():
    C = sym_matrix("c", 2, positive=True)

    def h(Cb):  # differential entropy of a Gaussian
        k = Cb.shape[0]
        return sp.log((2 * sp.pi * sp.E) ** k * Cb.det()) / 2

    I_ent = h(sub(C, [0])) + h(sub(C, [1])) - h(C)
    I_formula = sp.log(C[0, 0] * C[1, 1] / C.det()) / 2
    assert sp.simplify(sp.expand_log(I_ent - I_formula, force=True)) == 0
    # rho^2 form: I = -1/2 ln(1 - rho^2)
    rho2 = C[0, 1] ** 2 / (C[0, 0] * C[1, 1])
    assert is_zero(sp.exp(2 * I_formula) - 1 / (1 - rho2))
    # three blocks: multi-information = sum of block entropies - joint entropy
    R = sp.Rational
    C3 = sp.Matrix([[2, R(1, 2), R(1, 3)], [R(1, 2), 1, R(-1, 4)], [R(1, 3), R(-1, 4), 3]])
    multi = sum(h(sub(C3, [k])) for k in range(3)) - h(C3)
    formula = (sum(sp.log(C3[k, k]) for k in range(3)) - sp.log(C3.det())) / 2
    assert abs(sp.N(multi - formula, 30)) < sp.Float("1e-25")
    ok("[LL-mi]", "I = 1/2 ln(det C_11 det C_22 / det C) = -1/2 ln(1 - rho^2); multi-information")
    return C3, formula


# ---------------------------------------------------------------------------------------------
# Worked examples [LL-ex-ou], [LL-ex-rot], [LL-ex-gyr]
# ---------------------------------------------------------------------------------------------

def check_ou_1d():
    a, dd = sp.symbols("a D", positive=True)
    A, D = sp.Matrix([[a]]), sp.Matrix([[dd]])
    C = lyapunov(A, D)
    assert is_zero(C[0, 0] - dd / a)
    M = -A + D * C.inv()
    assert is_zero(M)
    assert is_zero((A.T * D.inv() * A * C).trace() - A.trace())
    # transient: sigma(t) = (D - a C_t)^2 / (D C_t) + a^2 m_t^2 / D, which is >= 0 and vanishes
    # only at C_t = D/a, m_t = 0
    c, m = sp.symbols("c m", positive=True)
    g = Gaussian(A, D, sp.Matrix([m]), sp.Matrix([[c]]), [[0]])
    assert is_zero(g.sigma() - ((dd - a * c) ** 2 / (dd * c) + a**2 * m**2 / dd))
    ok("[LL-ex-ou]", "1-d OU: C = D/a, M = 0, sigma = 0; transient (D - aC)^2/(DC) + a^2 m^2/D")


def check_rotation():
    k, w, T = sp.symbols("k omega T", positive=True)
    A = sp.Matrix([[k, w], [-w, k]])
    D = T * sp.eye(2)
    C = lyapunov(A, D)
    assert is_zero(C - T / k * sp.eye(2))
    M = (-A + D * C.inv()).applyfunc(sp.cancel)
    assert is_zero(M - sp.Matrix([[0, -w], [w, 0]]))
    sigma = (D.inv() * M * C * M.T).trace()
    assert is_zero(sigma - 2 * w**2 / k)
    Dinv = D.inv()
    for i in range(2):
        sdot = (Dinv * A * C * A.T - Dinv * A * D)[i, i]
        assert is_zero(sdot - w**2 / k)
        assert is_zero(T * sdot - T * w**2 / k)
        assert is_zero(M[i, i])
        assert is_zero((M * C * M.T * Dinv)[i, i] - w**2 / k)
    assert C[0, 1] == 0
    ok("[LL-ex-rot]", "rotation: C = T/k I, M = w J, sigma = 2w^2/k, Q_i = T w^2/k, "
       "Idot = 0, I = 0")


def gyrator_closed_forms():
    k, u, T1, T2 = sp.symbols("k u T1 T2", positive=True)
    Delta = k**2 - u**2
    G = 4 * T1 * T2 * k**2 + u**2 * (T1 - T2) ** 2
    C = sp.Matrix([[T1 * (2 * k**2 - u**2) + T2 * u**2, -k * u * (T1 + T2)],
                   [-k * u * (T1 + T2), T2 * (2 * k**2 - u**2) + T1 * u**2]]) / (2 * k * Delta)
    omega = u * (T1 - T2) / (2 * k)
    return dict(k=k, u=u, T1=T1, T2=T2, Delta=Delta, G=G, C=C, omega=omega,
                detC=G / (4 * k**2 * Delta),
                sigma=u**2 * (T1 - T2) ** 2 / (2 * k * T1 * T2),
                Q=[u**2 * (T2 - T1) / (2 * k), u**2 * (T1 - T2) / (2 * k)],
                Idot=[k * u**2 * (T2**2 - T1**2) / G, k * u**2 * (T1**2 - T2**2) / G],
                sig_i=[u**2 * (T1 - T2) ** 2 * (T1 * (2 * k**2 - u**2) + T2 * u**2)
                       / (2 * k * T1 * G),
                       u**2 * (T1 - T2) ** 2 * (T2 * (2 * k**2 - u**2) + T1 * u**2)
                       / (2 * k * T2 * G)],
                I=sp.log((T1 * (2 * k**2 - u**2) + T2 * u**2)
                         * (T2 * (2 * k**2 - u**2) + T1 * u**2) / (Delta * G)) / 2)


def check_gyrator():
    f = gyrator_closed_forms()
    k, u, T1, T2 = f["k"], f["u"], f["T1"], f["T2"]
    A = sp.Matrix([[k, u], [u, k]])
    D = sp.diag(T1, T2)
    C = lyapunov(A, D)
    assert is_zero(C - f["C"])
    assert is_zero(C.det() - f["detC"])
    W = D - A * C
    assert is_zero(W - f["omega"] * sp.Matrix([[0, 1], [-1, 0]]))
    M = -A + D * C.inv()
    Dinv = D.inv()
    assert is_zero((Dinv * M * C * M.T).trace() - f["sigma"])
    assert is_zero((A.T * Dinv * A * C).trace() - A.trace() - f["sigma"])
    for i, T in enumerate((T1, T2)):
        sdot = (Dinv * A * C * A.T - Dinv * A * D)[i, i]
        assert is_zero(T * sdot - f["Q"][i])
        assert is_zero(-M[i, i] - f["Idot"][i])
        assert is_zero((M * C * M.T * Dinv)[i, i] - f["sig_i"][i])
        assert is_zero(f["sig_i"][i] - (f["Q"][i] / T - f["Idot"][i]))
    assert is_zero(f["Q"][0] / T1 + f["Q"][1] / T2 - f["sigma"])
    assert is_zero(sp.exp(2 * f["I"]) - C[0, 0] * C[1, 1] / C.det())
    # equal temperatures: equilibrium (sigma = 0, I = 1/2 ln(k^2 / (k^2 - u^2)))
    T = sp.Symbol("T", positive=True)
    assert is_zero(f["sigma"].subs({T1: T, T2: T}))
    assert is_zero(sp.exp(2 * f["I"].subs({T1: T, T2: T})) - k**2 / (k**2 - u**2))
    ok("[LL-ex-gyr]", "gyrator: C, det C, W = omega J, sigma = u^2 (T1-T2)^2/(2 k T1 T2)")
    ok("[LL-ex-gyr]", "gyrator: Q_1 = -Q_2 = u^2 (T2-T1)/(2k), Idot_i, sigma_i, I in closed form")


# ---------------------------------------------------------------------------------------------
# Comparison with the package (numbers and the symbolic module)
# ---------------------------------------------------------------------------------------------

def compare_with_package(moment_case, C3, multi3, transient3):
    import numpy as np

    import stochthermo as st
    from stochthermo import exact

    f = gyrator_closed_forms()
    vals = {f["k"]: sp.Rational(3, 2), f["u"]: sp.Rational(2, 5), f["T1"]: 1, f["T2"]: 3}
    num = {s.name: float(v) for s, v in vals.items()}
    gy = st.LinearLangevin([[num["k"], num["u"]], [num["u"], num["k"]]],
                           np.diag([num["T1"], num["T2"]]))

    def close(a, b, tol=1e-12):
        a, b = np.asarray(a, float), np.asarray(b, float)
        assert np.allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max())), (a, b)

    close(exact.stationary_covariance(gy), np.array(f["C"].subs(vals), dtype=float))
    close(exact.entropy_production(gy), float(f["sigma"].subs(vals)))
    close(exact.heat_rates(gy), [float(q.subs(vals)) for q in f["Q"]])
    close(exact.information_flow(gy), [float(q.subs(vals)) for q in f["Idot"]])
    close(exact.subsystem_entropy_production(gy), [float(q.subs(vals)) for q in f["sig_i"]])
    close(exact.mutual_information(gy), float(f["I"].subs(vals)))
    # transient moments of the concrete model
    A, D, m0, C0, mt, Ct, t = moment_case
    lm = st.LinearLangevin(np.array(A, dtype=float), np.array(D, dtype=float))
    mo = exact.moments(lm, [0.0, 0.7], mean0=np.array(m0, dtype=float).ravel(),
                       cov0=np.array(C0, dtype=float))
    close(mo.mean[1], np.array(mt.subs(t, sp.Rational(7, 10)).evalf(30), dtype=float).ravel())
    close(mo.cov[1], np.array(Ct.subs(t, sp.Rational(7, 10)).evalf(30), dtype=float))
    close(exact.mutual_information(cov=np.array(C3, dtype=float), blocks=[1, 1, 1]),
          float(multi3))
    ok("package", "stochthermo.exact matches the gyrator, moments and multi-information")
    # transient 3-d state: the package's formulas against the definitions evaluated above
    g3, flows, sigmas, sdots = transient3
    f64 = lambda M: np.array(M, dtype=float)  # noqa: E731
    m3 = st.LinearLangevin(f64(g3.A), f64(g3.D), blocks=[[0, 1], [2]])
    state = dict(mean=f64(g3.m).ravel(), cov=f64(g3.C))
    close(exact.entropy_production(m3, **state), float(g3.sigma()))
    close(exact.medium_entropy_rates(m3, **state), [float(v) for v in sdots])
    close(exact.information_flow(m3, **state), [float(v) for v in flows])
    close(exact.subsystem_entropy_production(m3, **state), [float(v) for v in sigmas])
    ok("package", "exact transient sigma, Sdot_i, Idot_i, sigma_i match the definitions (3-d)")

    from stochthermo.symbolic import derive_linear

    d = derive_linear([["k", "u"], ["u", "k"]], [["T1", 0], [0, "T2"]])
    ren = {s: sp.Symbol(s.name, positive=True) for s in d.symbols}
    for name, ours in (("entropy_production_rate", f["sigma"]),):
        theirs = d.expression(name).xreplace(ren)
        assert is_zero(theirs - ours), name
    for name, ours in (("heat_rates", f["Q"]), ("information_flows", f["Idot"]),
                       ("subsystem_entropy_production", f["sig_i"])):
        theirs = d.expression(name).xreplace(ren)
        assert all(is_zero(theirs[i] - ours[i]) for i in range(2)), name
    assert is_zero(d.stationary_covariance.xreplace(ren) - f["C"])
    ok("package", "stochthermo.symbolic.derive_linear matches the gyrator closed forms")


def main():
    check_fokker_planck()
    moment_case = check_moments_solution()
    A, D, C = check_covariance()
    check_current(A, D, C)
    check_detailed_balance()
    check_entropy_production(A, D, C)
    transient3 = check_bipartite_transient()
    check_bipartite_steady()
    C3, multi3 = check_mutual_information()
    check_ou_1d()
    check_rotation()
    check_gyrator()
    compare_with_package(moment_case, C3, multi3, transient3)
    print(f"all linear-Langevin checks passed in {time.perf_counter() - T0:.1f} s")


if __name__ == "__main__":
    main()
