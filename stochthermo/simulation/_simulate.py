"""The public entry point :func:`simulate`: in this process, or in chunks on Dask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..distributed import EnsembleMoments
from ..ensemble import Ensemble
from ._chunked import simulate_chunked
from ._engine import run_local

if TYPE_CHECKING:
    from .._typing import ProgressLike

__all__ = ["simulate"]


def simulate(model: Any, *, n_traj: int | None = None, n_steps: int, dt: float | None = None,
             method: str | None = None, x0: Any = None, save_every: int = 1, seed: Any = None,
             observables: Any = (), progress: ProgressLike = None, resume: Ensemble | None = None,
             client: Any = None, scheduler: str | None = None, chunk_size: int | None = None,
             reduce: str | None = None, retries: int = 2, max_bytes: int | None = None,
             _noise: Any = None, _traj_offset: int = 0) -> Ensemble | EnsembleMoments:
    r"""Simulate an ensemble of independent trajectories of ``model``.

    Parameters
    ----------
    model : LinearLangevin, DrivenTrap, NonlinearLangevin or LinearizedSGD
        The process. ``LinearizedSGD`` runs its exact discrete map (Gaussian mini-batch noise,
        momentum on the augmented state ``(theta_n, theta_{n-1})``).
    n_traj : int
        Number of trajectories (>= 1). May be omitted with ``resume``.
    n_steps : int
        Number of steps (>= 1), a multiple of ``save_every``.
    dt : float, optional
        Time step (> 0); required for continuous-time models; must be omitted for SGD, whose
        time step is the learning rate: ``t = lr * n``. With ``resume``: the resumed ``dt``.
    method : {'euler', 'heun', 'exact'}, optional
        Default ``'euler'`` (or the resumed method). ``'exact'`` draws the exact
        Ornstein-Uhlenbeck transition (linear models; any ``dt``). SGD: ``'sgd'`` (alias
        ``'exact'``), the only choice.
    x0 : array_like (d,) or (n_traj, d), or 'stationary', optional
        Start. Default: the fixed point (``x_star``, ``theta_star``, the trap centre, or 0).
        ``'stationary'`` draws from the exact stationary law (linear models, including the
        discrete-time SGD law) using each trajectory's own stream.
    save_every : int, optional
        Save the state (and observables) every ``save_every`` steps; ``n_saved =
        n_steps // save_every + 1`` including the start.
    seed : int, numpy.random.Generator, SeedSequence or None
        Turned into one independent stream per trajectory (``stochthermo._rng``).
    observables : sequence, optional
        Names among ``'heat'`` (Stratonovich heat into each block's bath, shape
        ``(n_traj, n_saved, n_blocks)``), ``'work'`` (protocol work, ``(n_traj, n_saved)``),
        ``'medium_entropy'`` (``sum_i Q_i / T_i``, ``(n_traj, n_saved)``), and
        :class:`LinearCurrent` objects (``(n_traj, n_saved)`` each). All are cumulative since
        the start of the run (a resumed run continues the sums).
    progress : bool or callable, optional
        A progress bar: True for tqdm (needs the ``progress`` extra) or a tqdm-like factory
        (see :mod:`stochthermo._progress`); the run is cut in chunks.
    resume : Ensemble, optional
        Continue a previous run of the same model from its last state, with the same random
        streams: the result equals the corresponding part of one uninterrupted run, bit for bit.
    client : dask.distributed.Client, optional
        Run the trajectories in chunks on a Dask cluster (extra ``distributed``); the result
        is bit-identical to the single-process run with the same seed, whatever the number of
        workers or ``chunk_size``. See :mod:`stochthermo.distributed`.
    scheduler : {'dask'} or str, optional
        ``'dask'``: the running default Dask client; ``'tcp://host:port'``: a client connected
        to that scheduler for this call.
    chunk_size : int, optional
        Trajectories per chunk (task); default about ``n_traj / (4 * workers)``. With
        ``reduce`` it is rounded up to a multiple of ``stochthermo.distributed.LEAF``. Given
        without a client, the chunks run one after the other in this process.
    reduce : {'moments'}, optional
        Return :class:`stochthermo.distributed.EnsembleMoments` (per-time means and
        covariances of the state and observables, with the count) reduced chunk by chunk
        instead of the trajectories; client memory stays flat in ``n_traj``. Works with or
        without a client, with identical bits.
    retries : int, optional
        Times Dask re-runs a chunk whose task raised (lost workers are handled by Dask itself).
    max_bytes : int, optional
        Memory budget of the outputs (default: half of the machine's physical memory). The
        bytes of the saved states and observables are estimated before anything runs
        (``n_traj * (n_steps // save_every + 1) * (dim + observable columns) * 8``, for one
        chunk with ``reduce``); a larger request raises ``ResourceError``.

    Returns
    -------
    Ensemble or EnsembleMoments
        ``x`` of shape ``(n_traj, n_saved, d)`` (SGD: ``theta`` only), ``t``, ``dt``,
        ``observables`` and ``meta`` (method, seed, versions, and ``meta['state']`` for resume).

    Raises
    ------
    ResourceError
        The outputs would exceed ``max_bytes``; nothing was started. Cut ``n_traj`` or the
        saved points (``save_every``), use ``reduce="moments"`` or
        :func:`stochthermo.store.simulate_to_store`.
    ValidationError
        Bad arguments (``dt <= 0``, ``n_traj < 1``, wrong ``x0`` shape, NaN input, unknown
        method or observable).
    ModelError
        An observable that does not exist for the model (e.g. heat with singular ``D``).
    SimulationError
        A trajectory left the finite numbers; the message names the step and trajectory and
        how far the run got; ``partial`` holds the states saved so far (NaN where nothing was
        written).
    UnstableModelError
        A ``LinearizedSGD`` whose update map has spectral radius >= 1 (the message gives the
        largest stable lr).

    Notes
    -----
    Every linear scheme is an affine map ``x' = P x + b + Q z`` [SIM-affine]: Euler
    ``P = I - A h``; Heun ``P = I - A h + A^2 h^2 / 2``, ``Q = (I - A h / 2) sqrt(h) L``; exact
    ``P = exp(-A h)``, ``Q Q^T = C - P C P^T``. Heat into block i: ``sum_n (T_i D^{-1}
    F(x_mid))_i . (x_{n+1} - x_n)_i`` [SIM-heat], which for ``D_i = T_i I`` is the force times
    the displacement; it matches ``stochthermo.exact.heat_rates``. See
    ``theory/simulation.md``.

    Examples
    --------
    >>> import numpy as np, stochthermo as st
    >>> m = st.LinearLangevin([[1.0, 0.5], [-0.5, 1.0]], np.eye(2))
    >>> ens = st.simulate(m, n_traj=8, n_steps=100, dt=0.01, seed=1, observables=("heat",))
    >>> ens.x.shape, ens.observables["heat"].shape
    ((8, 101, 2), (8, 101, 2))
    """
    if (client is not None or scheduler is not None or chunk_size is not None
            or reduce is not None):
        return simulate_chunked(
            model, n_traj=n_traj, n_steps=n_steps, dt=dt, method=method, x0=x0,
            save_every=save_every, seed=seed, observables=observables, progress=progress,
            resume=resume, client=client, scheduler=scheduler, chunk_size=chunk_size,
            reduce=reduce, retries=retries, max_bytes=max_bytes, _noise=_noise)
    return run_local(model, n_traj=n_traj, n_steps=n_steps, dt=dt, method=method, x0=x0,
                     save_every=save_every, seed=seed, observables=observables,
                     progress=progress, resume=resume, max_bytes=max_bytes, _noise=_noise,
                     _traj_offset=_traj_offset)
