"""GET /audit-log: the hash-chained log, paginated, filtered, optionally verified."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import takewhile

from fastapi import APIRouter, Depends, Query

from fedcore.audit import AuditEntry, verify_chain
from functions.api_app.auth import require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.history import AuditEntryOut, AuditPage, ChainCheck

router = APIRouter(tags=["audit"])


@router.get("/audit-log", response_model=AuditPage, summary="Audit entries in chain order",
            dependencies=[Depends(require_researcher)])
def read_audit_log(
    after_seq: int = Query(0, ge=0, le=10**12, description="return entries after this sequence number"),
    limit: int = Query(100, ge=1, le=500),
    action: str | None = Query(None, min_length=1, max_length=100, description="only this action"),
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
        if (action and entry.action != action) or (since and at < since) or (until and at > until):
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


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
