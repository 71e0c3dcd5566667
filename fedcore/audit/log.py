"""Appending to the audit chain: idempotent per event, safe against concurrent writers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from fedcore.audit.chain import GENESIS_HASH, AuditEntry, entry_hash
from fedcore.audit.store import AuditConflictError, AuditStore

logger = logging.getLogger(__name__)

MAX_APPEND_ATTEMPTS = 20  # concurrent writers race for the next sequence number


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class AuditLog:
    def __init__(self, store: AuditStore, clock: Callable[[], str] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def append(self, actor: str, action: str, event_id: str, details: dict | None = None) -> AuditEntry:
        """Record an event once: a repeated ``event_id`` returns the entry already stored."""
        details = json.loads(json.dumps(details or {}, default=str))  # JSON-safe, detached copy
        for _ in range(MAX_APPEND_ATTEMPTS):
            existing = self._store.find_event(event_id)
            if existing is not None:
                return existing
            last = self._store.last_entry()
            entry = AuditEntry(
                seq=1 if last is None else last.seq + 1,
                timestamp=self._clock(),
                actor=actor,
                action=action,
                event_id=event_id,
                details=details,
                prev_hash=GENESIS_HASH if last is None else last.hash,
            )
            entry = replace(entry, hash=entry_hash(entry))
            try:
                self._store.put_entry(entry)
                return entry
            except AuditConflictError:
                logger.debug("audit append raced on seq %d; retrying", entry.seq)
        raise AuditConflictError(f"could not append audit event {event_id!r} after {MAX_APPEND_ATTEMPTS} attempts")

    def entries(self, start_seq: int = 1):
        return self._store.iter_entries(start_seq)

    def export_jsonl(self, path: str | Path) -> int:
        count = 0
        with open(path, "w") as out:
            for entry in self._store.iter_entries():
                out.write(json.dumps(entry.to_dict(), sort_keys=True) + "\n")
                count += 1
        return count


def read_jsonl(path: str | Path) -> list[AuditEntry]:
    """Read an exported chain; a malformed line raises ValueError naming its line number."""
    entries = []
    with open(path) as src:
        for number, line in enumerate(src, start=1):
            if not line.strip():
                continue
            try:
                entries.append(AuditEntry.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"line {number} is not an audit entry: {exc}") from exc
    return entries
