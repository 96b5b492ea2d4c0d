"""Picklable packing of result dataclasses (whose mappings are read-only proxies).

``MappingProxyType`` does not pickle, so results sent between Dask workers and the client
travel as tagged tuples and are rebuilt on arrival.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

__all__ = ["pack", "unpack"]


def pack(obj: Any) -> Any:
    """Dataclasses, read-only mappings and tuples -> picklable tagged tuples (recursively).

    A dataclass travels as its constructor arguments (fields with ``init=False`` are derived
    again by its ``__post_init__`` when :func:`unpack` rebuilds it).
    """
    if isinstance(obj, MappingProxyType):
        return ("__mapping__", {k: pack(v) for k, v in obj.items()})
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return ("__dataclass__", type(obj),
                {f.name: pack(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init})
    if isinstance(obj, tuple):
        return ("__tuple__", [pack(v) for v in obj])
    return obj


def unpack(obj: Any) -> Any:
    """Inverse of :func:`pack`."""
    if isinstance(obj, tuple) and obj and isinstance(obj[0], str):
        tag = obj[0]
        if tag == "__mapping__":
            return MappingProxyType({k: unpack(v) for k, v in obj[1].items()})
        if tag == "__dataclass__":
            return obj[1](**{k: unpack(v) for k, v in obj[2].items()})
        if tag == "__tuple__":
            return tuple(unpack(v) for v in obj[1])
    return obj
