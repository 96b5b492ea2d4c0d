"""Bit-identity of seeded outputs: SHA-256 of every array a seeded run returns.

The expected digests were computed once on the code before the simulation, learning and
bridge orchestrators were split into plans, recorders and accumulators; any change of a single
bit of ``simulate``, ``learn``, ``GaussianLearner.simulate`` or ``bridge.diagnose`` output (or
of the set of ``meta`` keys) changes a digest. Each case is small (a few trajectories and
steps), so the whole file runs in seconds once the kernels are compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
from types import MappingProxyType

import numpy as np
import pytest

import stochthermo as st
from stochthermo.bridge import TrajectoryWriter, diagnose, open_runs
from stochthermo.learning import (
    GaussianLearner,
    GaussianMean,
    LinearRegression,
    MLPClassifier,
    SoftmaxRegression,
    learn,
)
from stochthermo.models.nonlinear import double_well, dragged_trap

# --------------------------------------------------------------------------- hashing


def _feed(h, obj, path="") -> None:
    """Feed ``obj`` into ``h``: arrays as float64 (integers as int64) bytes, mappings sorted."""
    if obj is None:
        h.update(f"{path}=None;".encode())
    elif isinstance(obj, np.ndarray) or isinstance(obj, float | int | np.number) and not \
            isinstance(obj, bool):
        a = np.asarray(obj)
        if a.dtype.kind in "iub":
            a = np.ascontiguousarray(a.astype(np.int64) if a.dtype.kind != "u"
                                     else a.view(np.int64) if a.dtype.itemsize == 8
                                     else a.astype(np.int64))
        else:
            a = np.ascontiguousarray(a, dtype=np.float64)
        h.update(f"{path}:{a.shape};".encode())
        h.update(a.tobytes())
    elif isinstance(obj, bool | str):
        h.update(f"{path}={obj!r};".encode())
    elif isinstance(obj, dict | MappingProxyType):
        for k in sorted(obj, key=str):
            _feed(h, obj[k], f"{path}.{k}")
    elif isinstance(obj, tuple | list):
        for i, v in enumerate(obj):
            _feed(h, v, f"{path}[{i}]")
    else:
        raise TypeError(f"cannot hash {type(obj)} at {path}")


def _ensemble_parts(ens) -> dict:
    state = ens.meta.get("state")
    parts = {"x": ens.x, "t": ens.t, "dt": ens.dt, "observables": dict(ens.observables),
             "meta_keys": sorted(ens.meta)}
    if state is not None:
        parts["state"] = {k: state[k] for k in ("x", "acc", "seeds", "counters", "steps_done")}
        parts["state_keys"] = sorted(state)
    return parts


def _moments_parts(mom) -> dict:
    return {"t": mom.t, "count": mom.count, "mean": mom.mean, "m2": mom.m2,
            "columns": {k: [v.start, v.stop] for k, v in mom.columns.items()},
            "meta_keys": sorted(mom.meta)}


_LEARN_FIELDS = ("steps", "lr", "batch_size", "n_trials", "n_datasets", "data_of",
                 "dataset_mean", "params", "samples", "loss", "accuracy", "output_entropy",
                 "grad_max", "batch_loss", "work", "heat", "energy", "kl", "kl_fisher",
                 "heat_theta", "probe", "param_subset")


def _learning_parts(ens) -> dict:
    parts = {name: getattr(ens, name) for name in _LEARN_FIELDS}
    parts["meta_keys"] = sorted(ens.meta)
    return parts


def _estimate_parts(e) -> dict | None:
    if e is None:
        return None
    return {"value": e.value, "stderr": e.stderr, "method": e.method}


#: the RunDiagnostics fields and meta entries pinned (fields added later are not hashed)
_RUN_FIELDS = ("name", "batch_size", "lr", "steps", "interval", "indices", "trajectories",
               "noise_var", "noise_var_stderr", "drift_max", "autocorr", "autocorr_stderr",
               "noise_var_logged", "scalars", "thermo", "temperature", "meta")
_RUN_META = ("autocorr_params", "dropped_steps", "dtype", "n_params", "n_trials")


def _diagnostics_parts(diag) -> dict:
    runs = []
    for r in diag.runs:
        fields = {name: getattr(r, name) for name in _RUN_FIELDS}
        fields["temperature"] = _estimate_parts(r.temperature)
        fields["meta"] = {k: r.meta[k] for k in _RUN_META}
        fields["scalars"] = {k: list(v) for k, v in r.scalars.items()}
        fields["thermo"] = None if r.thermo is None else dict(r.thermo)
        runs.append(fields)
    return {"runs": runs, "batch_scaling": _estimate_parts(diag.batch_scaling)}


def digest(result) -> str:
    """SHA-256 of the arrays of a result of simulate, learn or diagnose."""
    if isinstance(result, st.Ensemble):
        parts = _ensemble_parts(result)
    elif type(result).__name__ == "EnsembleMoments":
        parts = _moments_parts(result)
    elif type(result).__name__ == "LearningEnsemble":
        parts = _learning_parts(result)
    elif type(result).__name__ == "Diagnostics":
        parts = _diagnostics_parts(result)
    else:
        raise TypeError(type(result))
    h = hashlib.sha256()
    _feed(h, parts)
    return h.hexdigest()


# --------------------------------------------------------------------------- simulate cases

DIAG = st.LinearLangevin([[1.0, 0.0], [0.0, 2.5]], [[0.5, 0.0], [0.0, 1.5]],
                         x_star=[0.3, -0.2])
DENSE = st.LinearLangevin([[1.0, 0.6], [-0.4, 1.5]], [[1.0, 0.2], [0.2, 0.8]],
                          x_star=[0.1, 0.2], blocks=[2])
DENSE_BIPARTITE = st.LinearLangevin([[1.0, 0.6], [-0.4, 1.5]], [[1.0, 0.0], [0.0, 0.5]])
CURRENT = st.LinearCurrent("area", weight=[[0.0, -1.0], [1.0, 0.0]])
SHIFT = st.LinearCurrent("shift", offset=[1.0, 0.0])
SGD = st.LinearizedSGD([[2.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 0.5]], lr=0.1,
                       batch_size=2)
SGD_DENSE = st.LinearizedSGD([[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 0.5]], lr=0.1,
                             batch_size=2, theta_star=[0.5, -0.5])
SGD_NOISY = st.LinearizedSGD([[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.2], [0.2, 0.5]], lr=0.1,
                             batch_size=2, dataset_size=10)
SGD_MOMENTUM = st.LinearizedSGD([[2.0, 0.3], [0.3, 1.0]], [[1.0, 0.0], [0.0, 0.5]], lr=0.1,
                                batch_size=2, momentum=0.5)
TRAP = dragged_trap(stiffness=2.0, velocity=0.7, temperature=0.8)
TRAP2 = st.DrivenTrap([[2.0, 0.5], [0.5, 1.0]], 0.6, centre=lambda t: [0.2 * t, -0.1 * t],
                      stiffness_scale=lambda t: 1.0 + 0.5 * t)
WELL = double_well(barrier=1.0, temperature=0.7, dim=2, tilt=0.1)

KW = {"n_traj": 6, "n_steps": 30, "save_every": 3, "seed": 17}


def _sim(model, **kw):
    return st.simulate(model, **{**KW, **kw})


def _resumed(model, **kw):
    first = st.simulate(model, **{**KW, "n_steps": 15, **kw})
    kw.pop("x0", None)
    return st.simulate(model, n_steps=15, save_every=3, resume=first,
                       observables=kw.get("observables", ()))


SIM_CASES = {
    "diag-euler": lambda: _sim(DIAG, dt=0.02, observables=("heat", "medium_entropy")),
    "diag-heun": lambda: _sim(DIAG, dt=0.02, method="heun", observables=("heat",)),
    "diag-exact": lambda: _sim(DIAG, dt=0.2, method="exact", observables=("medium_entropy",)),
    "diag-plain-1d": lambda: _sim(st.LinearLangevin([[1.5]], [[0.5]]), dt=0.05, n_traj=9),
    "diag-stationary": lambda: _sim(DIAG, dt=0.02, x0="stationary"),
    "dense-euler": lambda: _sim(DENSE, dt=0.02, observables=("heat", CURRENT)),
    "dense-heun": lambda: _sim(DENSE, dt=0.02, method="heun",
                               observables=("medium_entropy", SHIFT)),
    "dense-exact": lambda: _sim(DENSE_BIPARTITE, dt=0.3, method="exact",
                                observables=("heat", "medium_entropy", CURRENT)),
    "dense-x0-rows": lambda: _sim(DENSE, dt=0.02, x0=np.arange(12.0).reshape(6, 2) / 10),
    "sgd-diag": lambda: _sim(SGD, observables=("heat",)),
    "sgd-dense": lambda: _sim(SGD_DENSE, observables=("heat", "medium_entropy")),
    "sgd-correlated-noise": lambda: _sim(SGD_NOISY, observables=(CURRENT,)),
    "sgd-momentum": lambda: _sim(SGD_MOMENTUM, observables=("heat", CURRENT)),
    "sgd-stationary": lambda: _sim(SGD_MOMENTUM, x0="stationary"),
    "trap-euler": lambda: _sim(TRAP, dt=0.02, observables=("work", "heat")),
    "trap-heun": lambda: _sim(TRAP, dt=0.02, method="heun",
                              observables=("work", "heat", "medium_entropy")),
    "trap-exact": lambda: _sim(TRAP, dt=0.1, method="exact", observables=("work", "heat")),
    "trap2-heun": lambda: _sim(TRAP2, dt=0.02, method="heun", observables=("work", "heat")),
    "trap2-exact": lambda: _sim(TRAP2, dt=0.05, method="exact",
                                observables=("work", CURRENT)),
    "well-euler": lambda: _sim(WELL, dt=0.01, observables=("heat", "medium_entropy")),
    "well-heun": lambda: _sim(WELL, dt=0.01, method="heun", x0=[1.0, -1.0],
                              observables=("heat", CURRENT)),
    "chunked": lambda: _sim(DENSE, dt=0.02, chunk_size=4, observables=("heat",)),
    "chunked-sgd-momentum": lambda: _sim(SGD_MOMENTUM, chunk_size=2, observables=("heat",)),
    "moments": lambda: _sim(DENSE, dt=0.02, chunk_size=2, reduce="moments",
                            observables=("heat", CURRENT)),
    "resumed-dense": lambda: _resumed(DENSE, dt=0.02, observables=("heat", CURRENT)),
    "resumed-trap": lambda: _resumed(TRAP2, dt=0.02, method="heun",
                                     observables=("work", "heat")),
    "resumed-well": lambda: _resumed(WELL, dt=0.01, observables=("heat",)),
    "resumed-sgd": lambda: _resumed(SGD_MOMENTUM, observables=("heat",)),
}

SIM_EXPECTED = {
    "chunked":
        "fdb2f567738579f17bff91b4902b4d54dbdfe53439fc2db9d4f8102c0e287226",
    "chunked-sgd-momentum":
        "b657a03ab7cb7e1a6772d2af906a081bafa69fe67b15ffcfeb512af2bc6c0852",
    "dense-euler":
        "fa403e11763e2b631641f5ca29a5b5503ec07e5716fba97b79172e4e99df2c48",
    "dense-exact":
        "63aa7187636317f45e859855a1261135759ef6670ec1319c9272d558bbc92fc0",
    "dense-heun":
        "45c74b09740f2a50af2c92e85780a8680d4614e72857d8de97d51c9ef3650f48",
    "dense-x0-rows":
        "76b2dd06d53dff0cd4b297962089ad38fb443ab4f0b4fcb616e38be8339df5e4",
    "diag-euler":
        "4189567718294f5baa4ab0208ab715a52f8d96a8c0ae4d799a2635c50c2f5130",
    "diag-exact":
        "2aa4aca7e7c14b0975f2e1259b985b2c06b0e9b3f1373abe15dfee4a0508326a",
    "diag-heun":
        "d6f9611d9b9a27d13c37380dd96e530c09021ea6f6400300d24e4cd626288bb1",
    "diag-plain-1d":
        "c9f1953849842ce71135a14cff43f9614cb6b8b6ad2810a265e1e9fcc7d7ee0e",
    "diag-stationary":
        "04a0b30cd11a86f20c06076e49322a075f60e4a43e641f511050a6e97306dfc4",
    "moments":
        "859d8547b8cbc5e2c51e8679506ac808bd8182461c9fa9a0cf70d3aa354f2f09",
    "resumed-dense":
        "16d69e618ce19de88eec20a7031b8e5005e7c89eda832418061ca2b395c8013b",
    "resumed-sgd":
        "31be87a22d19c3a495ef8d6a986ebddb4207a30f5952e6aa079d351c1d19fdd9",
    "resumed-trap":
        "4bfba3f012cbf7e2339b992665bc63a4637d407d9d8da05f81bc9359b6afe959",
    "resumed-well":
        "4468ce920ea51cbe2e97aa9dbe493263d095810370f9320d075d142a8a0a71c7",
    "sgd-correlated-noise":
        "dde5c0ee9f3c6ec6e8b181f723e921fd894bcb26b015ab3882339b0d1e19d917",
    "sgd-dense":
        "ab454310cc07adf892c7a51c9cb32669cd1a4b688da945b20a5f86a374e2fc69",
    "sgd-diag":
        "4de2bb359da3c6ac731ca2799eb1de21f632aa837fe4432e24dae26d3fe9a4b8",
    "sgd-momentum":
        "73e2da3412daf5ab15343ebebe3784ad0d5a05b098ddf5fa9a5cec1b09c7c702",
    "sgd-stationary":
        "3ad1511ec053041b2325a3d5e2626b433cca238772ac095038365bf1a98b19f5",
    "trap-euler":
        "9ea82079a0835a60fb32f17ab2c97e4e28f6d831385dc7c7ea79d8de34948e59",
    "trap-exact":
        "6658f8e1e1c81858a22f9f309d1fc819c3577a0f5c72f3a1b7814875114b8fbb",
    "trap-heun":
        "e1060f79b2581b25b06496d63802a18e6d57de7f09b6bb394bc3acb6b296624d",
    "trap2-exact":
        "86ad8618db84aa5a2ce3ac51d99af78f9801ca77c4c50e63996348aaef1d190a",
    "trap2-heun":
        "9f92d7c490a03f047f686cdb1e4bbd79da6237923b5fa2f24cde2df5b066d43c",
    "well-euler":
        "72bf513667751c001918e1ab7d7c77fae2bd83baf4f7192c6a0627d383c0950b",
    "well-heun":
        "0d015d277137aca38a10b9b35345ae36d63a022b1449d1e9357a1150fd18fec3",
}


# --------------------------------------------------------------------------- learn cases


def _regression_data(rng=None, n=24):
    rng = np.random.default_rng(3) if rng is None else rng
    U = rng.normal(size=(n, 3))
    return U, U @ np.array([1.0, -0.5, 0.2]) + 0.3 * rng.normal(size=n)


def _class_data(n=30):
    rng = np.random.default_rng(4)
    U = rng.normal(size=(n, 3))
    return U, (U[:, 0] + 0.5 * U[:, 1] > 0).astype(np.int64) + (U[:, 2] > 1.0)


ALL_RECORD = ("params", "loss", "samples", "batch_loss", "work", "heat", "energy", "kl",
              "kl_fisher", "heat_theta", "output_entropy", "grad_max")
GM = GaussianMean(dim=2, std=1.0, init_std=0.5)
GM_DATA = np.random.default_rng(5).normal(size=(16, 2))
LEARN_KW = {"lr": 0.1, "batch_size": 3, "n_steps": 12, "seed": 23}

LEARN_CASES = {
    "gm-replacement": lambda: learn(GM, GM_DATA, n_trials=3, record=ALL_RECORD, **LEARN_KW),
    "gm-shuffle-momentum": lambda: learn(GM, GM_DATA, n_trials=3, method="shuffle",
                                         momentum=0.5, record_every=5, **LEARN_KW),
    "gm-gaussian-empirical": lambda: learn(GM, GM_DATA, n_trials=2, method="gaussian",
                                           record=("params", "work", "heat", "kl"),
                                           **LEARN_KW),
    "gm-gaussian-cov": lambda: learn(GM, GM_DATA, n_trials=2, method="gaussian",
                                     noise_cov=[[1.0, 0.2], [0.2, 0.5]], init="own",
                                     **LEARN_KW),
    "gm-datasets": lambda: learn(GM, lambda rng: rng.normal(size=(10, 2)), n_datasets=3,
                                 n_trials=2, init="own", record=("params", "samples"),
                                 **LEARN_KW),
    "gm-chunked": lambda: learn(GM, GM_DATA, n_trials=5, chunk_size=2, record=ALL_RECORD,
                                **LEARN_KW),
    "linreg": lambda: learn(LinearRegression(n_in=3, std=0.5), _regression_data(),
                            n_trials=2, record=ALL_RECORD, eval_every=3, **LEARN_KW),
    "linreg-lists": lambda: learn(LinearRegression(n_in=3, std=0.5),
                                  [_regression_data(np.random.default_rng(s)) for s in (1, 2)],
                                  n_trials=2, param_subset=[0, 2], **LEARN_KW),
    "softmax": lambda: learn(SoftmaxRegression(n_in=3, n_classes=3), _class_data(),
                             n_trials=2, record=ALL_RECORD + ("accuracy",), **LEARN_KW),
    "mlp": lambda: learn(MLPClassifier(n_in=3, n_classes=3, hidden=(5,)), _class_data(),
                         n_trials=2, record=("params", "loss", "accuracy", "work", "heat",
                                             "grad_max", "kl"),
                         eval_data=_class_data(12), momentum=0.3, **LEARN_KW),
    "mlp-shuffle": lambda: learn(MLPClassifier(n_in=3, n_classes=3, hidden=(4,),
                                               activation="tanh"),
                                 _class_data(), n_trials=2, method="shuffle",
                                 probe=np.ones((2, 3)), record=("params", "work", "samples"),
                                 **LEARN_KW),
    "gaussian-learner": lambda: GaussianLearner(mu=1.0, data_std=1.2, n_data=8, batch_size=2,
                                                model_std=1.0, lr=0.15).simulate(
        10, n_datasets=20, n_trials=2, seed=31),
    "gaussian-learner-minibatch": lambda: GaussianLearner(
        mu=1.0, data_std=1.2, n_data=8, batch_size=2, model_std=1.0, lr=0.15).simulate(
        10, n_datasets=10, n_trials=2, method="minibatch", seed=32),
}

LEARN_EXPECTED = {
    "gaussian-learner":
        "eedfc478b6084fd8a989ee908c6d5c2ceb3b08447873bf88fff5fc4917ca2960",
    "gaussian-learner-minibatch":
        "5aa5c932461afa88de3f8962fbc55d39f707890416f794cbbd522e49d17db094",
    "gm-chunked":
        "b428afb2ab7c7233d324ddadd6ae8baa42da817dec7ed4620a6e56413c49cd96",
    "gm-datasets":
        "15f9328f87d567732d04140e85c9a973860c486fa99d9e42b9b375fe45149783",
    "gm-gaussian-cov":
        "3c1396789e429f9325acd1ce6f7afe15c49f87604df91b0513d30c3bc55a633a",
    "gm-gaussian-empirical":
        "7615c3af4e1ea9aa2a748a817700c03d18a37193955c54fed631d6c747d449dd",
    "gm-replacement":
        "79965d9e4c2c422f0f3dfa481099ccacf63aff4e0760fa6f9c7ddf66cd84f770",
    "gm-shuffle-momentum":
        "2acc18265d09bcc2f5964a95aa4bffcdf6bba287c5920b79d5aa28ce5aaa21da",
    "linreg":
        "60fc9f2412fa330dbf668981deba2d3c940e3953f6212d15f57c43082f9ba942",
    "linreg-lists":
        "1ef0b8bc1736452d984b8b6758580eab04e8087126089069053a6d0313d9e2b3",
    "mlp":
        "2ef1088082198a2f701699f219ecb3b6bcaaca80dd50d8f5e2cf13aa57242507",
    "mlp-shuffle":
        "4439e20eda3c2cbd93c147c97150c8e42e98192f21d4852548a940c5a9b7a8df",
    "softmax":
        "3ffe6bc5e5554db524a53310c1a663c627e1ca26c94b14993e3be2bdf9158528",
}


# --------------------------------------------------------------------------- bridge case


def _write_runs(root):
    rng0 = np.random.default_rng(8)
    X = rng0.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    probe = rng0.normal(size=(5, 3))
    for bs in (2, 8):
        run_dir = os.path.join(root, f"bs{bs}")
        os.makedirs(run_dir)
        with open(os.path.join(run_dir, "config.json"), "w") as fh:
            json.dump({"batch_size": bs, "lr": 0.1}, fh)
        for j in range(4):
            rng = np.random.default_rng(100 * bs + j)
            W = np.full((3, 2), 0.1)
            b = np.zeros(2)
            with TrajectoryWriter(os.path.join(run_dir, f"trial{j}"), shard_size=3) as w:
                for step in range(7):
                    idx = rng.integers(0, 60, size=bs)
                    z = X @ W + b
                    p = np.exp(z - z.max(axis=1, keepdims=True))
                    p /= p.sum(axis=1, keepdims=True)
                    err = p - np.eye(2)[y]
                    gW_all = X[:, :, None] * err[:, None, :]
                    gW, GW = gW_all[idx].mean(axis=0), gW_all.mean(axis=0)
                    w.write(step, {"0.weight": W.T.copy(), "0.bias": b.copy()},
                            grads={"0.weight": gW.T, "0.bias": err[idx].mean(axis=0)},
                            full_grads={"0.weight": GW.T, "0.bias": err.mean(axis=0)},
                            scalars={"loss": float(-np.log(p[np.arange(60), y]).mean())})
                    W = W - 0.1 * gW
                    b = b - 0.1 * err[idx].mean(axis=0)
    return probe


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", sorted(SIM_CASES))
def test_simulate_is_bit_identical(name):
    assert digest(SIM_CASES[name]()) == SIM_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(LEARN_CASES))
def test_learn_is_bit_identical(name):
    assert digest(LEARN_CASES[name]()) == LEARN_EXPECTED[name]


def test_diagnose_is_bit_identical(tmp_path):
    probe = _write_runs(str(tmp_path))
    runs = open_runs(str(tmp_path))
    with_probe = diagnose(runs, probe=probe, max_lag=2, autocorr_params=4, seed=3)
    assert digest(with_probe) == DIAGNOSE_EXPECTED["probe"]
    plain = diagnose(runs, indices=[("0.weight", (1, 2)), 0], max_lag=3)
    assert digest(plain) == DIAGNOSE_EXPECTED["plain"]


# Re-pinned once when the streaming pass moved to block-wise einsum dot products in the
# parameters' precision: every number pinned before moved by at most 8e-15 relative (summation
# order), checked field by field against the previous code.
DIAGNOSE_EXPECTED = {
    "probe":
        "bdfbf7c961fe0a74a0a39187d6380209669652418f4007eeb8e820b49cb17a30",
    "plain":
        "5d3a9e2249d1fb93e56a38379fafb1eea97c6e824716e033988910bc1e724e0a",
}


def test_digest_sees_one_bit():
    """Control: the digest changes when one bit of one array changes."""
    ens = SIM_CASES["diag-euler"]()
    x = ens.x.copy()
    x.view(np.uint64)[0, 1, 0] ^= np.uint64(1)
    flipped = st.Ensemble(x=x, t=ens.t, dt=ens.dt, observables=ens.observables, meta=ens.meta)
    assert digest(flipped) != digest(ens)
