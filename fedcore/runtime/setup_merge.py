"""SetupMerge: open the spokes' DP statistics, build the family's shared encoder and model 0."""

from __future__ import annotations

import json
import logging

from fedcore.tasks.registry import task_of
from fedcore.federation import hub
from fedcore.runtime import layout
from fedcore.runtime.hub_steps_common import audit_failed_jobs, audit_rejections, iter_releases
from fedcore.runtime.ports import BlobExistsError, HubServices
from fedcore.runtime.run_state import load_run, read_schema, run_config

logger = logging.getLogger(__name__)


def setup_merge(services: HubServices, run_id: str, results: list[dict] | None = None) -> dict:
    """Idempotent: a retry reuses the stored encoder, initial model and plans."""
    run = load_run(services, run_id)
    cfg = run_config(run)
    family = task_of(cfg)
    schema = read_schema(services.blobs, run_id)
    audit_failed_jobs(services, run_id, 0, results)
    mechanisms = family.setup_mechanisms(cfg) if cfg.privacy.enabled else ()
    admitted = set((run.get("admitted") or {}).get("0", run["spokes"]))
    planned = {s: mechanisms for s in run["spokes"]}
    releases = (r for r in iter_releases(services, run_id, 0) if _admitted(r.spoke, admitted))
    try:
        merged, rejected, metas = hub.merge_setup_stats(
            run_id, releases, schema, services.keys, cfg.quorum, mechanisms,
            on_release=hub.release_charger(services.ledger, run_id, 0, planned, cfg.privacy.delta,
                                           cfg.privacy.accountant),
            statistics=family.setup_statistics,
        )
    except hub.QuorumNotMetError as exc:
        services.audit.append("hub", "round.quorum_not_met", f"quorum/{run_id}/0",
                              {"run_id": run_id, "round": 0, "error": str(exc)[:500]})
        return {"run_id": run_id, "round": 0, "quorum_met": False, "more_rounds": False, "spokes": []}
    audit_rejections(services, run_id, 0, rejected)
    if services.blobs.exists(layout.preprocessor_key(run_id)):
        logger.info("setup of %s was merged by an earlier attempt; keeping it", run_id)
    else:
        encoder, model = family.build_setup(cfg, schema, merged)
        _put_once(services, layout.preprocessor_key(run_id), json.dumps(encoder, sort_keys=True).encode())
        _put_once(services, layout.model_key(run_id, 0), hub.seal_global_model(run_id, 0, model, services.keys))
    plans = {spoke: family.plan_spoke(cfg, meta.num_examples).to_dict() for spoke, meta in metas.items()}
    _put_once(services, layout.plans_key(run_id), json.dumps(plans, sort_keys=True).encode())
    stored = json.loads(services.blobs.get(layout.plans_key(run_id)))
    services.runs.update_run(run_id, {"plans": stored, "current_round": 0, "setup_rejected": rejected})
    services.audit.append("hub", "setup.merged", f"setup/{run_id}",
                          {"run_id": run_id, "spokes": sorted(metas), "rejected": sorted(rejected)})
    return {"run_id": run_id, "round": 0, "quorum_met": True, "more_rounds": family.total_rounds(cfg) > 0,
            "spokes": sorted(metas)}


def _admitted(spoke: str, admitted: set[str]) -> bool:
    if spoke not in admitted:
        logger.warning("setup statistics from %s ignored: the budget gate did not admit it", spoke)
    return spoke in admitted


def _put_once(services: HubServices, key: str, data: bytes) -> None:
    try:
        services.blobs.put_new(key, data)
    except BlobExistsError:
        logger.info("%s was written by an earlier attempt; keeping it", key)
