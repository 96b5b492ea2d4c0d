r"""M-info and L-info of ensembles of trained models over training sets x seeds.

``m_info(ensemble, t)`` estimates ``I(Theta_t; B)`` and ``l_info(ensemble, t, reading=...)``
the learned information of ``theory/learning.md`` section 10, from a
:class:`stochthermo.learning.LearningEnsemble` (trials ``k = dataset * n_trials + trial``,
``data_of[k]`` the training set). Every result is an :class:`~stochthermo.results.Estimate`
whose ``meta["assumptions"]`` says what the number is (exact, a Gaussian reading, a projection,
a lower bound). Standard errors: a delete-a-group jackknife in which all trials of one training
set leave together.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .._validation import choose_method, positive_int, short_repr
from ..errors import InsufficientDataError, ShapeError, ValidationError
from ..results import Estimate
from ._stats import gaussian_mi, gaussian_mi_bias, jackknife_groups

if TYPE_CHECKING:
    from typing import Any

    from .._typing import ArrayLike, SeedLike

__all__ = ["m_info", "l_info", "discrete_l_info"]

_M_METHODS = {
    "auto": "exact with a learner, else gaussian (few parameters) or pca",
    "exact": "closed form of a GaussianLearner",
    "gaussian": "Gaussian MI of all recorded parameters",
    "pca": "Gaussian MI in the top principal directions of the ensemble",
    "knn": "Kraskov-Stoegbauer-Grassberger MI with the training-set mean",
    "bound": "data-processing lower bound I(f(Theta); B), f = model outputs on the probe set",
}
_READINGS = {
    "mi": "I(X_{t+1}; B)",
    "functional": "I(p(. | Theta_t); B): the output function on the probe set",
    "accumulated_flow_x": "sum_{s<t} dI^X_s: accumulated information flow into X (not "
                          "information about B)",
}
_DEPRECATED_READINGS = {"flow": "accumulated_flow_x"}
_B_ROUTES = {"auto": 0, "mean": 1, "label": 2}
_MAX_GROUPS = 20


# ---------------------------------------------------------------------------------------------
# input handling


def _check_ensemble(ens):
    from ..learning import LearningEnsemble

    if not isinstance(ens, LearningEnsemble):
        raise ValidationError(
            f"ensemble={short_repr(ens)} is not a LearningEnsemble; produce one with "
            "stochthermo.learning.learn(..., n_datasets=K, n_trials=M) or "
            "GaussianLearner.simulate"
        )
    if ens.n_datasets < 2:
        raise InsufficientDataError(
            f"the ensemble holds {ens.n_datasets} training set; information about B needs "
            "several (n_datasets >= 2, ideally hundreds)"
        )
    return ens


def _step_index(ens, t) -> int:
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise ValidationError(f"t={t!r} must be one recorded step (an int)")
    hit = np.flatnonzero(ens.steps == int(t))
    if hit.size == 0:
        raise ValidationError(
            f"step t={t} was not recorded; recorded steps are {short_repr(ens.steps.tolist())}"
        )
    return int(hit[0])


def _params_at(ens, t):
    if ens.params is None:
        raise ValidationError("the ensemble did not record 'params'; rerun with "
                              "record=(..., 'params')")
    x = np.asarray(ens.params[:, _step_index(ens, t)], dtype=float).reshape(ens.n_total, -1)
    if not np.all(np.isfinite(x)):
        raise ValidationError(f"the parameters at step {t} are not all finite (a diverged run?)")
    return x


def _full_params_at(ens, t):
    if ens.param_subset is not None:
        raise ValidationError(
            "the ensemble kept only a parameter subset (param_subset); model outputs need all "
            "parameters: rerun learn without param_subset"
        )
    return _params_at(ens, t)


def _bbar(ens):
    b = np.asarray(ens.dataset_mean, dtype=float).reshape(ens.n_datasets, -1)
    if not np.all(np.isfinite(b)):
        return None
    return b[ens.data_of]


def _choose_b(ens, b):
    choose_method("b", b, _B_ROUTES)
    bb = _bbar(ens)
    if b == "auto":
        return "mean" if bb is not None and ens.n_trials == 1 else (
            "label" if ens.n_trials >= 2 else "mean")
    return b


def _group_ids(ens):
    return np.asarray(ens.data_of) % _MAX_GROUPS


def _jackknife(stat, groups, *, bias_correct):
    """Delete-a-group jackknife (:func:`._stats.jackknife_groups`): ``(value, stderr, bias)``."""
    value, se, bias, _ = jackknife_groups(stat, groups, bias_correct=bias_correct)
    return value, se, (bias if bias_correct and np.unique(groups).size >= 2 else None)


def _ld(c):
    sign, ld = np.linalg.slogdet(np.atleast_2d(c))
    return ld if sign > 0 else -math.inf


def _anova_mi(x, labels):
    """``1/2 [ln det Cov(x) - ln det pooled within-label Cov(x)]`` (Gaussian reading)."""
    _, inv = np.unique(labels, return_inverse=True)
    G = inv.max() + 1
    n, p = x.shape
    if n - G <= p:
        return math.nan
    counts = np.bincount(inv, minlength=G)
    sums = np.zeros((G, p))
    np.add.at(sums, inv, x)
    means = sums / counts[:, None]
    r = x - means[inv]
    within = r.T @ r / (n - G)
    total = np.cov(x, rowvar=False).reshape(p, p)
    return 0.5 * (_ld(total) - _ld(within))


def _auto_components(n_datasets, d):
    return int(max(1, min(10, d, n_datasets // 10)))


def _continuous_mi(x, ens, b_route, *, method, k, seed, what):
    """Gaussian or kNN estimate of ``I(x; B)`` from per-trial features ``x`` (n, p)."""
    from ._information import mutual_information

    groups = _group_ids(ens)
    meta = {"n": int(x.shape[0]), "n_datasets": ens.n_datasets, "n_trials": ens.n_trials,
            "dims": int(x.shape[1]), "b": b_route}
    if method == "knn":
        bb = _bbar(ens)
        if bb is None:
            raise ValidationError(
                "method='knn' needs a continuous statistic of B (the training-set mean); this "
                "ensemble has none (classifier labels): use method='gaussian' with b='label'"
            )
        est = mutual_information(x, bb, method="knn", k=k, seed=seed,
                                 n_repeats=1 if ens.n_trials > 1 else 3)
        meta.update(est.meta)
        meta["assumptions"] = (
            f"KSG estimate of I({what}; Bbar) with Bbar the training-set mean; equals "
            f"I({what}; B) when Bbar is sufficient (Gaussian data), else a lower bound; "
            "block error bar over contiguous trials (whole training sets)")
        return Estimate(est.value, est.stderr, f"knn:{b_route}", meta, warnings=est.warnings)
    if b_route == "mean":
        bb = _bbar(ens)
        if bb is None:
            raise ValidationError(
                "b='mean' needs a continuous training-set mean; this ensemble has none: use "
                "b='label' (and n_trials >= 2)"
            )
        n = x.shape[0]
        if n <= x.shape[1] + bb.shape[1] + 2:
            raise InsufficientDataError(
                f"{n} trials are too few for a Gaussian MI in {x.shape[1]} + {bb.shape[1]} "
                "dimensions; simulate more training sets or use method='pca'"
            )
        iid = ens.n_trials == 1

        def plugin(i):
            return gaussian_mi(x[i], bb[i], bias_correct=False)

        if iid:
            bias = gaussian_mi_bias(n, x.shape[1], bb.shape[1])
            val, se, _ = _jackknife(plugin, groups,
                                    bias_correct=False)
            val -= bias
        else:
            val, se, bias = _jackknife(plugin, groups,
                                       bias_correct=True)
        meta["assumptions"] = (
            f"Gaussian reading of I({what}; Bbar), Bbar the training-set mean: exact for the "
            "linear-Gaussian learner (Bbar sufficient, jointly Gaussian), otherwise the MI of "
            "the Gaussian with the same covariance (in general neither a lower nor an upper "
            "bound); "
            + ("Wishart bias removed" if iid else "jackknife bias correction (trials share "
                                                   "training sets)"))
        return Estimate(float(val), float(se), f"gaussian:{b_route}", meta, bias=bias)
    if ens.n_trials < 2:
        raise InsufficientDataError(
            "b='label' needs several seeds per training set (n_trials >= 2) to separate "
            "the variation between training sets from that within one"
        )
    labels = np.asarray(ens.data_of)
    if x.shape[0] - ens.n_datasets <= x.shape[1]:
        raise InsufficientDataError(
            f"{x.shape[0]} trials in {ens.n_datasets} training sets are too few for "
            f"{x.shape[1]} dimensions; use method='pca' with fewer components"
        )
    val, se, bias = _jackknife(lambda i: _anova_mi(x[i], labels[i]), groups, bias_correct=True)
    meta["assumptions"] = (
        f"Gaussian reading of I({what}; B) with B the training-set label: 1/2 ln det Cov / det "
        "(pooled within-training-set Cov); exact when the law given B is Gaussian with a "
        "covariance that does not depend on B and the marginal is Gaussian; jackknife bias "
        "correction over training sets")
    return Estimate(float(val), float(se), f"gaussian:{b_route}", meta, bias=bias)


# ---------------------------------------------------------------------------------------------
# discrete outputs


def _entropy(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)


def _corrected_entropy(p, var_mean):
    """``H(p) + 1/2 sum_y Var(p_y) / p_y``: second-order bias correction of a plug-in."""
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = 0.5 * np.where(p > 0, var_mean / p, 0.0).sum(axis=-1)
    return _entropy(p) + corr


def discrete_l_info(probs, *, bias_correct=True) -> Estimate:
    r"""L-info of a classifier ensemble from its output probabilities on a probe set.

    Parameters
    ----------
    probs : array (K, M, P, C)
        ``p(y | u_j, theta_{b,s})`` for K training sets, M seeds each, P probe inputs and C
        classes.
    bias_correct : bool
        Remove the finite-seed and finite-training-set bias (needs M >= 2).

    Returns
    -------
    Estimate
        ``I(Y; B | U) = (1/P) sum_j [H(E_B pbar_B(. | u_j)) - E_B H(pbar_B(. | u_j))]``,
        ``pbar_B`` the seed average, with a jackknife error over training sets;
        ``meta["per_input"]`` holds the per-input values.

    Notes
    -----
    X is the output ``Y`` at a probe input ``U`` drawn uniformly from the probe set, so
    ``I(X; B) = I(Y; B | U)``, the mean over probe inputs. The plug-in entropies are biased
    low by ``1/2 sum_y Var(phat_y) / p_y``; ``Var`` of a seed average is the seed variance
    over M (unbiased sample variance), that of the grand mean the variance of the
    training-set averages over K. ``theory/learning.md`` section 10.
    """
    p = np.asarray(probs, dtype=float)
    if p.ndim != 4:
        raise ShapeError(f"probs must have shape (K, M, P, C), got {p.shape}")
    K, M, P, C = p.shape
    if K < 2 or P < 1 or C < 2:
        raise InsufficientDataError(
            f"probs of shape {p.shape}: need K >= 2 training sets, P >= 1 inputs, C >= 2 classes"
        )
    if not np.all(np.isfinite(p)) or p.min() < 0 or np.abs(p.sum(axis=-1) - 1).max() > 1e-6:
        raise ValidationError("probs must be finite probabilities that sum to 1 over classes")
    if bias_correct and M < 2:
        raise InsufficientDataError(
            "the finite-seed bias correction needs n_trials >= 2 seeds per training set "
            "(or pass bias_correct=False: then the value is I(Y; B, seed) >= I(Y; B))"
        )
    pbar = p.mean(axis=1)  # K, P, C
    if bias_correct:
        s2 = p.var(axis=1, ddof=1) / M
        h_b = _corrected_entropy(pbar, s2)  # K, P
    else:
        h_b = _entropy(pbar)

    def per_input(sel):
        grand = pbar[sel].mean(axis=0)
        if bias_correct:
            h_all = _corrected_entropy(grand, pbar[sel].var(axis=0, ddof=1) / sel.shape[0])
        else:
            h_all = _entropy(grand)
        return h_all - h_b[sel].mean(axis=0)

    idx = np.arange(K)
    full = per_input(idx)
    _, se, _, _ = jackknife_groups(lambda i: per_input(i).mean(), idx % _MAX_GROUPS)
    meta = {"n_datasets": K, "n_trials": M, "n_probe": P, "n_classes": C,
            "per_input": full, "bias_corrected": bool(bias_correct),
            "assumptions": "exact I(Y; B | U) from the model probabilities, U uniform on the "
                           "probe set; finite-seed and finite-K bias removed to second order"}
    return Estimate(float(full.mean()), se, "discrete:probabilities", meta)


def _probe(ens, probe):
    if probe is None:
        if ens.probe is None:
            raise ValidationError("no probe set: pass probe=(P, n_in) inputs")
        return ens.probe
    from .._validation import as_float_array

    pr = as_float_array("probe", probe, ndim=(1, 2))
    if pr.ndim == 1:
        pr = pr[:, None]
    n_in = getattr(ens.model, "n_in", pr.shape[1])
    if pr.shape[1] != n_in or pr.shape[0] == 0:
        raise ShapeError(f"probe must have shape (P, {n_in}) with P >= 1, got {pr.shape}")
    return pr


def _probabilities(ens, t, probe):
    model = ens.model
    probe = _probe(ens, probe)
    th = _full_params_at(ens, t)
    p = model.probabilities(th, probe)  # (n_total, P, C)
    order = np.argsort(ens.data_of, kind="stable")
    counts = np.bincount(ens.data_of, minlength=ens.n_datasets)
    if np.any(counts != ens.n_trials):
        raise ValidationError("every training set must hold n_trials trials")
    return p[order].reshape(ens.n_datasets, ens.n_trials, *p.shape[1:])


def _features(ens, t, probe, output):
    """Per-trial output function on the probe set (the 'functional' statistic of Theta)."""
    if output is not None:
        if not callable(output):
            raise ValidationError(f"output={short_repr(output)} must be a callable "
                                  "params (n, d) -> features (n, q)")
        f = np.asarray(output(_params_at(ens, t)), dtype=float)
        if f.ndim == 1:
            f = f[:, None]
        if f.shape[0] != ens.n_total or not np.all(np.isfinite(f)):
            raise ShapeError(f"output(params) must return finite features of shape "
                             f"({ens.n_total}, q), got {f.shape}")
        return f.reshape(ens.n_total, -1), "a user statistic f(Theta)"
    model = ens.model
    if getattr(model, "classifier", False):
        p = model.probabilities(_full_params_at(ens, t), _probe(ens, probe))
        return p[..., :-1].reshape(ens.n_total, -1), "output probabilities on the probe set"
    from ..learning import GaussianLearner

    if isinstance(model, GaussianLearner):
        return _params_at(ens, t), "the output mean (one-to-one in theta)"
    th = _full_params_at(ens, t)
    pr = None if model.generative else _probe(ens, probe)
    zero = np.zeros((ens.n_total, *model.noise_shape(pr)))
    out = np.asarray(model.generate(th, zero, pr), dtype=float)
    return out.reshape(ens.n_total, -1), "the output mean on the probe set"


def _reduce(x, ens, method, n_components):
    """Principal coordinates of ``x``: all non-null directions, or the top few for ``pca``.

    Projecting on the ensemble's support (the non-null principal directions) is one-to-one
    on it, so it changes no information; keeping only the top directions can only lose some.
    """
    xc = x - x.mean(axis=0)
    n, p = xc.shape
    # principal coordinates from the smaller Gram matrix (n x n or p x p), eigenvalues s^2
    if n < p:
        lam, u = np.linalg.eigh(xc @ xc.T)
        lam, u = lam[::-1], u[:, ::-1]
        scores = u * np.sqrt(np.clip(lam, 0.0, None))
    else:
        lam, v = np.linalg.eigh(xc.T @ xc)
        lam, v = lam[::-1], v[:, ::-1]
        scores = xc @ v
    if lam.size == 0 or lam[0] <= 0:
        return None, {"rank": 0}
    s = np.sqrt(np.clip(lam, 0.0, None))
    rank = int((lam > 1e-12 * lam[0]).sum())
    meta = {}
    if method == "pca" or (method == "auto" and rank > _auto_components(ens.n_datasets, rank)):
        nc = _auto_components(ens.n_datasets, rank) if n_components is None else positive_int(
            "n_components", n_components)
        k = int(min(nc, rank))
        var = s**2
        meta = {"projection": "top principal directions of the ensemble at step t",
                "n_components": k, "explained_variance": float(var[:k].sum() / var.sum())}
    else:
        k = rank
        if rank < x.shape[1]:
            meta = {"rank": rank, "projection": "the ensemble's support (lossless)"}
    return scores[:, :k], meta


def _zero(method, meta, why):
    meta = dict(meta)
    meta["assumptions"] = why
    return Estimate(0.0, 0.0, method, meta)


# ---------------------------------------------------------------------------------------------
# public functions


def m_info(ensemble: Any, t: int, *, method: str = "auto", b: str = "auto",
           n_components: int | None = None, learner: Any = None, output: Any = None,
           probe: ArrayLike | None = None, k: int = 3, seed: SeedLike = 0) -> Estimate:
    r"""M-info ``I(Theta_t; B)`` of an ensemble of trained models, with an error bar.

    Parameters
    ----------
    ensemble : LearningEnsemble
        Trials over ``n_datasets`` training sets x ``n_trials`` seeds, with ``params``
        recorded at step ``t``.
    t : int
        A recorded step.
    method : {"auto", "exact", "gaussian", "pca", "knn", "bound"}
        ``exact``: the closed form of ``learner`` (a GaussianLearner; no sampling error);
        ``gaussian``: Gaussian MI of all recorded parameters; ``pca``: Gaussian MI of the
        projection on the top ``n_components`` principal directions of the ensemble at t
        (a projection can only lose information: ``I(P Theta; B) <= I(Theta; B)``);
        ``knn``: KSG with the training-set mean; ``bound``: the data-processing lower bound
        ``I(f(Theta); B) <= I(Theta; B)`` with ``f`` the model outputs on the probe set (or
        ``output``). ``auto``: ``exact`` with a learner, else ``gaussian`` when the
        parameters are few (``d <= min(10, n_datasets / 10)``), else ``pca``. For networks
        the largest parameter directions mostly hold seed-to-seed variation, so ``pca`` can
        fall far below ``bound`` (``theory/learning.md`` section 10): report both.
    b : {"auto", "mean", "label"}
        What B is for the continuous routes: ``mean``, the training-set mean (a sufficient
        statistic for Gaussian data; the ``I(Theta; Bbar)`` route, one trial per set is
        enough); ``label``, the training set itself through its label (an analysis of
        variance over seeds; needs ``n_trials >= 2``). ``auto``: ``mean`` when the
        ensemble has continuous data means and one trial per set, else ``label``.
    n_components : int, optional
        Principal directions kept by ``pca`` (default ``min(10, d, n_datasets / 10)``).
    learner : GaussianLearner, optional
        For ``exact``.
    output : callable, optional
        Statistic ``f(params (n, d)) -> (n, q)`` for ``bound``.
    probe : array, optional
        Probe inputs for the model outputs (default: the ensemble's).
    k, seed : int
        ``knn`` neighbour order and jitter seed.

    Returns
    -------
    Estimate
        ``meta["assumptions"]`` states what the value is; ``meta["projection"]`` the
        projection where one was used.

    Notes
    -----
    ``theory/learning.md`` section 10. Gaussian ``mean`` route:
    ``1/2 ln(det C_TT det C_BB / det C)`` minus its Wishart bias; ``label`` route:
    ``1/2 [ln det Cov(Theta) - ln det E_B Cov(Theta | B)]`` (pooled within-set covariance),
    jackknife bias correction. Errors: delete-a-group jackknife over training sets.

    Examples
    --------
    >>> from stochthermo.learning import GaussianLearner
    >>> g = GaussianLearner(mu=1.0, data_std=1.0, n_data=5, batch_size=1, lr=0.2)
    >>> ens = g.simulate(10, n_datasets=2000, seed=1, record=("params",))
    >>> est = m_info(ens, 10)
    >>> abs(est.value - g.closed_form(10)["m_info"]) < 4 * est.stderr
    True
    """
    choose_method("method", method, _M_METHODS)
    if method == "exact" or (method == "auto" and learner is not None):
        return _exact(learner, ensemble, t, "m_info")
    ens = _check_ensemble(ensemble)
    if method == "bound":
        est = l_info(ens, t, reading="functional", method="auto", b=b, probe=probe,
                     output=output, n_components=n_components, k=k, seed=seed)
        meta = dict(est.meta)
        meta["assumptions"] = ("data-processing lower bound I(f(Theta); B) <= I(Theta; B), f = "
                               + meta.get("statistic", "outputs") + "; " + meta["assumptions"])
        meta["bound"] = "lower"
        return Estimate(est.value, est.stderr, "bound:" + est.method, meta, bias=est.bias,
                        warnings=est.warnings)
    x = _params_at(ens, t)
    b_route = _choose_b(ens, b)
    red, pmeta = _reduce(x, ens, method if method != "knn" else "gaussian", n_components)
    if red is None:
        return _zero(f"{method}:{b_route}", pmeta,
                     "every parameter is identical across the ensemble: I(Theta; B) = 0")
    est = _continuous_mi(red, ens, b_route, method="knn" if method == "knn" else "gaussian",
                         k=k, seed=seed, what="Theta_t")
    meta = dict(est.meta)
    meta.update(pmeta, quantity="m_info", t=int(t))
    return Estimate(est.value, est.stderr, est.method, meta, bias=est.bias, warnings=est.warnings)


def _exact(learner, ensemble, t, key):
    from ..learning import GaussianLearner

    if not isinstance(learner, GaussianLearner):
        if isinstance(getattr(ensemble, "model", None), GaussianLearner):
            learner = ensemble.model
        else:
            raise ValidationError(
                "method='exact' needs learner=GaussianLearner(...) (the closed forms exist for "
                "the linear-Gaussian learner only)"
            )
    cf = learner.closed_form(int(t))
    return Estimate(float(cf[key]), 0.0, "exact:closed_form",
                    {"assumptions": "closed form of the linear-Gaussian learner "
                                    "(theory/learning.md sections 4, 8)", "t": int(t)})


def l_info(ensemble: Any, t: int, *, reading: str = "mi", method: str = "auto", b: str = "auto",
           probe: ArrayLike | None = None, output: Any = None,
           n_components: int | None = None, learner: Any = None, bias_correct: bool = True,
           k: int = 3, seed: SeedLike = 0) -> Estimate:
    r"""L-info of an ensemble of trained models in one of its readings, with an error bar.

    Parameters
    ----------
    ensemble : LearningEnsemble
    t : int
        A recorded step.
    reading : {"mi", "functional", "accumulated_flow_x"}
        ``mi``: ``I(X_{t+1}; B)``, X the output generated by ``Theta_t``; ``functional``:
        ``I(p(. | Theta_t); B)``, the information about B in the output *function* on the
        probe set (parameter directions the outputs do not see do not count, so it lies
        between ``mi`` and M-info); ``accumulated_flow_x``: ``sum_{s<t} dI^X_s``, the
        accumulated information flow into X (this is not information about B; the old name
        ``"flow"`` still works with a ``DeprecationWarning``).
    method : {"auto", "exact", "gaussian", "pca", "knn"}
        Route for continuous quantities (as in :func:`m_info`). Classifier ensembles with
        ``reading="mi"`` always use the exact discrete formula.
    b : {"auto", "mean", "label"}
        As in :func:`m_info`.
    probe : array, optional
        Probe inputs (default: the ensemble's probe set).
    output : callable, optional
        ``functional``: statistic ``f(params) -> features`` replacing the model outputs.
    n_components : int, optional
        Principal directions for ``pca``.
    learner : GaussianLearner, optional
        For ``method="exact"``.
    bias_correct : bool
        Discrete route: remove the finite-seed bias (needs ``n_trials >= 2``).
    k, seed : int
        ``knn`` options.

    Returns
    -------
    Estimate

    Notes
    -----
    Discrete outputs (classifiers), ``mi``: ``I(Y; B | U) = mean_u [H(E_B pbar_B) -
    E_B H(pbar_B)]`` exactly from the model probabilities (:func:`discrete_l_info`).
    Continuous outputs: Gaussian (``mean`` or ``label`` route) or KSG on the recorded samples
    ``X_{t+1}``. ``theory/learning.md`` section 10.

    Examples
    --------
    >>> from stochthermo.learning import GaussianLearner
    >>> g = GaussianLearner(mu=1.0, data_std=1.0, n_data=5, batch_size=1, lr=0.2)
    >>> ens = g.simulate(10, n_datasets=2000, seed=1, record=("params", "samples"))
    >>> est = l_info(ens, 10)
    >>> abs(est.value - g.closed_form(10)["l_info"]) < 4 * est.stderr
    True
    """
    if reading in _DEPRECATED_READINGS:
        new = _DEPRECATED_READINGS[reading]
        warnings.warn(f"reading={reading!r} is deprecated: it is the accumulated information "
                      f"flow into X, not information about B; use reading={new!r}",
                      DeprecationWarning, stacklevel=2)
        reading = new
    choose_method("reading", reading, _READINGS)
    choose_method("method", method, {k_: v for k_, v in _M_METHODS.items() if k_ != "bound"})
    if method == "exact" or (method == "auto" and learner is not None):
        key = {"mi": "l_info", "functional": "l_info_functional",
               "accumulated_flow_x": "info_flow_x_accumulated"}[reading]
        return _exact(learner, ensemble, t, key)
    ens = _check_ensemble(ensemble)
    if reading == "accumulated_flow_x":
        from ..learning import gaussian_learner_estimates

        t_int = int(t)
        if t_int >= ens.n_steps:
            raise ValidationError(f"t={t} must be < n_steps={ens.n_steps} for the flow reading")
        est = gaussian_learner_estimates(ens, t_int)["info_flow_x_accumulated"]
        meta = dict(est.meta)
        meta["assumptions"] = ("sum of Gaussian estimates of dI^X_s over s < t; the "
                               "accumulated information flow into X, not information about B")
        return Estimate(est.value, est.stderr, "gaussian:flow", meta)
    model = ens.model
    if reading == "mi" and getattr(model, "classifier", False):
        p = _probabilities(ens, t, probe)
        est = discrete_l_info(p, bias_correct=bias_correct)
        meta = dict(est.meta)
        meta.update(quantity="l_info", reading="mi", t=int(t))
        return Estimate(est.value, est.stderr, est.method, meta)
    b_route = _choose_b(ens, b)
    if reading == "mi":
        if ens.samples is None:
            raise ValidationError("reading='mi' for continuous outputs needs the generated "
                                  "samples: rerun with record=(..., 'samples')")
        x = np.asarray(ens.samples[:, _step_index(ens, t)], dtype=float).reshape(ens.n_total, -1)
        what, stat = "X_{t+1}", "generated samples X_{t+1}"
    else:
        x, stat = _features(ens, t, probe, output)
        what = "f(Theta_t)"
    red, pmeta = _reduce(x, ens, method if method != "knn" else "gaussian", n_components)
    if red is None:
        return _zero(f"{method}:{b_route}", {**pmeta, "statistic": stat},
                     "the outputs are identical across the ensemble: the information is 0")
    est = _continuous_mi(red, ens, b_route, method="knn" if method == "knn" else "gaussian",
                         k=k, seed=seed, what=what)
    meta = dict(est.meta)
    meta.update(pmeta, quantity="l_info", reading=reading, statistic=stat, t=int(t))
    return Estimate(est.value, est.stderr, est.method, meta, bias=est.bias, warnings=est.warnings)
