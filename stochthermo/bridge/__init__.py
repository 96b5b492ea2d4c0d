"""PyTorch-free bridge: read real training runs and compare them with theory.

Readers (no PyTorch, no unrestricted pickle): :func:`read_checkpoint` (``torch.save`` zip and
legacy formats, safetensors, ``.npy``/``.npz``, HDF5) and :func:`read_scalars` (CSV, JSON
lines, TensorBoard event files). See ``theory/bridge.md``.
"""

from ._checkpoint import checkpoint_layout, read_checkpoint
from ._scalars import read_scalars

__all__ = ["read_checkpoint", "checkpoint_layout", "read_scalars"]
