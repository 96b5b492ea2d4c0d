"""PyTorch-free bridge: read real training runs and compare them with theory.

Readers (no PyTorch, no unrestricted pickle): :func:`read_checkpoint` (``torch.save`` zip and
legacy formats with pickle protocols 2-5, safetensors, ``.npy``/``.npz``, HDF5; float8,
bfloat16 and complex32 widened exactly) and :func:`read_scalars` (CSV, JSON lines,
TensorBoard event files, Hugging Face ``trainer_state.json``). :func:`open_runs` finds trials
and checkpoints (plain loops, Hugging Face Trainer and Lightning folders); :func:`diagnose`
streams once over them (memory-mapped) for the diagnostics of theory.md section 6, testing
each interval for whether the ensemble noise estimate is still noise and fitting only over
the valid window; :class:`TrajectoryWriter` logs a trajectory from any training loop,
including mini-batch and full-batch gradients that measure the noise exactly. See
``theory/bridge.md``.

Files are untrusted: readers open only regular files (a FIFO named like a checkpoint is refused,
never waited on), do not follow links out of the folder being read unless
``follow_links=True``, and charge every array and decompressed record of a file to a budget
(``max_bytes=``, default 4 GiB, and ``max_ratio=``, default 200, beyond the file's own size)
before allocating it, raising :class:`~stochthermo.errors.ResourceError` past it. A pickle is
read once before it is unpickled, refusing memo indices it could not reach and references to
shared objects that multiply (a few hundred bytes describing 2**40 objects); HDF5 datasets
whose data lie in other files (external storage, virtual datasets) are refused.
"""

from ._checkpoint import checkpoint_layout, read_checkpoint
from ._diagnostics import Diagnostics, RunDiagnostics, diagnose, diagnose_run, fit_batch_scaling
from ._mlp import mlp_forward, mlp_layers, output_thermodynamics
from ._runs import Frame, Run, Trial, open_runs
from ._scalars import read_scalars
from ._writer import TrajectoryWriter

__all__ = [
    "read_checkpoint",
    "checkpoint_layout",
    "read_scalars",
    "open_runs",
    "Run",
    "Trial",
    "Frame",
    "TrajectoryWriter",
    "diagnose",
    "diagnose_run",
    "Diagnostics",
    "RunDiagnostics",
    "fit_batch_scaling",
    "mlp_forward",
    "mlp_layers",
    "output_thermodynamics",
]
