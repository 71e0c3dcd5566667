"""BudgetGate: before round r, drop every spoke whose round would cross its limit."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fedcore.federation import hub
from fedcore.federation.privacy_plan import setup_record
from fedcore.privacy import StepRecord
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import load_run, run_config, spoke_plans


def budget_gate(services: HubServices, run_id: str, next_round: int, spokes: list[dict]) -> dict:
    """Return the spokes (deployment descriptors) allowed to run round ``next_round``.

    Round 0 is the setup round (its spend is the setup release); later rounds use each
    spoke's plan, and only spokes whose setup statistics were accepted take part.
    """
    run = load_run(services, run_id)
    cfg = run_config(run)
    by_id = {s["spoke_id"]: s for s in spokes}
    if next_round == 0:
        candidates = [s for s in run["spokes"] if s in by_id]
        plans = {s: _SetupPlan(setup_record(cfg)) for s in candidates} if cfg.privacy.enabled else {}
    else:
        plans = spoke_plans(run)
        candidates = [s for s in run["spokes"] if s in plans and s in by_id]
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
    services.runs.update_run(run_id, {"round_started_at": time.time(), "gate_round": next_round})
    services.audit.append(
        "hub", "budget.gate", f"gate/{run_id}/{next_round}",
        {"run_id": run_id, "round": next_round, "eligible": eligible, "dropped": dropped, "quorum_met": quorum_met},
    )
    return {
        "run_id": run_id,
        "round": next_round,
        "eligible_spokes": [by_id[s] for s in eligible],
        "dropped": sorted(dropped),
        "quorum_met": quorum_met,
    }


@dataclass(frozen=True)
class _SetupPlan:
    """The setup release seen as a one-step "round", for the gate before round 0."""

    round_record: StepRecord
