"""Type aliases of the public signatures (for annotations only; nothing here runs).

Modules import these under ``typing.TYPE_CHECKING``; with ``from __future__ import
annotations`` the annotations stay strings at run time, so importing a module costs nothing
extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ArrayLike", "SeedLike", "PathLike", "ProgressLike", "Blocks"]

#: what ``seed=`` accepts (see :func:`stochthermo._rng.as_seed_sequence`)
SeedLike: TypeAlias = int | np.random.SeedSequence | np.random.Generator | None
#: a file or folder name
PathLike: TypeAlias = str | os.PathLike[str]
#: what ``progress=`` accepts: a flag, or a tqdm-like factory (``total=``, ``desc=``)
ProgressLike: TypeAlias = bool | Callable[..., Any] | None
#: subsystems: index groups of the coordinates, or block sizes (``[1, 1]`` = two 1-d blocks)
Blocks: TypeAlias = Sequence[int] | Sequence[Sequence[int]]
