"""Seal and open named tensors: serialization (safetensors) inside envelope encryption."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fedcore.sealing.envelope import SealContext, open_sealed, seal
from fedcore.sealing.key_provider import KeyProvider
from fedcore.serialization import dump_tensors, load_tensors

__all__ = ["open_model", "open_update", "seal_model", "seal_update"]


def seal_update(
    tensors: Mapping[str, np.ndarray], context: SealContext, provider: KeyProvider
) -> bytes:
    """Seal a spoke's update; ``context.kind`` must be ``"update"``."""
    _require_kind(context, "update")
    return seal(dump_tensors(tensors), context, provider)


def open_update(blob: bytes, context: SealContext, provider: KeyProvider) -> dict[str, np.ndarray]:
    """Open a spoke's update sealed for exactly ``context`` (kind ``"update"``)."""
    _require_kind(context, "update")
    return load_tensors(open_sealed(blob, context, provider))


def seal_model(
    tensors: Mapping[str, np.ndarray], context: SealContext, provider: KeyProvider
) -> bytes:
    """Seal a global model; ``context.kind`` must be ``"model"``."""
    _require_kind(context, "model")
    return seal(dump_tensors(tensors), context, provider)


def open_model(blob: bytes, context: SealContext, provider: KeyProvider) -> dict[str, np.ndarray]:
    """Open a global model sealed for exactly ``context`` (kind ``"model"``)."""
    _require_kind(context, "model")
    return load_tensors(open_sealed(blob, context, provider))


def _require_kind(context: SealContext, kind: str) -> None:
    if context.kind != kind:
        raise ValueError(f"expected a context of kind {kind!r}, got {context.describe()}")
