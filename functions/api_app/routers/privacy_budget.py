"""Privacy budgets per hospital: read (researcher), set a limit and reset a period (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fedcore.privacy import UnknownSpokeError
from fedcore.runtime.hub_reports import budget_report, known_spokes
from functions.api_app.auth import Caller, require_admin, require_researcher
from functions.api_app.context import ApiContext, api_context
from functions.api_app.errors import ApiError
from functions.api_app.schemas.budget import (
    BudgetList, LimitSet, ResetDone, ResetRequest, SetLimitRequest, SpokeBudget,
)
from functions.api_app.schemas.common import error_responses

router = APIRouter(tags=["privacy budget"])


@router.get("/privacy-budget", response_model=BudgetList, summary="Limit, spend and estimated rounds per hospital",
            dependencies=[Depends(require_researcher)])
def read_budgets(ctx: ApiContext = Depends(api_context)) -> BudgetList:
    spokes = known_spokes(ctx.services, ctx.settings.spokes)
    return BudgetList(spokes=[SpokeBudget(**row) for row in budget_report(ctx.services, spokes)])


@router.post("/privacy-budget/set-limit", response_model=LimitSet, summary="Set a hospital's epsilon limit (admin)",
             responses=error_responses(404))
def set_limit(body: SetLimitRequest, caller: Caller = Depends(require_admin),
              ctx: ApiContext = Depends(api_context)) -> LimitSet:
    ledger = ctx.services.ledger
    _require_known(ctx, body.spoke)
    try:
        previous = ledger.limit(body.spoke)
    except UnknownSpokeError:
        previous = None
    ledger.set_limit(body.spoke, body.epsilon_limit)
    ctx.audit_admin_action(caller, "budget.limit_set", {"spoke": body.spoke, "previous_limit": previous,
                                                         "epsilon_limit": body.epsilon_limit, "reason": body.reason})
    return LimitSet(spoke=body.spoke, previous_limit=previous, budget=_budget(ctx, body.spoke))


@router.post("/privacy-budget/reset", response_model=ResetDone, summary="Open a new budget period (admin)",
             description="Opens a new budget period and never erases history. A reset does not restore "
                         "privacy already spent.", responses=error_responses(404, 409))
def reset_budget(body: ResetRequest, caller: Caller = Depends(require_admin),
                 ctx: ApiContext = Depends(api_context)) -> ResetDone:
    _require_known(ctx, body.spoke)
    try:
        record = ctx.services.ledger.reset(body.spoke, caller.actor, body.reason)
    except UnknownSpokeError:
        raise ApiError(409, "no_budget_account", f"hospital {body.spoke!r} has no budget yet: nothing to reset") \
            from None
    ctx.audit_admin_action(caller, "budget.reset", record.to_dict())
    return ResetDone(spoke=record.spoke, closed_period=record.closed_period, opened_period=record.opened_period,
                     epsilon_spent_in_closed_period=record.epsilon_spent_in_closed_period,
                     lifetime_epsilon=record.lifetime_epsilon, limit=record.limit, budget=_budget(ctx, body.spoke))


def _require_known(ctx: ApiContext, spoke: str) -> None:
    if spoke not in known_spokes(ctx.services, ctx.settings.spokes):
        raise ApiError(404, "unknown_spoke", f"{spoke!r} is not a hospital of this deployment")


def _budget(ctx: ApiContext, spoke: str) -> SpokeBudget:
    return SpokeBudget(**budget_report(ctx.services, [spoke])[0])
