"""Slow NumPy twins of the MLP kernels (``stochthermo.kernels._mlp``)."""

import numpy as np


def unpack(params, sizes):
    layers, off = [], 0
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        W = params[off:off + a * b].reshape(a, b)
        off += a * b
        layers.append((W, params[off:off + b]))
        off += b
    return layers


def act_fn(z, act):
    return np.maximum(z, 0.0) if act == 0 else np.tanh(z)


def forward(params, sizes, act, X):
    h = X
    layers = unpack(params, sizes)
    for i, (W, b) in enumerate(layers):
        z = h @ W + b
        h = act_fn(z, act) if i < len(layers) - 1 else z
    return h


def loss_grad(params, sizes, act, X, y):
    layers = unpack(params, sizes)
    hs, zs, h = [], [], X
    for i, (W, b) in enumerate(layers):
        hs.append(h)
        z = h @ W + b
        zs.append(z)
        h = act_fn(z, act) if i < len(layers) - 1 else z
    z = h - h.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    m = X.shape[0]
    loss = -logp[np.arange(m), y].mean()
    delta = np.exp(logp)
    delta[np.arange(m), y] -= 1.0
    delta /= m
    grads = []
    for i in range(len(layers) - 1, -1, -1):
        W, _ = layers[i]
        grads.append((hs[i].T @ delta, delta.sum(axis=0)))
        if i > 0:
            dh = delta @ W.T
            if act == 0:
                dh = dh * (zs[i - 1] > 0)
            else:
                dh = dh * (1 - np.tanh(zs[i - 1]) ** 2)
            delta = dh
    flat = []
    for gW, gb in reversed(grads):
        flat += [gW.ravel(), gb]
    return loss, np.concatenate(flat)


def sgd_step(params, sizes, act, X, y, lr):
    loss, g = loss_grad(params, sizes, act, X, y)
    return params - lr * g, loss
