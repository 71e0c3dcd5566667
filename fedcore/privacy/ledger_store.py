"""Storage interface for ledger accounts, and an in-memory backend.

One account per spoke, a JSON-compatible dict, written with optimistic concurrency: a put
names the version it read and fails with ``ConcurrentUpdateError`` if another writer got
there first (DynamoDB: ``ConditionExpression="version = :expected"`` or
``attribute_not_exists(spoke)`` for a create). Floats would become ``Decimal`` there.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from fedcore.privacy.ledger_errors import ConcurrentUpdateError

logger = logging.getLogger(__name__)

__all__ = ["InMemoryLedgerStore", "LedgerStore"]


@runtime_checkable
class LedgerStore(Protocol):
    """Three operations, each atomic on one spoke's account."""

    def get_account(self, spoke: str) -> dict[str, Any] | None:
        """A copy of the spoke's account including its ``"version"``, or None."""
        ...

    def put_account(self, account: Mapping[str, Any], expected_version: int | None) -> int:
        """Write ``account`` (keyed by ``account["spoke"]``) if the stored version equals
        ``expected_version`` (None: only if absent). Returns the new version; raises
        ``ConcurrentUpdateError`` otherwise."""
        ...

    def list_spokes(self) -> list[str]:
        """Spokes that have an account, sorted."""
        ...


class InMemoryLedgerStore:
    """A dict behind a lock; accounts go through JSON so they stay storable elsewhere."""

    def __init__(self) -> None:
        self._accounts: dict[str, tuple[int, str]] = {}  # spoke -> (version, JSON)
        self._lock = threading.Lock()

    def get_account(self, spoke: str) -> dict[str, Any] | None:
        with self._lock:
            stored = self._accounts.get(spoke)
        return None if stored is None else json.loads(stored[1])

    def put_account(self, account: Mapping[str, Any], expected_version: int | None) -> int:
        spoke = account.get("spoke")
        if not isinstance(spoke, str) or not spoke:
            raise ValueError("an account needs a non-empty 'spoke' string")
        with self._lock:
            stored = self._accounts.get(spoke)
            current = None if stored is None else stored[0]
            if current != expected_version:
                raise ConcurrentUpdateError(
                    f"ledger account {spoke!r} is at version {current}, expected {expected_version}"
                )
            new_version = 1 if current is None else current + 1
            record = copy.deepcopy(dict(account))
            record["version"] = new_version
            self._accounts[spoke] = (
                new_version,
                json.dumps(record, sort_keys=True, allow_nan=False),
            )
        return new_version

    def list_spokes(self) -> list[str]:
        with self._lock:
            return sorted(self._accounts)
