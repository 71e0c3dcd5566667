"""SetupMerge: open the spokes' DP statistics, build the global preprocessor and model 0."""

from __future__ import annotations

import json
import logging

from fedcore.federation import hub
from fedcore.federation.privacy_plan import plan_spoke, setup_record
from fedcore.model.weights import initial_weights
from fedcore.runtime import layout
from fedcore.runtime.hub_steps_common import audit_failed_jobs, audit_rejections, iter_releases
from fedcore.runtime.ports import BlobExistsError, HubServices
from fedcore.runtime.run_state import load_run, read_schema, run_config

logger = logging.getLogger(__name__)


def setup_merge(services: HubServices, run_id: str, results: list[dict] | None = None) -> dict:
    """Idempotent: a retry reuses the stored preprocessor and initial model."""
    run = load_run(services, run_id)
    cfg = run_config(run)
    schema = read_schema(services.blobs, run_id)
    audit_failed_jobs(services, run_id, 0, results)
    planned = {s: setup_record(cfg) for s in run["spokes"]} if cfg.privacy.enabled else {}
    try:
        preprocessor, rejected, metas = hub.merge_setup_stats(
            run_id, iter_releases(services, run_id, 0), schema, services.keys, cfg.quorum,
            cfg.numeric_transform, on_release=hub.release_charger(services.ledger, run_id, 0, planned),
        )
    except hub.QuorumNotMetError as exc:
        services.audit.append("hub", "round.quorum_not_met", f"quorum/{run_id}/0",
                              {"run_id": run_id, "round": 0, "error": str(exc)[:500]})
        return {"run_id": run_id, "round": 0, "quorum_met": False, "more_rounds": False, "spokes": []}
    audit_rejections(services, run_id, 0, rejected)
    if services.blobs.exists(layout.preprocessor_key(run_id)):
        stored = json.loads(services.blobs.get(layout.preprocessor_key(run_id)))
        preprocessor = type(preprocessor).from_dict(stored)
    else:
        _put_once(services, layout.preprocessor_key(run_id), json.dumps(preprocessor.to_dict()).encode())
    if not services.blobs.exists(layout.model_key(run_id, 0)):
        weights = initial_weights(preprocessor.layout, cfg.diffusion_config(), seed=cfg.seed)
        _put_once(services, layout.model_key(run_id, 0), hub.seal_global_model(run_id, 0, weights, services.keys))
    plans = {
        spoke: (plan_spoke(cfg, meta.num_examples).to_dict() if cfg.privacy.enabled else None)
        for spoke, meta in metas.items()
    }
    _put_once(services, layout.plans_key(run_id), json.dumps(plans, sort_keys=True).encode())
    services.runs.update_run(run_id, {"plans": plans, "current_round": 0, "setup_rejected": rejected})
    services.audit.append("hub", "setup.merged", f"setup/{run_id}",
                          {"run_id": run_id, "spokes": sorted(metas), "rejected": sorted(rejected)})
    return {"run_id": run_id, "round": 0, "quorum_met": True, "more_rounds": cfg.rounds > 0, "spokes": sorted(metas)}


def _put_once(services: HubServices, key: str, data: bytes) -> None:
    try:
        services.blobs.put_new(key, data)
    except BlobExistsError:
        logger.info("%s was written by an earlier attempt; keeping it", key)
