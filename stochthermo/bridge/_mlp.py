"""NumPy forward pass of sequential MLP state dicts, and output-level thermodynamics.

The thermodynamic quantities are those of theory.md section 3 for a classifier read as the
parametric model ``p(y | x, theta) = softmax(f_theta(x))``, averaged over a probe set of inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._validation import as_float_array, choose_method
from ..errors import ShapeError, ValidationError
from ..estimators._stats import log_softmax

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .._typing import ArrayLike

__all__ = ["mlp_layers", "mlp_forward", "log_softmax", "output_thermodynamics"]

_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "identity": lambda z: z,
}


def mlp_layers(state_dict: Mapping[str, Any]) -> list[tuple[np.ndarray, np.ndarray | None, str]]:
    """The Linear layers of a sequential state dict, in order: ``[(W, b, name), ...]``.

    Layers are the 2-d ``*.weight`` entries in the dict's order, each with its ``*.bias``
    when present; consecutive layers must chain (``W_k.shape[1] == W_{k-1}.shape[0]``).
    """
    layers: list[tuple[np.ndarray, np.ndarray | None, str]] = []
    for name, w in state_dict.items():
        if not name.endswith("weight") or np.ndim(w) != 2:
            continue
        stem = name[: -len("weight")]
        b = state_dict.get(stem + "bias")
        w = np.asarray(w, dtype=np.float64)
        if b is not None:
            b = np.asarray(b, dtype=np.float64)
            if b.shape != (w.shape[0],):
                raise ShapeError(f"bias {stem}bias has shape {b.shape}, expected ({w.shape[0]},)")
        if layers and layers[-1][0].shape[0] != w.shape[1]:
            raise ShapeError(
                f"layer {name} takes {w.shape[1]} inputs but the previous layer "
                f"{layers[-1][2]} gives {layers[-1][0].shape[0]}: not a sequential MLP"
            )
        layers.append((w, b, name))
    if not layers:
        raise ValidationError("the state dict has no 2-d '*.weight' entries: not an MLP")
    return layers


def mlp_forward(state_dict: Mapping[str, Any], x: ArrayLike, *,
                activation: str = "relu") -> np.ndarray:
    """Outputs (logits) of a sequential MLP given by its state dict, in float64.

    Parameters
    ----------
    state_dict : mapping of str to array
        Linear layers (``*.weight`` of shape (out, in), ``*.bias``) in order, as PyTorch's
        ``nn.Sequential`` of ``nn.Linear`` layers writes them.
    x : array_like, shape (n, in) or (n, ...)
        Inputs; trailing axes are flattened.
    activation : {"relu", "tanh", "identity"}
        Applied between layers (not after the last).

    Returns
    -------
    numpy.ndarray, shape (n, out)
    """
    act = choose_method("activation", activation, _ACTIVATIONS)
    layers = mlp_layers(state_dict)
    h = as_float_array("x", x)
    h = h.reshape(h.shape[0], -1) if h.ndim > 1 else h.reshape(1, -1)
    if h.shape[1] != layers[0][0].shape[1]:
        raise ShapeError(
            f"x has {h.shape[1]} features but the first layer {layers[0][2]} takes "
            f"{layers[0][0].shape[1]}"
        )
    for k, (w, b, _) in enumerate(layers):
        h = h @ w.T
        if b is not None:
            h += b
        if k < len(layers) - 1:
            h = act(h)
    return h


def _kl_entropy(logp_a, logp_b):
    pa = np.exp(logp_a)
    kl = np.sum(pa * (logp_a - logp_b), axis=-1)
    return np.maximum(kl, 0.0), -np.sum(pa * logp_a, axis=-1)


def output_thermodynamics(logits: ArrayLike) -> dict[str, np.ndarray]:
    """Work, heat and conditional entropy production from output logits along a trajectory.

    Parameters
    ----------
    logits : array_like, shape (..., n_steps, n_probe, n_classes)
        The model's outputs on a probe set at consecutive checkpoints (leading axes, e.g.
        trials, are kept).

    Returns
    -------
    dict
        ``entropy`` (..., n_steps): probe-averaged output entropy ``E_x H(p_theta_t)``;
        ``work`` (..., n_steps - 1): ``<w_t> = E_x KL(p_theta_t || p_theta_{t+1})``;
        ``heat`` (..., n_steps - 1): ``<q_t> = H_{t+1} - H_t - <w_t>`` (absorbed by X);
        ``sigma_cond`` (..., n_steps - 1): cumulative sum of ``<w_t>``.

    Notes
    -----
    theory.md section 3: with ``E_theta(x) = -ln p(x | theta)`` the mean work of a parameter
    move is ``E KL(p_t || p_{t+1}) >= 0``, the first law gives the mean heat, and the
    conditional entropy production given the parameter path is ``sum_t KL(p_t || p_{t+1})``.
    Here X is the label drawn from the classifier's output at each probe input; the averages
    run over the probe inputs. See ``theory/bridge.md``.
    """
    z = as_float_array("logits", logits)
    if z.ndim < 3:
        raise ShapeError(
            f"logits must have shape (..., n_steps, n_probe, n_classes), got {z.shape}"
        )
    logp = log_softmax(z)
    kl, h = _kl_entropy(logp[..., :-1, :, :], logp[..., 1:, :, :])
    _, h_all = _kl_entropy(logp, logp)
    work = kl.mean(axis=-1)
    entropy = h_all.mean(axis=-1)
    heat = np.diff(entropy, axis=-1) - work
    return {"entropy": entropy, "work": work, "heat": heat,
            "sigma_cond": np.cumsum(work, axis=-1)}
