"""Finalize: record how the run ended and publish its last global model as a version."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from fedcore.tasks.registry import task_of
from fedcore.privacy.accountant import compute_epsilon
from fedcore.runtime import layout
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import load_run, run_config, spoke_plans

FINAL_STATUSES = ("COMPLETED", "BUDGET_EXHAUSTED", "QUORUM_LOST", "FAILED")


def finalize(services: HubServices, run_id: str, status: str, error: str | None = None) -> dict:
    """``QUORUM_LOST`` is recorded as run status FAILED with that reason (the run did fail)."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"status must be one of {FINAL_STATUSES}, got {status!r}")
    if status == "QUORUM_LOST":
        status, error = "FAILED", f"quorum lost: {error or 'fewer spokes than the quorum reported'}"
    run = load_run(services, run_id)
    cfg = run_config(run)
    rounds = services.runs.list_rounds(run_id)
    last_round = max((m["round"] for m in rounds), default=0)
    epsilon = {s: run_epsilon(services, run_id, run, s, cfg) for s in run["spokes"]} if cfg.privacy.enabled else {}
    version = None
    task = task_of(cfg)
    if status != "FAILED" and task.can_publish(cfg, last_round):
        published = task.published_round(cfg, rounds)  # the last round's, or the task's pick (best validated)
        sealed = services.blobs.get(layout.model_key(run_id, published))
        version = f"{run_id}-r{published:04d}"
        services.runs.put_model_version({
            "version": version,
            "run_id": run_id,
            "round": published,
            "model_key": layout.model_key(run_id, published),
            "preprocessor_key": layout.preprocessor_key(run_id),
            "sha256": hashlib.sha256(sealed).hexdigest(),
            "task": cfg.task.name,
            **task.describe(cfg),
            **task.published_metrics(cfg, rounds, published),
            "epsilon": epsilon,
            "delta": cfg.privacy.delta if cfg.privacy.enabled else None,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
    fields = {"status": status, "rounds_completed": last_round, "epsilon": epsilon, "model_version": version,
              "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if error:
        fields["error"] = str(error)[:1000]
    services.runs.update_run(run_id, fields)
    services.audit.append("hub", "run.finished", f"run/{run_id}/finished",
                          {"run_id": run_id, "status": status, "rounds": last_round, "model_version": version})
    return {"run_id": run_id, "status": status, "rounds_completed": last_round, "model_version": version}


def run_epsilon(services: HubServices, run_id: str, run: dict, spoke: str, cfg) -> float:
    """This run's own spend for a hospital, setup included, whatever budget periods it crossed.

    Composed from what each charged round cost: the hub charges exactly the planned mechanisms
    (DESIGN.md section 3), and ``charged`` still sees rounds the ledger coalesced with other runs,
    whose records are no longer separable.
    """
    family = task_of(cfg)
    plan = spoke_plans(run).get(spoke)
    records = []
    for round_ in range(family.total_rounds(cfg) + 1):
        if not services.ledger.charged(spoke, run_id, round_):
            continue
        if round_ > 0 and plan is None:
            raise ValueError(f"{spoke} was charged for round {round_} of {run_id} without a plan")
        records += family.setup_mechanisms(cfg) if round_ == 0 else plan.mechanisms(round_)
    return compute_epsilon(records, cfg.privacy.delta, cfg.privacy.accountant)
