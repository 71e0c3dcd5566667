"""Envelope encryption of one blob bound to its (run, round, spoke, kind) context.

DESIGN.md section 5: a per-blob AES-256 data key from the key provider (KMS
``GenerateDataKey`` with the context as encryption context), AES-256-GCM over the
plaintext with the header as associated data. Opening under any other context fails,
which is the replay protection (round r's update is not accepted in round r+1, nor
spoke A's as spoke B's).

Blob layout (all integers big-endian)::

    b"FCSEAL" | version: u8 | header_length: u32 | header (canonical JSON) | GCM ciphertext+tag

The header is ``{"version", "cipher", "context", "wrapped_key", "nonce", "plaintext_sha256"}``
(binary fields base64). The GCM associated data is the exact header bytes, so changing any
bit of the header, including the context, fails authentication.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import struct
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fedcore.sealing.canonical_json import canonical_json
from fedcore.sealing.errors import ContextMismatchError, SealError, TamperedError
from fedcore.sealing.key_provider import KeyProvider

logger = logging.getLogger(__name__)

__all__ = ["FORMAT_VERSION", "MAGIC", "SealContext", "open_sealed", "seal"]

MAGIC = b"FCSEAL"
FORMAT_VERSION = 1
_PREFIX = struct.Struct(">6sBI")  # magic, version, header length
_MAX_HEADER_BYTES = 64 * 1024  # a real header is a few hundred bytes
_NONCE_BYTES = 12
_CIPHER = "AES-256-GCM"
_HEADER_FIELDS = {"version", "cipher", "context", "wrapped_key", "nonce", "plaintext_sha256"}
SealKind = Literal["update", "model"]


@dataclass(frozen=True)
class SealContext:
    """What a blob is for; becomes the KMS encryption context and part of the AAD."""

    run: str  # run id
    round: int  # round number, 0 is the setup round
    spoke: str  # spoke (hospital) id; the hub's own id for a global model
    kind: SealKind  # "update" from a spoke, or "model" from the hub

    def __post_init__(self) -> None:
        for name in ("run", "spoke"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"SealContext.{name} must be a non-empty string, got {value!r}")
        if isinstance(self.round, bool) or not isinstance(self.round, int) or self.round < 0:
            raise ValueError(f"SealContext.round must be an int >= 0, got {self.round!r}")
        if self.kind not in ("update", "model"):
            raise ValueError(f"SealContext.kind must be 'update' or 'model', got {self.kind!r}")

    def as_kms_context(self) -> dict[str, str]:
        """The encryption context: KMS requires string values."""
        return {"run": self.run, "round": str(self.round), "spoke": self.spoke, "kind": self.kind}

    def canonical_json(self) -> bytes:
        return canonical_json(self.as_kms_context())

    def describe(self) -> str:
        """For log and error messages: ``run='r1' round=3 spoke='a' kind='update'``."""
        return _describe_context(self.as_kms_context())


def seal(plaintext: bytes, context: SealContext, provider: KeyProvider) -> bytes:
    """Encrypt ``plaintext`` under a fresh data key bound to ``context``."""
    if not isinstance(plaintext, (bytes, bytearray, memoryview)):
        raise TypeError(f"plaintext must be bytes, got {type(plaintext).__name__}")
    plaintext = bytes(plaintext)
    data_key = provider.generate_data_key(context.as_kms_context())
    nonce = os.urandom(_NONCE_BYTES)  # random 96-bit nonce; each data key is used once
    header = canonical_json(
        {
            "version": FORMAT_VERSION,
            "cipher": _CIPHER,
            "context": context.as_kms_context(),
            "wrapped_key": base64.b64encode(data_key.wrapped).decode("ascii"),
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
        }
    )
    ciphertext = AESGCM(data_key.plaintext).encrypt(nonce, plaintext, header)
    logger.debug("sealed %d bytes for %s", len(plaintext), context.describe())
    return _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header + ciphertext


def open_sealed(blob: bytes, expected: SealContext, provider: KeyProvider) -> bytes:
    """Authenticate and decrypt ``blob``, only if it was sealed for ``expected``.

    Raises ``SealError`` (not a blob, unsupported version), ``TamperedError`` (any
    modification), ``ContextMismatchError`` (sealed for another run/round/spoke/kind) or
    ``KeyUnwrapError`` (wrong key provider).
    """
    where = expected.describe()
    header_bytes, ciphertext = _split_blob(bytes(blob), where)
    header = _parse_header(header_bytes, where)
    sealed_for = header["context"]
    if sealed_for != expected.as_kms_context():
        raise ContextMismatchError(
            f"blob was sealed for {_describe_context(sealed_for)}, expected {where}"
        )
    data_key = provider.decrypt_data_key(header["wrapped_key"], expected.as_kms_context())
    try:
        plaintext = AESGCM(data_key).decrypt(header["nonce"], ciphertext, header_bytes)
    except InvalidTag as error:
        raise TamperedError(f"authentication failed for {where}: blob was modified") from error
    digest = hashlib.sha256(plaintext).digest()
    if not hmac.compare_digest(digest, header["plaintext_sha256"]):
        raise TamperedError(f"plaintext SHA-256 mismatch for {where}")
    return plaintext


def _split_blob(blob: bytes, where: str) -> tuple[bytes, bytes]:
    if len(blob) < _PREFIX.size or blob[: len(MAGIC)] != MAGIC:
        raise SealError(f"not a sealed fedcore blob (expected for {where})")
    _, version, header_length = _PREFIX.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise SealError(f"unsupported sealed-blob version {version} for {where}")
    if header_length > _MAX_HEADER_BYTES or len(blob) < _PREFIX.size + header_length:
        raise TamperedError(f"sealed blob for {where} is truncated or has a corrupt header length")
    end = _PREFIX.size + header_length
    return blob[_PREFIX.size : end], blob[end:]


def _parse_header(header_bytes: bytes, where: str) -> dict[str, Any]:
    """Parse and type-check the header; binary fields come back decoded."""
    try:
        header = json.loads(header_bytes.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TamperedError(f"sealed blob header for {where} is not valid JSON") from error
    if not isinstance(header, dict) or set(header) != _HEADER_FIELDS:
        raise TamperedError(f"sealed blob header for {where} has unexpected fields")
    if canonical_json(header) != header_bytes:
        raise TamperedError(f"sealed blob header for {where} is not in canonical form")
    if type(header["version"]) is not int or header["version"] != FORMAT_VERSION:
        raise SealError(f"unsupported header version for {where}")
    if header["cipher"] != _CIPHER:
        raise SealError(f"unsupported cipher for {where}")
    context = header["context"]
    if not isinstance(context, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in context.items()
    ):
        raise TamperedError(f"sealed blob header for {where} has a malformed context")
    try:
        wrapped_key = base64.b64decode(header["wrapped_key"], validate=True)
        nonce = base64.b64decode(header["nonce"], validate=True)
        digest = bytes.fromhex(header["plaintext_sha256"])
    except (binascii.Error, TypeError, ValueError) as error:
        raise TamperedError(f"sealed blob header for {where} has malformed fields") from error
    if len(nonce) != _NONCE_BYTES or len(digest) != hashlib.sha256().digest_size:
        raise TamperedError(f"sealed blob header for {where} has malformed fields")
    return {**header, "wrapped_key": wrapped_key, "nonce": nonce, "plaintext_sha256": digest}


def _describe_context(context: dict[str, str]) -> str:
    """Describe a (possibly untrusted) context for a message, bounded in length."""
    parts = []
    for key in ("run", "round", "spoke", "kind"):
        value = str(context.get(key))[:80]
        parts.append(f"{key}={value}" if key == "round" and value.isdigit() else f"{key}={value!r}")
    return " ".join(parts)
