"""Numba kernels of a fully connected network (MLP) with a softmax output.

Parameters live in one flat float64 vector. For layer ``li`` (``sizes[li] -> sizes[li+1]``) the
weight matrix ``W_l`` (row-major, shape ``(sizes[li], sizes[li+1])``) comes first, then the bias
``b_l``; layers follow each other. Hidden activation: ``act = 0`` ReLU, ``act = 1`` tanh; the
last layer is linear (logits). Matrix products use ``np.dot`` (BLAS). Slow NumPy twins live in
``tests/naive_learn.py``.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

__all__ = [
    "mlp_n_params",
    "mlp_forward",
    "mlp_loss_grad",
    "mlp_sgd_step_ensemble",
    "mlp_grad_ensemble",
    "mlp_logits_ensemble",
    "mlp_per_sample_grads",
]


@njit(cache=True)
def mlp_n_params(sizes):
    """Number of parameters of the network with layer widths ``sizes``."""
    n = 0
    for li in range(sizes.shape[0] - 1):
        n += sizes[li] * sizes[li + 1] + sizes[li + 1]
    return n


@njit(cache=True, inline="always")
def _affine_layer(params, off, a, b, h):
    """``h W + bias`` for the layer whose weights start at ``params[off]``, and the next offset.

    ``W`` is stored ``a x b`` row-major, followed by the ``b`` biases.
    """
    W = params[off:off + a * b].reshape((a, b))
    off += a * b
    bias = params[off:off + b]
    off += b
    z = np.dot(h, W)
    for i in range(z.shape[0]):
        for j in range(b):
            z[i, j] += bias[j]
    return z, off


@njit(cache=True)
def _forward_store(params, sizes, act, X, hs, zs):
    """Forward pass keeping every layer input ``hs[li]`` and pre-activation ``zs[li]``."""
    n_layers = sizes.shape[0] - 1
    off = 0
    h = X
    for li in range(n_layers):
        b = sizes[li + 1]
        z, off = _affine_layer(params, off, sizes[li], b, h)
        hs.append(h)
        zs.append(z)
        if li < n_layers - 1:
            hn = np.empty_like(z)
            if act == 0:
                for i in range(z.shape[0]):
                    for j in range(b):
                        v = z[i, j]
                        hn[i, j] = v if v > 0.0 else 0.0
            else:
                for i in range(z.shape[0]):
                    for j in range(b):
                        hn[i, j] = np.tanh(z[i, j])
            h = hn
        else:
            h = z
    return h


@njit(cache=True)
def mlp_forward(params, sizes, act, X):
    """Logits of the network for the inputs ``X`` (m, sizes[0]); returns (m, sizes[-1])."""
    n_layers = sizes.shape[0] - 1
    off = 0
    h = np.ascontiguousarray(X)
    for li in range(n_layers):
        b = sizes[li + 1]
        z, off = _affine_layer(params, off, sizes[li], b, h)
        for i in range(z.shape[0]):
            for j in range(b):
                v = z[i, j]
                if li < n_layers - 1:
                    if act == 0:
                        v = v if v > 0.0 else 0.0
                    else:
                        v = np.tanh(v)
                z[i, j] = v
        h = z
    return h


@njit(cache=True)
def mlp_loss_grad(params, sizes, act, X, y, grad):
    """Mean cross-entropy of the labels ``y`` and its gradient (written into ``grad``).

    Returns the loss ``-(1/m) sum_i ln softmax(f(x_i))[y_i]``.
    """
    m = X.shape[0]
    n_layers = sizes.shape[0] - 1
    hs = [np.empty((1, 1))]
    zs = [np.empty((1, 1))]
    hs.pop()
    zs.pop()
    logits = _forward_store(params, sizes, act, X, hs, zs)
    C = sizes[n_layers]
    delta = np.empty((m, C))
    loss = 0.0
    for i in range(m):
        mx = logits[i, 0]
        for c in range(1, C):
            if logits[i, c] > mx:
                mx = logits[i, c]
        s = 0.0
        for c in range(C):
            e = np.exp(logits[i, c] - mx)
            delta[i, c] = e
            s += e
        loss += np.log(s) + mx - logits[i, y[i]]
        for c in range(C):
            delta[i, c] = delta[i, c] / s / m
        delta[i, y[i]] -= 1.0 / m
    loss /= m
    # backward
    offs = np.empty(n_layers, dtype=np.int64)
    off = 0
    for li in range(n_layers):
        offs[li] = off
        off += sizes[li] * sizes[li + 1] + sizes[li + 1]
    for li in range(n_layers - 1, -1, -1):
        a = sizes[li]
        b = sizes[li + 1]
        o = offs[li]
        h = hs[li]
        gW = np.dot(h.T, delta)
        gflat = grad[o:o + a * b]
        k = 0
        for i in range(a):
            for j in range(b):
                gflat[k] = gW[i, j]
                k += 1
        for j in range(b):
            s = 0.0
            for i in range(m):
                s += delta[i, j]
            grad[o + a * b + j] = s
        if li > 0:
            W = params[o:o + a * b].reshape((a, b))
            dh = np.dot(delta, W.T)
            zp = zs[li - 1]
            if act == 0:
                for i in range(m):
                    for j in range(a):
                        if zp[i, j] <= 0.0:
                            dh[i, j] = 0.0
            else:
                hp = hs[li]
                for i in range(m):
                    for j in range(a):
                        dh[i, j] *= 1.0 - hp[i, j] * hp[i, j]
            delta = dh
    return loss


@njit(cache=True, parallel=True)
def mlp_sgd_step_ensemble(thetas, vel, sizes, act, X, y, idx, data_of, lr, momentum, losses):
    """One SGD step for every trial ``k`` on its mini-batch ``X[data_of[k], idx[k]]``.

    Heavy-ball momentum: ``v = momentum * v + g``, ``theta -= lr * v`` (``momentum = 0`` gives
    plain SGD). ``X`` has shape (n_datasets, N, n_in), ``idx`` (K, m); writes ``losses[k]``
    (mini-batch loss before the step).
    """
    K = thetas.shape[0]
    d = thetas.shape[1]
    m = idx.shape[1]
    for k in prange(K):
        ds = data_of[k]
        Xb = np.empty((m, X.shape[2]))
        yb = np.empty(m, dtype=np.int64)
        for i in range(m):
            Xb[i, :] = X[ds, idx[k, i], :]
            yb[i] = y[ds, idx[k, i]]
        g = np.empty(d)
        losses[k] = mlp_loss_grad(thetas[k], sizes, act, Xb, yb, g)
        for j in range(d):
            v = momentum * vel[k, j] + g[j]
            vel[k, j] = v
            thetas[k, j] -= lr * v


@njit(cache=True, parallel=True)
def mlp_grad_ensemble(thetas, sizes, act, X, y, idx, data_of, grads, losses):
    """Mini-batch gradients of every trial (no update): ``grads[k]``, ``losses[k]``."""
    K = thetas.shape[0]
    m = idx.shape[1]
    n_in = X.shape[2]
    d = thetas.shape[1]
    # element loops rather than slice assignments: the same copies, half the compile time
    for k in prange(K):
        ds = data_of[k]
        Xb = np.empty((m, n_in))
        yb = np.empty(m, dtype=np.int64)
        for i in range(m):
            r = idx[k, i]
            for j in range(n_in):
                Xb[i, j] = X[ds, r, j]
            yb[i] = y[ds, r]
        g = np.empty(d)
        losses[k] = mlp_loss_grad(thetas[k], sizes, act, Xb, yb, g)
        for j in range(d):
            grads[k, j] = g[j]


@njit(cache=True, parallel=True)
def mlp_logits_ensemble(thetas, sizes, act, X, out):
    """Logits of every trial's network on the shared inputs ``X``: ``out[k] = f_k(X)``."""
    for k in prange(thetas.shape[0]):
        f = mlp_forward(thetas[k], sizes, act, X)
        # an element loop: ``out[k] = f`` compiles a broadcasting assignment (seconds)
        for i in range(f.shape[0]):
            for j in range(f.shape[1]):
                out[k, i, j] = f[i, j]


@njit(cache=True)
def mlp_per_sample_grads(theta, sizes, act, X, y, out):
    """Gradient of ``-ln p(y_i | x_i)`` for each sample, written into ``out[i]``."""
    for i in range(X.shape[0]):
        g = np.empty(theta.shape[0])
        mlp_loss_grad(theta, sizes, act, X[i:i + 1], y[i:i + 1], g)
        out[i, :] = g


#: True while ``learning._fig41.single_thread_blas`` holds BLAS to one thread
_ONE_BLAS_THREAD = [False]


def mlp_grad_ensemble_serial(thetas, sizes, act, X, y, idx, data_of, grads, losses):
    """Compute :func:`mlp_grad_ensemble` with its trials one after another (large networks).

    The BLAS calls inside each gradient are already multi-threaded; nesting both oversubscribes
    the cores. This runs the parallel kernel on one Numba thread: the same compiled code (one
    kernel to compile and cache instead of two) and the same numbers, trial by trial. Inside
    ``learning._fig41.single_thread_blas`` it runs on every Numba thread (same numbers again).
    """
    if _ONE_BLAS_THREAD[0]:
        mlp_grad_ensemble(thetas, sizes, act, X, y, idx, data_of, grads, losses)
        return
    old = get_num_threads()
    set_num_threads(1)
    try:
        mlp_grad_ensemble(thetas, sizes, act, X, y, idx, data_of, grads, losses)
    finally:
        set_num_threads(old)
