"""Audit entries and the hash chain that makes edits and gaps detectable.

Each entry carries the SHA-256 of the previous entry and its own SHA-256 over the canonical
JSON of every other field (sorted keys, no whitespace), so changing, removing or reordering
any entry breaks the chain at that point (a Merkle-free hash chain, as in Schneier & Kelsey,
"Secure audit logs to support computer forensics", 1999).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

GENESIS_HASH = "0" * 64  # the "previous hash" of the first entry


@dataclass(frozen=True)
class AuditEntry:
    seq: int  # 1, 2, 3, ... without gaps
    timestamp: str  # ISO 8601, UTC
    actor: str  # who: a role, a user from the authorizer, or a component
    action: str  # what, e.g. "round.aggregated", "update.rejected", "budget.reset"
    event_id: str  # idempotency key: the same event is recorded once
    details: dict = field(default_factory=dict)  # JSON-serialisable facts; never weights, keys or rows
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AuditEntry":
        return cls(
            seq=int(data["seq"]), timestamp=str(data["timestamp"]), actor=str(data["actor"]),
            action=str(data["action"]), event_id=str(data["event_id"]), details=dict(data.get("details") or {}),
            prev_hash=str(data["prev_hash"]), hash=str(data["hash"]),
        )


def entry_hash(entry: AuditEntry) -> str:
    body = entry.to_dict()
    body.pop("hash")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    count: int  # entries checked
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(entries: Iterable[AuditEntry], start_prev_hash: str | None = GENESIS_HASH) -> ChainVerification:
    """Check sequence, links and hashes; report the first entry that is wrong.

    ``start_prev_hash`` None verifies a range that starts mid-chain (its first link is trusted).
    """
    expected_prev = start_prev_hash
    expected_seq = None
    count = 0
    for entry in entries:
        if expected_seq is None:
            expected_seq = entry.seq if start_prev_hash is None else 1
        if entry.seq != expected_seq:
            reason = f"expected entry {expected_seq}, found {entry.seq}: entries are missing or out of order"
            return ChainVerification(False, count, expected_seq, reason)
        if expected_prev is not None and entry.prev_hash != expected_prev:
            return ChainVerification(False, count, entry.seq, "its previous-hash link does not match the entry before it")
        if entry_hash(entry) != entry.hash:
            return ChainVerification(False, count, entry.seq, "its content does not match its hash (edited)")
        expected_prev = entry.hash
        expected_seq = entry.seq + 1
        count += 1
    return ChainVerification(True, count)
