"""Aggregate: open, check, charge and combine round r's sealed releases into global model r.

The family decides what a round's releases are and how they combine (DESIGN.md section 3);
this step is the same for every family. Idempotent: if model r exists, the stored outcome is
returned and nothing is written again (ledger charges and audit entries are keyed by
(run, round, spoke) anyway).
"""

from __future__ import annotations

import logging
import time

from fedcore.tasks.registry import task_of
from fedcore.families.base import HubRound
from fedcore.federation import hub
from fedcore.federation.release import model_context
from fedcore.runtime import layout
from fedcore.runtime.hub_steps_common import audit_failed_jobs, audit_rejections, iter_releases
from fedcore.runtime.ports import BlobExistsError, HubServices
from fedcore.runtime.run_state import admitted_spokes, load_run, read_encoder, read_schema, run_config, spoke_plans
from fedcore.sealing import SealContext, open_model, seal_model

logger = logging.getLogger(__name__)

AGGREGATOR = "hub-aggregator"  # the "spoke" of the aggregator state's sealing context (reserved)


def aggregate(services: HubServices, run_id: str, round_: int, results: list[dict] | None = None) -> dict:
    started = time.perf_counter()
    run = load_run(services, run_id)
    cfg = run_config(run)
    family = task_of(cfg)
    rounds = family.total_rounds(cfg)
    kind = family.round_kinds(cfg)[round_ - 1]
    if services.blobs.exists(layout.model_key(run_id, round_)):
        stored = [m for m in services.runs.list_rounds(run_id) if m["round"] == round_]
        if stored:
            logger.info("round %d of %s was already aggregated; returning the stored outcome", round_, run_id)
            metrics = {k: v for k, v in stored[0].items() if k not in ("run_id", "round")}  # the store's keys
            return _answer(run_id, round_, rounds, metrics)
    failed = audit_failed_jobs(services, run_id, round_, results)
    state_key = layout.aggregator_state_key(run_id, round_ - 1)
    state = None
    if services.blobs.exists(state_key):
        state = open_model(services.blobs.get(state_key), _state_context(run_id, round_ - 1), services.keys)
    plans = spoke_plans(run)
    tally = hub.ReleaseTally(round_)
    hub_round = HubRound(
        run_id=run_id, round=round_, kind=kind, config=cfg, schema=read_schema(services.blobs, run_id),
        encoder=read_encoder(services.blobs, run_id),
        previous=open_model(services.blobs.get(layout.model_key(run_id, round_ - 1)),
                            model_context(run_id, round_ - 1), services.keys),
        plans=plans, state=state, reject=tally.reject,
    )
    planned = {s: (p.mechanisms(round_) if cfg.privacy.enabled else ()) for s, p in plans.items()}
    accepted = hub.open_round(
        run_id, round_, iter_releases(services, run_id, round_), services.keys, plans,
        admitted_spokes(run, round_), cfg.privacy.enabled, lambda payload, plan: family.validate(hub_round, payload, plan),
        hub.release_charger(services.ledger, run_id, round_, planned, cfg.privacy.delta, cfg.privacy.accountant),
        tally,
    )
    try:
        try:
            result = family.aggregate(hub_round, accepted)
        except ValueError:
            hub.require_quorum(round_, tally, cfg.quorum)  # no valid release at all reads as a lost quorum
            raise
        hub.require_quorum(round_, tally, cfg.quorum)
    except hub.QuorumNotMetError as exc:
        audit_rejections(services, run_id, round_, tally.rejected)
        services.audit.append("hub", "round.quorum_not_met", f"quorum/{run_id}/{round_}",
                              {"run_id": run_id, "round": round_, "error": str(exc)[:500]})
        return {"run_id": run_id, "round": round_, "quorum_met": False, "more_rounds": False,
                "spokes": [], "loss": None, "kind": kind, "error": str(exc)[:500]}
    audit_rejections(services, run_id, round_, tally.rejected)
    sealed_model = hub.seal_global_model(run_id, round_, result.model, services.keys)
    try:
        services.blobs.put_new(layout.model_key(run_id, round_), sealed_model)
    except BlobExistsError:
        logger.info("model %d of %s exists (a concurrent attempt); keeping it", round_, run_id)
    if result.state:
        try:
            services.blobs.put_new(layout.aggregator_state_key(run_id, round_),
                                   seal_model(result.state, _state_context(run_id, round_), services.keys))
        except BlobExistsError:
            pass
    metrics = {
        "kind": kind,
        "loss": result.loss,
        "spokes": tally.accepted,
        "rejected": tally.rejected,
        "failed": failed,
        "total_examples": sum(plans[s].rows for s in tally.accepted),
        "bytes_in": tally.bytes_in,
        "bytes_out": len(sealed_model),
        "aggregate_seconds": round(time.perf_counter() - started, 3),
        "round_seconds": _round_seconds(run, round_),
        "epsilon": {s: services.ledger.spent(s) for s in run["spokes"] if cfg.privacy.enabled},
        **result.metrics,
    }
    if result.stop:
        metrics["stopped_early"] = True
    services.runs.put_round(run_id, round_, metrics)
    services.runs.update_run(run_id, {"current_round": round_})
    services.audit.append("hub", "round.aggregated", f"aggregated/{run_id}/{round_}",
                          {"run_id": run_id, "round": round_, "kind": kind, "spokes": tally.accepted,
                           "loss": result.loss})
    return _answer(run_id, round_, rounds, metrics)


def _answer(run_id: str, round_: int, rounds: int, metrics: dict) -> dict:
    more = round_ < rounds and not metrics.get("stopped_early")  # the task may end the run early
    return {"run_id": run_id, "round": round_, "quorum_met": True, "more_rounds": more,
            "spokes": metrics["spokes"], "loss": metrics["loss"], "kind": metrics.get("kind"), "metrics": metrics}


def _state_context(run_id: str, round_: int) -> SealContext:
    return SealContext(run=run_id, round=round_, spoke=AGGREGATOR, kind="model")


def _round_seconds(run: dict, round_: int) -> float | None:
    """Wall time since the budget gate opened this round (gate, training, aggregation)."""
    if run.get("gate_round") != round_ or run.get("round_started_at") is None:
        return None
    return round(time.time() - float(run["round_started_at"]), 3)
