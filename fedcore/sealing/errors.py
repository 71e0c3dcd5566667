"""Errors raised when sealing or opening a blob.

Messages name the run, round, spoke and kind, never key material or plaintext.
"""

from __future__ import annotations

__all__ = ["ContextMismatchError", "KeyUnwrapError", "SealError", "TamperedError"]


class SealError(Exception):
    """Base class: a blob could not be sealed or opened."""


class TamperedError(SealError):
    """Authentication failed: the blob was modified, truncated or forged."""


class ContextMismatchError(SealError):
    """The blob was sealed for a different run, round, spoke or kind (e.g. a replay)."""


class KeyUnwrapError(SealError):
    """The wrapped data key could not be decrypted (wrong master key or tampered key)."""
