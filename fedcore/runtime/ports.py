"""Interfaces the runtime steps need; ``fedcore.aws`` implements them over S3 and DynamoDB."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fedcore.audit import AuditLog
from fedcore.privacy import PrivacyLedger
from fedcore.sealing import KeyProvider


class BlobExistsError(RuntimeError):
    """A create-only write found the key already present."""


class BlobNotFoundError(KeyError):
    """No object at this key."""


class BlobStore(Protocol):
    def put_new(self, key: str, data: bytes) -> None:
        """Create-only; raise BlobExistsError if the key exists."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str) -> bytes:
        """Raise BlobNotFoundError if absent."""

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str) -> list[str]: ...


class RunStore(Protocol):
    def create_run(self, run_id: str, record: dict) -> bool:
        """Create-only; False (and no change) if the run exists."""

    def get_run(self, run_id: str) -> dict | None: ...

    def update_run(self, run_id: str, fields: dict) -> None: ...

    def put_round(self, run_id: str, round_: int, metrics: dict) -> bool:
        """Create-only; False if this round's metrics were already recorded."""

    def list_rounds(self, run_id: str) -> list[dict]: ...

    def list_runs(self) -> list[dict]: ...

    def put_model_version(self, record: dict) -> bool:
        """Create-only by ``record["version"]``."""

    def list_model_versions(self) -> list[dict]: ...


@dataclass
class HubServices:
    """Everything a hub step touches, built once per Lambda container."""

    blobs: BlobStore
    keys: KeyProvider
    ledger: PrivacyLedger
    audit: AuditLog
    runs: RunStore
