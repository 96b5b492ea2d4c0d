"""Property-based fuzzing: mutated checkpoints only ever raise the bridge's own errors."""

import os
import pathlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stochthermo.bridge import read_checkpoint
from stochthermo.errors import BridgeError, ResourceError

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "bridge")
SOURCES = {n: pathlib.Path(os.path.join(FIX, n)).read_bytes()
           for n in ("zoo_zip.pt", "zoo_legacy.pt", "weights.safetensors", "wrapper_zip.pt")}

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 16)),
)


def mutate(raw, muts):
    b = bytearray(raw)
    for kind, pos, arg in muts:
        if not b:
            break
        pos %= len(b)
        if kind == "flip":
            b[pos] ^= arg
        elif kind == "cut":
            del b[pos:]
        elif kind == "insert":
            b[pos:pos] = bytes([arg])
        else:
            del b[pos:pos + arg]
    return bytes(b)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(SOURCES)), muts=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_checkpoints_raise_only_bridge_errors(tmp_path, name, muts):
    p = tmp_path / "m.pt"
    p.write_bytes(mutate(SOURCES[name], muts))
    try:
        sd = read_checkpoint(p)
    except (BridgeError, ResourceError):  # ResourceError: a mutation asking for gigabytes
        pass
    else:
        assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert os.listdir(tmp_path) == ["m.pt"]
