"""GET /audit-log: the hash-chained log, paginated, filtered, optionally verified."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import Enum
from itertools import takewhile

from fastapi import APIRouter, Depends, Query

from fedcore.audit import AuditEntry, verify_chain
from fedcore.audit.actions import AUDIT_ACTIONS
from functions.api_app.auth import require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.history import AuditEntryOut, AuditPage, ChainCheck

router = APIRouter(tags=["audit"])
AuditAction = Enum("AuditAction", {name.replace(".", "_"): name for name in AUDIT_ACTIONS}, type=str)


@router.get("/audit-log", response_model=AuditPage, summary="Audit entries in chain order",
            dependencies=[Depends(require_researcher)])
def read_audit_log(
    after_seq: int = Query(0, ge=0, le=10**12, description="return entries after this sequence number"),
    limit: int = Query(100, ge=1, le=500),
    action: AuditAction | None = Query(None, description="only this action"),
    since: datetime | None = Query(None, description="only entries at or after this time (ISO 8601)"),
    until: datetime | None = Query(None, description="only entries at or before this time (ISO 8601)"),
    verify: bool = Query(False, description="verify the hash chain over the returned range"),
    ctx: ApiContext = Depends(api_context),
) -> AuditPage:
    since, until = _utc(since), _utc(until)
    if since and until and since > until:
        raise ApiError(400, "invalid_time_range", "since must not be after until")
    matches: list[AuditEntry] = []
    more = False
    for entry in ctx.services.audit.entries(after_seq + 1):
        at = _utc(datetime.fromisoformat(entry.timestamp))
        if (action and entry.action != action.value) or (since and at < since) or (until and at > until):
            continue
        if len(matches) == limit:
            more = True
            break
        matches.append(entry)
    verification = _verify(ctx, matches[0].seq, matches[-1].seq) if verify and matches else None
    return AuditPage(entries=[AuditEntryOut(**e.to_dict()) for e in matches],
                     next_after_seq=matches[-1].seq if more else None, verification=verification)


def _verify(ctx: ApiContext, first: int, last: int) -> ChainCheck:
    """Check every entry from the one before ``first`` to ``last``, so the page's first link is checked too."""
    start = max(first - 1, 1)
    span = list(takewhile(lambda e: e.seq <= last, ctx.services.audit.entries(start)))
    result = verify_chain(span) if start == 1 else verify_chain(span, start_prev_hash=None)
    if result.ok and (not span or span[0].seq != start or span[-1].seq != last):
        return ChainCheck(ok=False, from_seq=start, to_seq=last, checked=result.count, first_bad_seq=start,
                          reason="entries of the range are missing")
    return ChainCheck(ok=result.ok, from_seq=start, to_seq=last, checked=result.count,
                      first_bad_seq=result.first_bad_seq, reason=result.reason)


MAX_UTC_OFFSET = timedelta(hours=14)  # real-world offsets span -12:00 .. +14:00


def _utc(moment: datetime | None) -> datetime | None:
    """UTC view of a filter time; 422 for offsets no place uses or times beyond the calendar."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    if abs(moment.utcoffset()) > MAX_UTC_OFFSET:
        raise ApiError(422, "invalid_time", f"UTC offset {moment.utcoffset()} is outside -12:00..+14:00")
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ApiError(422, "invalid_time", "the time is outside the representable range") from None
