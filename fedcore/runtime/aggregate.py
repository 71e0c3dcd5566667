"""Aggregate: open, validate and average round r's sealed updates into global model r.

Idempotent: if model r exists, the stored outcome is returned and nothing is written
again (ledger charges and audit entries are keyed by (run, round, spoke) anyway).
"""

from __future__ import annotations

import logging
import time

from fedcore.aggregation import make_aggregator
from fedcore.federation import hub
from fedcore.runtime import layout
from fedcore.runtime.hub_steps_common import audit_failed_jobs, audit_rejections, iter_releases
from fedcore.runtime.ports import BlobExistsError, HubServices
from fedcore.sealing import SealContext, open_model, seal_model
from fedcore.runtime.run_state import load_run, run_config, spoke_plans
from fedcore.federation.release import model_context

logger = logging.getLogger(__name__)


def aggregate(services: HubServices, run_id: str, round_: int, results: list[dict] | None = None) -> dict:
    started = time.perf_counter()
    run = load_run(services, run_id)
    cfg = run_config(run)
    if services.blobs.exists(layout.model_key(run_id, round_)):
        stored = [m for m in services.runs.list_rounds(run_id) if m["round"] == round_]
        if stored:
            logger.info("round %d of %s was already aggregated; returning the stored outcome", round_, run_id)
            metrics = {k: v for k, v in stored[0].items() if k not in ("run_id", "round")}  # the store's keys
            return _answer(run_id, round_, cfg.rounds, metrics)
    failed = audit_failed_jobs(services, run_id, round_, results)
    global_weights = open_model(services.blobs.get(layout.model_key(run_id, round_ - 1)),
                                model_context(run_id, round_ - 1), services.keys)
    aggregator = make_aggregator(cfg.strategy, **cfg.strategy_params)
    state_key = layout.aggregator_state_key(run_id, round_ - 1)
    if services.blobs.exists(state_key):
        aggregator.load_state(open_model(services.blobs.get(state_key), _state_context(run_id, round_ - 1), services.keys))
    planned = {s: (p.round_record if p else None) for s, p in spoke_plans(run).items()}
    rejected: dict[str, str] = {}
    try:
        outcome = hub.aggregate_round(
            run_id, round_, global_weights, iter_releases(services, run_id, round_), aggregator,
            services.keys, cfg.quorum, on_release=hub.release_charger(services.ledger, run_id, round_, planned),
        )
        rejected = outcome.rejected
    except hub.QuorumNotMetError as exc:
        services.audit.append("hub", "round.quorum_not_met", f"quorum/{run_id}/{round_}",
                              {"run_id": run_id, "round": round_, "error": str(exc)[:500]})
        return {"run_id": run_id, "round": round_, "quorum_met": False, "more_rounds": False,
                "spokes": [], "loss": None, "error": str(exc)[:500]}
    audit_rejections(services, run_id, round_, rejected)
    try:
        services.blobs.put_new(layout.model_key(run_id, round_), outcome.sealed_model)
    except BlobExistsError:
        logger.info("model %d of %s exists (a concurrent attempt); keeping it", round_, run_id)
    state = aggregator.state()
    if state:
        try:
            services.blobs.put_new(layout.aggregator_state_key(run_id, round_),
                                   _seal_state(run_id, round_, state, services))
        except BlobExistsError:
            pass
    metrics = {
        "loss": outcome.loss,
        "spokes": outcome.spokes,
        "rejected": rejected,
        "failed": failed,
        "total_examples": outcome.total_examples,
        "bytes_in": outcome.bytes_in,
        "bytes_out": len(outcome.sealed_model),
        "aggregate_seconds": round(time.perf_counter() - started, 3),
        "round_seconds": _round_seconds(run, round_),
        "epsilon": {s: services.ledger.spent(s) for s in run["spokes"] if cfg.privacy.enabled},
    }
    services.runs.put_round(run_id, round_, metrics)
    services.runs.update_run(run_id, {"current_round": round_})
    services.audit.append("hub", "round.aggregated", f"aggregated/{run_id}/{round_}",
                          {"run_id": run_id, "round": round_, "spokes": outcome.spokes, "loss": outcome.loss})
    return _answer(run_id, round_, cfg.rounds, metrics)


def _answer(run_id: str, round_: int, rounds: int, metrics: dict) -> dict:
    return {"run_id": run_id, "round": round_, "quorum_met": True, "more_rounds": round_ < rounds,
            "spokes": metrics["spokes"], "loss": metrics["loss"], "metrics": metrics}


def _state_context(run_id: str, round_: int) -> SealContext:
    return SealContext(run=run_id, round=round_, spoke="hub-aggregator", kind="model")


def _seal_state(run_id: str, round_: int, state, services: HubServices) -> bytes:

    return seal_model(state, _state_context(run_id, round_), services.keys)


def _round_seconds(run: dict, round_: int) -> float | None:
    """Wall time since the budget gate opened this round (gate, training, aggregation)."""
    if run.get("gate_round") != round_ or run.get("round_started_at") is None:
        return None
    return round(time.time() - float(run["round_started_at"]), 3)
