"""Models: linear Langevin processes and linearized SGD."""

from .linear import LinearizedSGD, LinearLangevin

__all__ = ["LinearLangevin", "LinearizedSGD"]
