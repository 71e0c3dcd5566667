"""Where audit entries live: a create-only store interface and an in-memory backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from fedcore.audit.chain import AuditEntry


class AuditConflictError(RuntimeError):
    """An entry with this sequence number (or this event id) already exists."""


class AuditStore(Protocol):
    def put_entry(self, entry: AuditEntry) -> None:
        """Create-only: raise AuditConflictError if ``entry.seq`` or ``entry.event_id`` exists."""

    def last_entry(self) -> AuditEntry | None: ...

    def find_event(self, event_id: str) -> AuditEntry | None: ...

    def iter_entries(self, start_seq: int = 1) -> Iterator[AuditEntry]:
        """Entries in sequence order from ``start_seq``."""


class InMemoryAuditStore:
    def __init__(self) -> None:
        self._entries: dict[int, AuditEntry] = {}
        self._events: dict[str, int] = {}

    def put_entry(self, entry: AuditEntry) -> None:
        if entry.seq in self._entries:
            raise AuditConflictError(f"audit entry {entry.seq} already exists")
        if entry.event_id in self._events:
            raise AuditConflictError(f"audit event {entry.event_id!r} already recorded")
        self._entries[entry.seq] = entry
        self._events[entry.event_id] = entry.seq

    def last_entry(self) -> AuditEntry | None:
        return self._entries[max(self._entries)] if self._entries else None

    def find_event(self, event_id: str) -> AuditEntry | None:
        seq = self._events.get(event_id)
        return None if seq is None else self._entries[seq]

    def iter_entries(self, start_seq: int = 1) -> Iterator[AuditEntry]:
        for seq in sorted(s for s in self._entries if s >= start_seq):
            yield self._entries[seq]
