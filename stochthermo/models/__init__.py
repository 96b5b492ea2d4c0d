"""Models: linear Langevin processes and linearized SGD."""

from .jump import BipartiteJump, MarkovJump
from .linear import LinearizedSGD, LinearLangevin

__all__ = ["LinearLangevin", "LinearizedSGD", "MarkovJump", "BipartiteJump"]
