"""Reject malformed updates before they reach an aggregator (DESIGN.md section 3)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["InvalidUpdateError", "validate_reference", "validate_update"]


class InvalidUpdateError(ValueError):
    """An update does not match the global model or holds non-finite values."""


def validate_reference(reference: Mapping[str, np.ndarray]) -> None:
    """The global weights themselves: non-empty, floating, finite."""
    if not isinstance(reference, Mapping) or not reference:
        raise ValueError("global weights must be a non-empty mapping of name -> ndarray")
    for name, tensor in reference.items():
        _check_tensor(name, tensor, "global weights")


def validate_update(reference: Mapping[str, np.ndarray], update: Mapping[str, np.ndarray]) -> None:
    """Raise ``InvalidUpdateError`` unless ``update`` has exactly the reference's tensor
    names and shapes, floating dtypes and only finite values. Messages name the tensor."""
    if not isinstance(update, Mapping):
        raise InvalidUpdateError(
            f"update must be a mapping of name -> ndarray, got {type(update).__name__}"
        )
    missing = sorted(set(reference) - set(update))
    if missing:
        raise InvalidUpdateError(f"update is missing tensors {missing}")
    extra = sorted(set(update) - set(reference))
    if extra:
        raise InvalidUpdateError(f"update has unexpected tensors {extra}")
    for name in sorted(reference):
        tensor = update[name]
        _check_tensor(name, tensor, "update")
        expected_shape = np.shape(reference[name])
        if tensor.shape != expected_shape:
            raise InvalidUpdateError(
                f"update tensor {name!r} has shape {tensor.shape}, expected {expected_shape}"
            )


def _check_tensor(name: str, tensor: object, what: str) -> None:
    if not isinstance(tensor, np.ndarray):
        raise InvalidUpdateError(
            f"{what} tensor {name!r} is a {type(tensor).__name__}, not an ndarray"
        )
    if not np.issubdtype(tensor.dtype, np.floating):
        raise InvalidUpdateError(f"{what} tensor {name!r} has non-floating dtype {tensor.dtype}")
    if not np.isfinite(tensor).all():
        raise InvalidUpdateError(f"{what} tensor {name!r} contains NaN or infinite values")
