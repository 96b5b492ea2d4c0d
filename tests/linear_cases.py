"""Random linear models shared by the foundation tests."""

import numpy as np


def random_stable(rng, d, *, asym=0.8):
    """A random stable drift matrix (symmetric PD part plus an antisymmetric part)."""
    B = rng.normal(size=(d, d))
    S = B @ B.T / d + 0.5 * np.eye(d)
    W = rng.normal(size=(d, d))
    A = S + asym * (W - W.T) / 2
    return A


def random_diag_diffusion(rng, d):
    return np.diag(rng.uniform(0.5, 2.0, size=d))
