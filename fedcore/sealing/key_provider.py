"""Where data keys come from: a KMS-shaped interface and a local implementation.

The interface mirrors AWS KMS ``GenerateDataKey`` / ``Decrypt`` with an encryption
context (a string-to-string map bound to the wrapped key): unwrapping under any other
context fails. The KMS implementation lives in the AWS adapter; ``LocalKeyProvider``
serves tests and the sandbox.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fedcore.sealing.canonical_json import canonical_json
from fedcore.sealing.errors import KeyUnwrapError

logger = logging.getLogger(__name__)

__all__ = ["DATA_KEY_BYTES", "DataKey", "KeyProvider", "LocalKeyProvider", "validate_context"]

DATA_KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12  # the GCM standard nonce size (NIST SP 800-38D)
_WRAP_FORMAT = b"\x01"  # leading byte of a locally wrapped key, for future rotation


@dataclass(frozen=True)
class DataKey:
    """A fresh data key: use ``plaintext`` once, store only ``wrapped``."""

    plaintext: bytes = field(repr=False)  # never shown in logs or tracebacks
    wrapped: bytes

    def __post_init__(self) -> None:
        if len(self.plaintext) != DATA_KEY_BYTES:
            raise ValueError(f"data key must be {DATA_KEY_BYTES} bytes")


@runtime_checkable
class KeyProvider(Protocol):
    """Generates and unwraps AES-256 data keys bound to an encryption context.

    Implementations raise ``KeyUnwrapError`` when a wrapped key cannot be decrypted
    under the given context (for KMS: translate ``InvalidCiphertextException``).
    """

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """Return a new random 32-byte key and its wrapped form, bound to ``context``."""
        ...

    def decrypt_data_key(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        """Return the 32-byte plaintext key, only if ``context`` is the one it was bound to."""
        ...


def validate_context(context: Mapping[str, str]) -> dict[str, str]:
    """Check a KMS-style encryption context (string keys and values) and copy it."""
    if not isinstance(context, Mapping) or not context:
        raise ValueError("encryption context must be a non-empty mapping of str to str")
    for key, value in context.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(
                "encryption context entries must be str -> str (a KMS rule), "
                f"got {key!r}: {type(value).__name__}"
            )
    return dict(context)


class LocalKeyProvider:
    """Wraps data keys with AES-256-GCM under a local master key.

    The canonical JSON of the context is the GCM associated data, so unwrapping under a
    different context fails exactly as it does with KMS. Keys and nonces come from the
    OS CSPRNG (``os.urandom``/``secrets``), never from a seeded generator.
    """

    def __init__(self, master_key: bytes) -> None:
        if not isinstance(master_key, (bytes, bytearray)) or len(master_key) != DATA_KEY_BYTES:
            raise ValueError(f"master key must be {DATA_KEY_BYTES} bytes (AES-256)")
        self._master = AESGCM(bytes(master_key))
        self._master_key = bytes(master_key)

    @classmethod
    def generate(cls) -> LocalKeyProvider:
        """A provider with a new random master key (from ``secrets``)."""
        return cls(secrets.token_bytes(DATA_KEY_BYTES))

    def export_master_key(self) -> bytes:
        """The master key bytes, for persisting a sandbox key; handle as a secret."""
        return self._master_key

    def __repr__(self) -> str:
        return "LocalKeyProvider(master_key=<hidden>)"

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        aad = canonical_json(validate_context(context))
        plaintext = secrets.token_bytes(DATA_KEY_BYTES)
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = _WRAP_FORMAT + nonce + self._master.encrypt(nonce, plaintext, aad)
        return DataKey(plaintext=plaintext, wrapped=wrapped)

    def decrypt_data_key(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        aad = canonical_json(validate_context(context))
        expected_length = 1 + _NONCE_BYTES + DATA_KEY_BYTES + 16  # + GCM tag
        if len(wrapped) != expected_length or wrapped[:1] != _WRAP_FORMAT:
            raise KeyUnwrapError("wrapped data key has an unknown format or length")
        nonce, ciphertext = wrapped[1 : 1 + _NONCE_BYTES], wrapped[1 + _NONCE_BYTES :]
        try:
            return self._master.decrypt(nonce, ciphertext, aad)
        except InvalidTag as error:
            raise KeyUnwrapError(
                "data key does not unwrap under this master key and context"
            ) from error

