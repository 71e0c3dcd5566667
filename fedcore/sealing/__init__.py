"""Envelope encryption of updates and models (DESIGN.md section 5)."""

from fedcore.sealing.envelope import FORMAT_VERSION, SealContext, open_sealed, seal
from fedcore.sealing.errors import ContextMismatchError, KeyUnwrapError, SealError, TamperedError
from fedcore.sealing.key_provider import DataKey, KeyProvider, LocalKeyProvider
from fedcore.sealing.sealed_tensors import open_model, open_update, seal_model, seal_update

__all__ = [
    "FORMAT_VERSION",
    "ContextMismatchError",
    "DataKey",
    "KeyProvider",
    "KeyUnwrapError",
    "LocalKeyProvider",
    "SealContext",
    "SealError",
    "TamperedError",
    "open_model",
    "open_sealed",
    "open_update",
    "seal",
    "seal_model",
    "seal_update",
]
