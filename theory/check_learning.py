"""Re-derive the closed forms of the linear-Gaussian lagged learner and assert them.

Run: python theory/check_learning.py   (a few seconds). See theory/learning.md.
"""

import random

import sympy as sp

t = sp.Symbol("t", integer=True, nonnegative=True)
P = sp.Symbol("P", positive=True)  # stands for (1 - k)^t; one step multiplies it by (1 - k)
k, v0, sd, N, m, s = sp.symbols("k v0 sd N m s", positive=True)
mu, mu0 = sp.symbols("mu mu0", real=True)
a = 1 - k

# 1. moments solve their recursions ------------------------------------------------------
c = 1 - P
g = (1 - P**2) / (1 - a**2)
V = P**2 * v0 + k**2 * sd**2 * g / m
e = c * sd**2 / N
W = V + c**2 * sd**2 / N
M = P * mu0 + c * mu


def nxt(expr):
    return expr.subs(P, a * P)


assert sp.cancel(nxt(V) - (a**2 * V + k**2 * sd**2 / m)) == 0            # Var(theta|B)
assert sp.cancel(nxt(e) - (a * e + k * sd**2 / N)) == 0                  # Cov(theta, Bbar)
assert sp.cancel(nxt(M) - (a * M + k * mu)) == 0                         # mean
# Var theta_{t+1} = a^2 W + k^2 (Var Bbar + sd^2/m) + 2 a k Cov(theta, Bbar)
assert sp.cancel(nxt(W) - (a**2 * W + k**2 * (sd**2 / N + sd**2 / m) + 2 * a * k * e)) == 0
assert sp.cancel(V.subs(P, 1) - v0) == 0 and sp.cancel(W.subs(P, 1) - v0) == 0
print("moments: recursions and initial values OK")

# 2. information quantities from the joint Gaussian --------------------------------------
vb = sd**2 / N


def gauss_ratio(var_x, var_y, cov):
    return var_x * var_y / (var_x * var_y - cov**2)


def gauss_mi(var_x, var_y, cov):
    return sp.log(gauss_ratio(var_x, var_y, cov)) / 2


I_M = gauss_mi(W, vb, e)
I_L = gauss_mi(W + s**2, vb, e)
assert sp.cancel(gauss_ratio(W, vb, e) - (1 + c**2 * sd**2 / (N * V))) == 0
assert sp.cancel(gauss_ratio(W + s**2, vb, e) - (1 + c**2 * sd**2 / (N * (V + s**2)))) == 0
I_XT = gauss_mi(W + s**2, W, W)
assert sp.cancel(gauss_ratio(W + s**2, W, W) - (1 + W / s**2)) == 0
# data processing: (1 + u/(V+s^2)) <= (1 + u/V)
u = sp.Symbol("u", positive=True)
assert sp.cancel((1 + u / V) - (1 + u / (V + s**2)) - u * s**2 / (V * (V + s**2))) == 0
print("I_M, I_L, I(X;Theta) OK; I_L <= I_M")

# 3. work, heat, flows and the two routes to sigma^X -------------------------------------
W1 = nxt(W)
K = a * W + k * e                      # Cov(theta_t, theta_{t+1}) = Cov(X_{t+1}, theta_{t+1})
Ed2 = k**2 * ((mu - M) ** 2 + W - 2 * e + vb + sd**2 / m)   # E (theta_{t+1} - theta_t)^2
work = Ed2 / (2 * s**2)
heat = (s**2 - (s**2 + Ed2)) / (2 * s**2)
assert sp.cancel(heat + work) == 0
flow_x = sp.log(1 + W1 / s**2) / 2 - gauss_mi(W + s**2, W1, K)
route1 = sp.log((W1 + s**2) / (W + s**2)) / 2 - heat - flow_x
v1 = (W + s**2) - K**2 / W1
off2 = (nxt(M) - M) ** 2 + (K / W1 - 1) ** 2 * W1
route2 = (v1 / s**2 + off2 / s**2 - 1 - sp.log(v1 / s**2)) / 2
# the identity v1 + off2 = s^2 + E delta^2 makes the routes equal
nxtM = a * M + k * mu
ident = sp.expand(v1 + ((nxtM - M) ** 2 + (K / W1 - 1) ** 2 * W1) - s**2 - Ed2)
rng = random.Random(1)


def q(lo, hi):
    return sp.Rational(rng.randint(int(lo * 100), int(hi * 100)), 100)


for _ in range(2):
    vals = {k: q(0.01, 0.99), v0: q(0, 2), sd: q(0.1, 2), N: rng.randint(1, 50),
            m: rng.randint(1, 10), s: q(0.2, 2), mu: q(-2, 2), mu0: q(-2, 2),
            t: rng.randint(0, 40)}
    vals[P] = (1 - vals[k]) ** vals[t]
    assert sp.cancel(ident.subs(vals)) == 0          # exact rational arithmetic
    r1 = route1.subs(vals).evalf(50)
    r2 = route2.subs(vals).evalf(50)
    assert abs(r1 - r2) < 1e-40, (r1, r2)
    assert r1 >= 0
print("work = -heat, sigma^X route 1 == route 2 (exact / 50 digits), sigma^X >= 0 OK")

# 4. quasi-static limit: sum_{t<n} <KL> ~ lr at fixed horizon (leading order) -------------
r, tau = sp.symbols("r tau", positive=True)
# noise part of the sum: n * k^2 sd^2/m / (2 s^2) with n = tau / r, k = r / s^2
noise_part = (tau / r) * (r / s**2) ** 2 * sd**2 / m / (2 * s**2)
assert sp.simplify(sp.diff(sp.log(noise_part), r) * r) == 1
print("quasi-static: conditional EP ~ lr^1 OK")
# 5. reshuffling: batch means of one epoch (section 8) ------------------------------------
import itertools  # noqa: E402

for Nn, mm in ((4, 2), (5, 2), (6, 3)):
    bs = sp.symbols(f"b0:{Nn}", real=True)
    bbar = sum(bs) / Nn
    SB = sum((x - bbar) ** 2 for x in bs) / Nn          # the training set's own variance
    perms = list(itertools.permutations(range(Nn)))
    var1 = sum((sum(bs[i] for i in p[:mm]) / mm - bbar) ** 2 for p in perms) / len(perms)
    cov12 = sum((sum(bs[i] for i in p[:mm]) / mm - bbar)
                * (sum(bs[i] for i in p[mm:2 * mm]) / mm - bbar) for p in perms) / len(perms)
    assert sp.expand(var1 - SB * (Nn - mm) / (mm * (Nn - 1))) == 0
    assert sp.expand(cov12 + SB / (Nn - 1)) == 0
print("reshuffling: Var = S_B (N-m)/(m(N-1)), Cov(two batches) = -S_B/(N-1) OK")

# 6. isotropic medium entropy = q_Theta / T_eff (section 7) ------------------------------
th, th1, bb, sig = sp.symbols("theta theta1 Bbar sigma", real=True)
Q = k**2 * sig**2
a_fw = th1 - (1 - k) * th - k * bb
b_bw = th - (1 - k) * th1 - k * bb
ds_m = (b_bw**2 - a_fw**2) / (2 * Q)
q_theta = -((th1 - bb) ** 2 - (th - bb) ** 2) / (2 * s**2)
T_eff = k * sig**2 / ((2 - k) * s**2)
assert sp.simplify(ds_m - q_theta / T_eff) == 0
# T_eff makes exp(-U_B/T_eff) stationary: Var = k^2 sigma^2 / (1 - (1-k)^2) = T_eff s^2
assert sp.simplify(k**2 * sig**2 / (1 - (1 - k) ** 2) - T_eff * s**2) == 0
print("reservoir: Delta s_m = q_Theta / T_eff for isotropic noise OK")
print("all checks passed")
