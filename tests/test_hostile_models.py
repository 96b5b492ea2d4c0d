"""Hostile input to the numeric models: every reproducer gives our own error with a clear message.

Each case once passed silently (complex parts dropped, True counted as 1, a 0x0 model, a
subnormal drift giving an inf/NaN covariance) or failed with a foreign or vague error.
"""

import numpy as np
import pytest

import stochthermo as st
from stochthermo import exact
from stochthermo.errors import ShapeError, UnstableModelError, ValidationError
from stochthermo.models.linear import (
    MAX_DRIFT_CONDITION,
    MAX_ENTRY,
    MIN_DRIFT_RATE,
    MIN_MAP_GAP,
    check_stable_drift,
)
from stochthermo.models.nonlinear import DrivenTrap, NonlinearLangevin, double_well, dragged_trap

I2 = np.eye(2)


def _drift(x, t, out):
    out[0] = -x[0]


# ---------------------------------------------------------------- LinearLangevin: matrices

@pytest.mark.parametrize(
    "A, D, exc, match",
    [
        # complex NumPy input used to lose its imaginary part with only a ComplexWarning
        (np.array([[1 + 1j, 0], [0, 1]]), I2, ValidationError,
         r"A=.*is complex \(largest \|imaginary part\| 1\).*numpy\.real"),
        (I2, np.array([[1, 0], [0, 1]], dtype=complex), ValidationError,
         r"D=.*is complex \(largest \|imaginary part\| 0\)"),
        ([[1 + 1j, 0], [0, 1]], I2, ValidationError, r"A=\[\[\(1\+1j\).*is complex"),
        (np.eye(2, dtype=np.complex64), I2, ValidationError, "A=.*is complex"),
        # text and None were parsed or became NaN
        ("1", [[1.0]], ValidationError, "A='1' is a string; pass numbers"),
        ([[None]], [[1.0]], ValidationError, r"A=\[\[None\]\] contains None"),
        (np.array([[True]]), [[1.0]], ValidationError, "A=.*is a boolean"),
        # subnormal eigenvalue: 1/rate overflows (was an inf/NaN covariance)
        ([[1e-320, 0.0], [0.0, 1.0]], I2, UnstableModelError,
         r"eigenvalue 1e-320.*subnormal rate below 2\.23e-308.*rescale time or units"),
        ([[1e-320]], [[1.0]], UnstableModelError, "subnormal rate"),
        # condition number beyond float64 resolution
        ([[1e-17, 0.0], [0.0, 1.0]], I2, UnstableModelError,
         r"A is too ill-conditioned: \|\|A\|\|_F / min Re\(eigenvalue\) = 1e\+17 > 1e\+15.*"
         "Rescale time or units"),
        ([[1.0, 1e20], [0.0, 1.0]], I2, UnstableModelError, "too ill-conditioned"),
        # entries whose products overflow
        (1e308 * I2, I2, ValidationError, r"A\[0, 0\] = 1e\+308 exceeds 1e\+150"),
        (I2, 1e300 * I2, ValidationError, r"D\[0, 0\] = 1e\+300 exceeds 1e\+150"),
        # empty model
        (np.zeros((0, 0)), np.zeros((0, 0)), ShapeError,
         r"A is empty \(shape \(0, 0\)\).*d >= 1"),
        ([], [], ShapeError, "A is empty"),
        # non-finite entries: the message names the entry
        ([[np.nan, 0.0], [0.0, 1.0]], I2, ValidationError,
         r"A contains a non-finite value, A\[0, 0\] = nan \(1 of 4 entries\).*replace"),
        (I2, [[1.0, 0.0], [0.0, np.inf]], ValidationError,
         r"D contains a non-finite value, D\[1, 1\] = inf"),
        # D not symmetric / not PSD
        (I2, [[1.0, 0.5], [0.0, 1.0]], ValidationError,
         r"D must be symmetric.*D\[0, 1\] = 0\.5 and D\[1, 0\] = 0.*\(M \+ M\.T\) / 2"),
        (I2, [[1.0, 0.0], [0.0, -1.0]], ValidationError,
         r"eigenvalue -1.*any B @ B\.T is one"),
        # wrong shapes
        ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], I2, ShapeError,
         r"A must be square, got shape \(2, 3\); pass a \(d, d\) matrix"),
        (I2, np.eye(3), ShapeError, r"D has shape \(3, 3\) but the model has dimension 2"),
    ],
)
def test_linear_langevin_refuses(A, D, exc, match):
    with pytest.raises(exc, match=match):
        st.LinearLangevin(A, D)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"x_star": np.array([1j, 0.0])}, "x_star=.*is complex"),
        ({"x_star": [True, False]}, "x_star=.*boolean"),
        ({"temperatures": True}, "temperatures=True is a boolean"),
        ({"temperatures": [1.0, np.nan], "blocks": [1, 1]},
         r"temperatures contains a non-finite value, temperatures\[1\] = nan"),
    ],
)
def test_linear_langevin_refuses_vectors(kw, match):
    with pytest.raises(ValidationError, match=match):
        st.LinearLangevin(I2, I2, **kw)


def test_thresholds_are_the_documented_constants():
    assert MIN_DRIFT_RATE == np.finfo(np.float64).tiny
    assert MAX_DRIFT_CONDITION == 1e15 and MIN_MAP_GAP == 1e-15 and MAX_ENTRY == 1e150
    # just inside the bounds is accepted, just outside refused (the checks are not too broad)
    st.LinearLangevin([[0.5e-15 * 1.01, 0.0], [0.0, 0.5]], I2)
    with pytest.raises(UnstableModelError, match="ill-conditioned"):
        st.LinearLangevin([[0.5e-15 * 0.99, 0.0], [0.0, 0.5]], I2)
    st.LinearLangevin([[1e-300]], [[1.0]])  # a slow but normal rate, scale-free ratio 1
    st.LinearLangevin(MAX_ENTRY * I2, I2)


def test_exact_and_model_refuse_alike():
    """exact.* takes models only, so it inherits the constructor's refusal; the helper agrees."""
    for A in ([[1e-320, 0.0], [0.0, 1.0]], [[-1.0]], [[1e-17, 0.0], [0.0, 1.0]]):
        with pytest.raises(UnstableModelError) as by_model:
            st.LinearLangevin(A, np.eye(len(A)))
        with pytest.raises(UnstableModelError) as by_helper:
            check_stable_drift(A)
        assert str(by_model.value) == str(by_helper.value)
    # the same hessian refusal for the SGD model as for its continuous limit
    with pytest.raises(UnstableModelError, match="ill-conditioned"):
        st.LinearizedSGD([[1e-17, 0.0], [0.0, 1.0]], I2, lr=0.1, batch_size=1)
    # matrices passed to exact functions are validated the same way
    m = st.LinearLangevin(I2, I2)
    with pytest.raises(ValidationError, match="cov=.*is complex"):
        exact.entropy_production(m, cov=np.eye(2, dtype=complex))
    with pytest.raises(ShapeError, match="cov is empty"):
        exact.mutual_information(cov=np.zeros((0, 0)), blocks=[])
    with pytest.raises(ValidationError, match="mean0=.*is complex"):
        exact.moments(m, [1.0], mean0=[1j, 0.0])


# ---------------------------------------------------------------- LinearizedSGD

def test_sgd_unstable_map_is_flagged_at_construction():
    m = st.LinearizedSGD(np.eye(1), np.eye(1), lr=5.0, batch_size=1)
    assert m.spectral_radius == pytest.approx(4.0)
    assert m.max_stable_lr == pytest.approx(2.0)
    assert not m.is_stable_map
    msg = r"spectral radius 4 >= 1 \(lr=5\.0.*diverges.*use lr < .* = 2\b"
    with pytest.raises(UnstableModelError, match=msg):
        m.check_stable_map()
    with pytest.raises(UnstableModelError, match=msg):
        exact.stationary_covariance(m)
    with pytest.raises(UnstableModelError, match=msg):
        exact.moments(m, [1])
    # null control: a stable map passes and its radius matches the update matrix
    ok = st.LinearizedSGD(np.diag([3.0, 1.0]), I2, lr=0.5, batch_size=1)
    assert ok.check_stable_map() is ok and ok.is_stable_map
    rho = np.max(np.abs(np.linalg.eigvals(ok.update_matrix())))
    assert ok.spectral_radius == pytest.approx(rho, rel=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.3, 0.9])
def test_sgd_largest_stable_lr_with_momentum(momentum):
    H = np.diag([4.0, 1.0, 0.25])
    lr_max = 2.0 * (1.0 + momentum) / 4.0
    below = st.LinearizedSGD(H, np.eye(3), lr=0.99 * lr_max, batch_size=2, momentum=momentum)
    above = st.LinearizedSGD(H, np.eye(3), lr=1.01 * lr_max, batch_size=2, momentum=momentum)
    assert below.max_stable_lr == pytest.approx(lr_max)
    for m in (below, above):
        rho = np.max(np.abs(np.linalg.eigvals(m.update_matrix())))
        assert m.spectral_radius == pytest.approx(rho, rel=1e-9)
    assert below.is_stable_map and not above.is_stable_map
    with pytest.raises(UnstableModelError, match="spectral radius"):
        above.check_stable_map()


def test_sgd_lr_below_float_resolution():
    m = st.LinearizedSGD(np.eye(1), np.eye(1), lr=1e-20, batch_size=1)
    with pytest.raises(UnstableModelError, match=r"only 1e-20 below 1.*raise lr.*to_langevin"):
        m.check_stable_map()


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"lr": True}, "lr=True is a boolean, not a number"),
        ({"lr": 1j}, "lr=1j is complex"),
        ({"lr": "0.1"}, "lr='0.1' is a string"),
        ({"lr": np.nan}, "lr=nan must be finite; pass a finite number"),
        ({"batch_size": True}, "batch_size=True is a boolean, not a count; pass an int"),
        ({"batch_size": np.True_}, r"batch_size=np\.True_ is a boolean"),
        ({"momentum": True}, "momentum=True is a boolean"),
        ({"dataset_size": True}, "dataset_size=True is a boolean"),
        ({"hessian": np.zeros((0, 0)), "grad_noise_cov": np.zeros((0, 0))}, "hessian is empty"),
        ({"hessian": np.eye(2) * (1 + 0j)}, "hessian=.*is complex"),
        ({"grad_noise_cov": [[1.0, np.inf], [np.inf, 1.0]]},
         r"grad_noise_cov\[0, 1\] = inf"),
    ],
)
def test_sgd_refuses(kw, match):
    args = {"hessian": I2, "grad_noise_cov": I2, "lr": 0.1, "batch_size": 2} | kw
    with pytest.raises(ValidationError, match=match):
        st.LinearizedSGD(**args)


# ---------------------------------------------------------------- counts everywhere

def test_bool_counts_refused_in_simulate():
    m = st.LinearLangevin([[1.0]], [[1.0]])
    for kw in ({"n_steps": True}, {"n_traj": True}, {"save_every": True}):
        args = {"n_traj": 2, "n_steps": 4, "dt": 0.1, "seed": 0} | kw
        name = next(iter(kw))
        with pytest.raises(ValidationError, match=f"{name}=True is a boolean, not a count"):
            st.simulate(m, **args)
    # null control: the same call with ints runs
    assert st.simulate(m, n_traj=2, n_steps=4, dt=0.1, seed=0).x.shape == (2, 5, 1)


# ---------------------------------------------------------------- nonlinear constructors

@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: NonlinearLangevin(3, 1.0, dim=1), "drift=3 is not callable; pass a function"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=True), "dim=True is a boolean"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=0), "dim=0 must be an integer >= 1"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=1.5), "dim=1.5 must be an integer"),
        (lambda: NonlinearLangevin(_drift, 1.0), r"D=1\.0 is a scalar, so dim= must be given"),
        (lambda: NonlinearLangevin(_drift, 1 + 1j, dim=1), "D=.*is complex"),
        (lambda: NonlinearLangevin(_drift, np.nan, dim=1),
         "D contains a non-finite value, D = nan"),
        (lambda: NonlinearLangevin(_drift, lambda x: x, dim=1), "D=.*is a function"),
        (lambda: NonlinearLangevin(_drift, np.zeros((0, 0))), "D is empty"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=1, params=[1j]), "params=.*is complex"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=1, params=[np.inf]),
         r"params contains a non-finite value, params\[0\] = inf"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=1, time_dependent="no"),
         "time_dependent='no' must be True or False"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=1, temperatures=[-1.0]),
         r"temperatures=\[-1\.0\] must all be > 0"),
        (lambda: NonlinearLangevin(_drift, 1.0, dim=1, potential=5), "potential=5 is not callable"),
        (lambda: double_well(dim=True), "dim=True is a boolean"),
        (lambda: double_well(dim=0), "dim=0 must be an integer >= 1"),
        (lambda: double_well(dim=2.5), "dim=2.5 must be an integer"),
        (lambda: double_well(tilt=np.nan), "tilt=nan must be finite"),
        (lambda: double_well(tilt=True), "tilt=True is a boolean"),
        (lambda: double_well(barrier=True), "barrier=True is a boolean"),
        (lambda: dragged_trap(dim=True), "dim=True is a boolean"),
        (lambda: dragged_trap(dim=0), "dim=0 must be an integer >= 1"),
        (lambda: dragged_trap(stiffness=1j), "stiffness=1j is complex"),
        (lambda: dragged_trap(stiffness="a"), "stiffness='a' is a string"),
        (lambda: dragged_trap(velocity=[1.0, 2.0]),
         r"velocity must have shape \(1,\).*one number per dimension"),
        (lambda: dragged_trap(np.eye(2), dim=3), r"stiffness has shape \(2, 2\).*dimension 3"),
        (lambda: DrivenTrap(1.0, temperature=True), "temperature=True is a boolean"),
        (lambda: DrivenTrap(np.zeros((0, 0))), "stiffness is empty"),
        (lambda: DrivenTrap(1.0, centre="x"), "centre='x' is a string"),
        (lambda: DrivenTrap(1.0, centre=lambda t: 1j * t),
         r"centre\(t=0\.0\)=.*is complex"),
        (lambda: DrivenTrap(1.0, centre=lambda t: [t, t]), r"centre\(t=0\.0\) returned"),
        (lambda: DrivenTrap(1.0, stiffness_scale=2.0), "stiffness_scale=2.0 must be a function"),
        (lambda: DrivenTrap(1.0, stiffness_scale=lambda t: -1.0),
         r"stiffness_scale\(t=0\.0\) = -1\.0 must be > 0"),
        (lambda: NonlinearLangevin(_drift, np.eye(2), blocks=[True, False]),
         "blocks=.*contains a boolean"),
    ],
)
def test_nonlinear_constructors_refuse(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


# ---------------------------------------------------------------- reprs

def _fn(x, t, out):
    out[:] = -x


@pytest.mark.parametrize(
    "model, starts, needles",
    [
        (st.LinearLangevin(np.eye(500), np.eye(500)), "LinearLangevin(",
         ["d=500", "A=<500x500>", "D=<500x500>", "n_blocks=500", "temperatures=<500>"]),
        (st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], I2, x_star=[1.0, 2.0]), "LinearLangevin(",
         ["d=2", "A=[[ 1. , 0.5], [-0.5, 1. ]]", "x_star=[1., 2.]", "blocks=((0,), (1,))"]),
        (st.LinearizedSGD(np.eye(300), np.eye(300), lr=0.1, batch_size=8), "LinearizedSGD(",
         ["d=300", "hessian=<300x300>", "lr=0.1", "batch_size=8", "momentum=0.0"]),
        (NonlinearLangevin(_fn, 0.5, dim=400, params=np.ones(1000), name="N" * 1000),
         "N" * 40 + "(", ["d=400", "drift=_fn", "D=<400x400>", "params=<1000>"]),
        (double_well(dim=3, tilt=0.1), "DoubleWell(",
         ["d=3", "drift=double_well_drift", "params=[1. , 0.1]", "potential="]),
        (dragged_trap(np.eye(200), velocity=1.0), "DrivenTrap(",
         ["d=200", "K=<200x200>", "T=1.0", "centre="]),
        (DrivenTrap(2.0, centre=[1.0]), "DrivenTrap(", ["d=1", "K=[[2.]]", "centre=[1.]"]),
    ],
)
def test_repr_is_bounded_and_readable(model, starts, needles):
    text = repr(model)
    assert len(text) <= 300, text
    assert text.startswith(starts) and text.endswith(")")
    for needle in needles:
        assert needle in text, (needle, text)


def test_integer_helpers_take_ints_and_whole_floats_only():
    from stochthermo._validation import positive_int

    assert positive_int("n", np.int64(3)) == 3 and positive_int("n", 3.0) == 3  # null control
    for bad, match in ((True, "n=True is a boolean"), (np.False_, "n=np.False_ is a boolean"),
                       (2.5, "n=2.5 must be an integer"), ("3", "n='3' must be an integer")):
        with pytest.raises(ValidationError, match=match):
            positive_int("n", bad)
