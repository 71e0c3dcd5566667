"""Pieces the hub steps share: reading releases from the bucket, charging, auditing failures."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from fedcore.federation.release import SealedRelease
from fedcore.runtime import layout
from fedcore.runtime.ports import HubServices

logger = logging.getLogger(__name__)


def iter_releases(services: HubServices, run_id: str, round_: int) -> Iterator[SealedRelease]:
    """Every object under ``updates/<run>/<round>/``, fetched one at a time (streaming)."""
    prefix = layout.updates_prefix(run_id, round_)
    for key in services.blobs.list_keys(prefix):
        spoke = key[len(prefix):]
        if "/" in spoke or not spoke:
            logger.warning("ignoring %s: not a release key (updates/<run>/<round>/<spoke>)", key)
            continue
        yield SealedRelease(spoke=spoke, round=round_, blob=services.blobs.get(key))


def audit_failed_jobs(services: HubServices, run_id: str, round_: int, results: list[dict] | None) -> list[str]:
    """Record every spoke whose job the state machine reported as failed; return their ids."""
    failed = []
    for result in results or []:
        if result.get("status") == "FAILED":
            spoke = str(result.get("spoke_id"))
            failed.append(spoke)
            services.audit.append(
                "hub", "spoke.failed", f"failed/{run_id}/{round_}/{spoke}",
                {"run_id": run_id, "round": round_, "spoke": spoke, "error": _failure_reason(result.get("error"))},
            )
    return failed


def audit_rejections(services: HubServices, run_id: str, round_: int, rejected: dict[str, str]) -> None:
    for spoke, reason in sorted(rejected.items()):
        services.audit.append(
            "hub", "update.rejected", f"rejected/{run_id}/{round_}/{spoke}",
            {"run_id": run_id, "round": round_, "spoke": spoke, "reason": _short(reason)},
        )


def _failure_reason(error) -> str:
    """Why a job failed: a Batch task's Cause is the job description (JSON) whose StatusReason
    says why, after ~500 characters of ARNs; put the reason first so the audit keeps it."""
    if isinstance(error, dict) and isinstance(error.get("Cause"), str):
        try:
            reason = json.loads(error["Cause"]).get("StatusReason")
        except (ValueError, AttributeError):
            reason = None
        if reason:
            return _short(f"{error.get('Error', 'failed')}: {reason}")
    return _short(error)


def _short(value, limit: int = 500) -> str:
    text = str(value) if value is not None else ""
    return text if len(text) <= limit else text[:limit] + "..."
