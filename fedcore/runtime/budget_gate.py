"""BudgetGate: before round r, drop every spoke whose release would cross its limit."""

from __future__ import annotations

import time

from fedcore.tasks.registry import task_of
from fedcore.federation import hub
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import load_run, run_config, spoke_plans


def budget_gate(services: HubServices, run_id: str, next_round: int, spokes: list[dict]) -> dict:
    """Return the spokes (deployment descriptors) allowed to make round ``next_round``'s release.

    Round 0 is the setup release; later rounds use each spoke's plan, and only spokes whose
    setup statistics were accepted take part. The admitted set is recorded: the aggregate step
    rejects a release from any other spoke.
    """
    run = load_run(services, run_id)
    cfg = run_config(run)
    family = task_of(cfg)
    by_id = {s["spoke_id"]: s for s in spokes}
    if next_round == 0:
        candidates = [s for s in run["spokes"] if s in by_id]
        planned = {s: family.setup_mechanisms(cfg) for s in candidates}
    else:
        plans = spoke_plans(run)
        candidates = [s for s in run["spokes"] if s in plans and s in by_id]
        if next_round > family.total_rounds(cfg):
            raise ValueError(f"round {next_round} is past the run's {family.total_rounds(cfg)} rounds")
        planned = {s: plans[s].mechanisms(next_round) for s in candidates}
    if cfg.privacy.enabled:
        for spoke in candidates:  # the plans assume the run's accountant and delta: so must the ledger
            services.ledger.require_settings(spoke, cfg.privacy.accountant, cfg.privacy.delta)
        gate = hub.spokes_within_budget(services.ledger, planned, cfg.quorum)
        eligible = list(gate.eligible)
        dropped = {
            s: {"epsilon_spent": d.epsilon_spent, "epsilon_after": d.epsilon_after, "limit": d.limit}
            for s, d in gate.decisions.items() if not d.allowed
        }
    else:
        eligible, dropped = candidates, {}
    quorum_met = len(eligible) >= cfg.quorum
    admitted = dict(run.get("admitted") or {}) | {str(next_round): eligible}
    services.runs.update_run(run_id, {"round_started_at": time.time(), "gate_round": next_round, "admitted": admitted})
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
