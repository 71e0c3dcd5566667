"""Read-only views of the hub's state for researchers: budgets, hospitals, round history.

The API and the CLI show these; nothing here writes. Every view is computed from the runs
table and the ledger, so it is as current as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedcore.privacy import UnknownSpokeError
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import spoke_plans

MAX_ESTIMATED_ROUNDS = 1000  # RunConfig.rounds' own maximum: a longer estimate means "plenty"


def runs_newest_first(services: HubServices) -> list[dict]:
    return sorted(services.runs.list_runs(), key=lambda r: (r.get("created_at", ""), r["run_id"]), reverse=True)


def known_spokes(services: HubServices, configured: Sequence[str]) -> list[str]:
    """The deployment's hospitals, then any other hospital a recorded run trained with."""
    seen = list(dict.fromkeys(configured))
    for run in runs_newest_first(services):
        seen.extend(s for s in run.get("spokes", []) if s not in seen)
    return seen


def budget_report(services: HubServices, spokes: Sequence[str]) -> list[dict]:
    """Per hospital: limit, epsilon this period and lifetime, and how many more rounds fit.

    The estimate counts releases like the last round of the newest run that planned for the
    hospital (its mechanisms); None when no run has planned a private round for it yet.
    """
    plans = _latest_plans(services)
    report = []
    for spoke in spokes:
        try:
            limit = services.ledger.limit(spoke)
        except UnknownSpokeError:
            report.append({"spoke": spoke, "limit": None, "spent": 0.0, "lifetime_spent": 0.0, "period": 0,
                           "resets": 0, "estimated_remaining_rounds": None, "estimate_from_run": None})
            continue
        run_id, plan = plans.get(spoke, (None, None))
        per_round = list(plan.mechanisms(len(plan.releases) - 1)) if plan is not None else []
        remaining = (services.ledger.remaining_rounds(spoke, per_round, max_rounds=MAX_ESTIMATED_ROUNDS)
                     if per_round else None)
        resets = services.ledger.resets(spoke)
        report.append({
            "spoke": spoke,
            "limit": limit,
            "spent": services.ledger.spent(spoke),
            "lifetime_spent": services.ledger.lifetime_spent(spoke),
            "period": resets[-1].opened_period if resets else 0,
            "resets": len(resets),
            "estimated_remaining_rounds": remaining,
            "estimate_from_run": run_id,
        })
    return report


def round_history(services: HubServices, run_id: str | None = None) -> list[dict]:
    """Per-round metrics, oldest run first and rounds in order; one run when ``run_id`` is given."""
    runs = [r for r in reversed(runs_newest_first(services)) if run_id is None or r["run_id"] == run_id]
    return [metrics for run in runs for metrics in services.runs.list_rounds(run["run_id"])]


def client_report(services: HubServices, spokes: Sequence[str]) -> list[dict]:
    """Per hospital: status, last round it contributed to, and its participation rate.

    A hospital is expected in every recorded round of every run it was enrolled in; the
    rate is the share of those rounds whose aggregate included its update. Status is
    ``active`` (in the latest round of the newest run that enrolled it), ``dropped``
    (enrolled there but not in it: failed, rejected or stopped by its budget) or
    ``never_seen`` (no round of any run included it).
    """
    stats = {s: {"expected": 0, "joined": 0, "last": None, "in_latest": None} for s in spokes}
    for run in reversed(runs_newest_first(services)):  # oldest first, so "last" ends newest
        rounds = services.runs.list_rounds(run["run_id"])
        for spoke in run.get("spokes", []):
            if spoke not in stats:
                continue
            entry = stats[spoke]
            for metrics in rounds:
                entry["expected"] += 1
                if spoke in metrics.get("spokes", []):
                    entry["joined"] += 1
                    entry["last"] = {"run_id": run["run_id"], "round": metrics["round"]}
            if rounds:
                entry["in_latest"] = spoke in rounds[-1].get("spokes", [])
    report = []
    for spoke, entry in stats.items():
        if entry["last"] is None:
            status = "never_seen"
        else:
            status = "active" if entry["in_latest"] else "dropped"
        report.append({
            "spoke": spoke,
            "status": status,
            "last_round_seen": entry["last"],
            "rounds_expected": entry["expected"],
            "rounds_participated": entry["joined"],
            "participation_rate": entry["joined"] / entry["expected"] if entry["expected"] else None,
        })
    return report


def _latest_plans(services: HubServices) -> dict[str, tuple[str, object]]:
    """Hospital -> (run id, its plan) from the newest run that planned for it."""
    found: dict[str, tuple[str, object]] = {}
    for run in runs_newest_first(services):
        for spoke, plan in spoke_plans(run).items():
            if plan is not None and spoke not in found:
                found[spoke] = (run["run_id"], plan)
    return found
