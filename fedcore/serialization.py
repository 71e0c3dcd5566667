"""Named tensors to bytes and back, with safetensors (never pickle).

Weights cross every boundary as ``dict[str, np.ndarray]``; this module is the one place
they become bytes. The format is the safetensors layout
(https://github.com/huggingface/safetensors): an 8-byte header length, a JSON header
with dtype/shape/offsets per tensor, then raw little-endian data. Loading parses JSON and
copies bytes; it cannot execute code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
from safetensors.numpy import load as _safetensors_load
from safetensors.numpy import save as _safetensors_save

logger = logging.getLogger(__name__)

__all__ = ["SerializationError", "dump_tensors", "load_tensors"]


class SerializationError(ValueError):
    """Tensors could not be written, or bytes are not a valid tensor file."""


def dump_tensors(tensors: Mapping[str, np.ndarray]) -> bytes:
    """Serialize named tensors; equal input gives equal bytes (names are sorted).

    Arrays are made C-contiguous first (0-d arrays keep their shape): safetensors' numpy
    writer reads raw memory from the data pointer, so a non-contiguous view (e.g. a
    transpose) would otherwise be written in the wrong element order.
    """
    prepared: dict[str, np.ndarray] = {}
    for name in sorted(tensors):
        if not isinstance(name, str) or not name:
            raise SerializationError(f"tensor names must be non-empty strings, got {name!r}")
        value = tensors[name]
        if not isinstance(value, np.ndarray):
            raise SerializationError(
                f"tensor {name!r} is a {type(value).__name__}, expected numpy.ndarray"
            )
        if value.dtype.kind not in "biufc" or value.dtype.hasobject:
            raise SerializationError(f"tensor {name!r} has unsupported dtype {value.dtype}")
        prepared[name] = np.asarray(value, order="C")  # copies only when not C-contiguous
    try:
        return _safetensors_save(prepared)
    except Exception as error:  # safetensors raises its own Rust-backed error types
        raise SerializationError(f"could not serialize tensors: {error}") from error


def load_tensors(data: bytes) -> dict[str, np.ndarray]:
    """Parse bytes written by :func:`dump_tensors` into fresh, writable arrays."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(f"expected bytes, got {type(data).__name__}")
    try:
        loaded = _safetensors_load(bytes(data))
    except Exception as error:  # SafetensorError, KeyError for unknown dtypes, ...
        raise SerializationError(f"corrupt or unsupported tensor data: {error}") from error
    # Copies own their memory: no aliasing of the caller's buffer, always writable.
    return {name: np.array(loaded[name], copy=True) for name in sorted(loaded)}
