"""Append-only, hash-chained audit log (DESIGN.md section 6)."""

from fedcore.audit.chain import AuditEntry, ChainVerification, entry_hash, verify_chain
from fedcore.audit.log import AuditLog
from fedcore.audit.store import AuditConflictError, AuditStore, InMemoryAuditStore

__all__ = [
    "AuditConflictError",
    "AuditEntry",
    "AuditLog",
    "AuditStore",
    "ChainVerification",
    "InMemoryAuditStore",
    "entry_hash",
    "verify_chain",
]
