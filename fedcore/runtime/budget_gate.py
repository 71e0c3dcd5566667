"""BudgetGate: before round r, drop every spoke whose round would cross its limit."""

from __future__ import annotations

from fedcore.federation import hub
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import load_run, run_config, spoke_plans


def budget_gate(services: HubServices, run_id: str, completed_round: int, spokes: list[dict]) -> dict:
    """Return the spokes (deployment items) allowed to train round ``completed_round + 1``."""
    run = load_run(services, run_id)
    cfg = run_config(run)
    next_round = completed_round + 1
    plans = spoke_plans(run)
    by_id = {s["spoke_id"]: s for s in spokes}
    candidates = [s for s in run["spokes"] if s in plans and s in by_id]  # set up successfully
    if cfg.privacy.enabled:
        gate = hub.budget_gate(services.ledger, {s: plans[s] for s in candidates}, cfg.quorum)
        eligible = list(gate.eligible)
        dropped = {
            s: {"epsilon_spent": d.epsilon_spent, "epsilon_after": d.epsilon_after, "limit": d.limit}
            for s, d in gate.decisions.items() if not d.allowed
        }
    else:
        eligible, dropped = candidates, {}
    quorum_met = len(eligible) >= cfg.quorum
    services.audit.append(
        "hub", "budget.gate", f"gate/{run_id}/{next_round}",
        {"run_id": run_id, "round": next_round, "eligible": eligible, "dropped": dropped, "quorum_met": quorum_met},
    )
    return {
        "run_id": run_id,
        "round": next_round,
        "eligible": [by_id[s] for s in eligible],
        "dropped": sorted(dropped),
        "quorum_met": quorum_met,
    }
