"""InitRun: validate the run's spec, record the run (the config's source), publish its copy to the spokes."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from fedcore.tasks.registry import task_of
from fedcore.privacy import UnknownSpokeError
from fedcore.run_spec import RunSpec, config_bytes, config_of
from fedcore.runtime import layout
from fedcore.runtime.ports import BlobExistsError, HubServices
from fedcore.schema import Schema

logger = logging.getLogger(__name__)


class RunConflictError(ValueError):
    """A run with this id exists with a different configuration."""


def init_run(
    services: HubServices, run_id: str, config: dict, schema: Schema, spokes: list[dict], default_limit: float
) -> dict:
    """Idempotent: a retried InitRun with the same config returns the same answer.

    ``spokes`` are the deployment's hospitals ({"spoke_id", ..., "epsilon_limit"?}); their
    ledger limits are set only if the ledger has none yet (admins own limits afterwards), and a
    new account gets the ledger's (the deployment's) accountant and delta. A run whose accountant
    or delta differs from any hospital's account is refused here, before anything is written.
    """
    spec = RunSpec(run_id=run_id, schema=schema, config=config)
    cfg = spec.config
    if len(spokes) < cfg.quorum:
        raise ValueError(f"{len(spokes)} spokes cannot meet a quorum of {cfg.quorum}")
    compute_class = cfg.task.compute_class
    launches = launch_entries(spokes, compute_class)
    if cfg.privacy.enabled:
        for spoke in spokes:
            services.ledger.require_settings(spoke["spoke_id"], cfg.privacy.accountant, cfg.privacy.delta)
    record = {  # the source of the run's config; models/<run>/config.json is its copy, checked by its SHA-256
        "status": "RUNNING",
        "config": cfg.model_dump(mode="json"),
        "config_sha256": spec.config_sha256,
        "spokes": [s["spoke_id"] for s in spokes],
        "current_round": 0,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if not services.runs.create_run(run_id, record):
        existing = services.runs.get_run(run_id)
        if config_of(run_id, existing["config"]) != cfg:
            raise RunConflictError(f"run {run_id!r} already exists with a different configuration")
    _publish(services, spec)
    for spoke in spokes:
        try:
            services.ledger.limit(spoke["spoke_id"])
        except UnknownSpokeError:
            services.ledger.set_limit(spoke["spoke_id"], float(spoke.get("epsilon_limit") or default_limit))
    services.audit.append("hub", "run.started", f"run/{run_id}/started",
                          {"run_id": run_id, "spokes": record["spokes"], "rounds": cfg.rounds})
    return {"run_id": run_id, "round": 0, "rounds": task_of(cfg).total_rounds(cfg), "quorum": cfg.quorum,
            "spokes": launches, "compute_class": compute_class, "config_sha256": spec.config_sha256}


def launch_entries(spokes: list[dict], compute_class: str) -> list[dict]:
    """Each spoke descriptor with the Batch queue and job definition of the run's compute class chosen
    (``job_queue_arn``, ``job_definition``, ``compute_class``): the state machine submits the spoke's jobs
    there. A deployment's descriptor offers one per class under ``queues``; one with a single top-level
    queue (before each hospital had a CPU and a GPU queue) offers a GPU queue only. A descriptor that
    names no queue at all (the in-process driver's) is returned as it is."""
    entries = []
    for spoke in spokes:
        queues = spoke.get("queues")
        if queues is None and "job_queue_arn" in spoke:
            queues = {"gpu": {"job_queue_arn": spoke["job_queue_arn"], "job_definition": spoke["job_definition"]}}
        if queues is None:
            entries.append(dict(spoke))
            continue
        if compute_class not in queues:
            raise ValueError(f"spoke {spoke['spoke_id']!r} has no {compute_class} queue (it offers "
                             f"{', '.join(sorted(queues)) or 'none'}); set the run's task.compute to one it offers")
        chosen = queues[compute_class]
        entry = {key: value for key, value in spoke.items() if key != "queues"}
        entries.append({**entry, "compute_class": compute_class, "job_queue_arn": chosen["job_queue_arn"],
                        "job_definition": chosen["job_definition"]})
    return entries


def _publish(services: HubServices, spec: RunSpec) -> None:
    """The config's copy (the bytes its recorded SHA-256 is of) and the schema under models/<run>/, create-only."""
    schema = json.dumps(spec.schema.to_dict(), sort_keys=True).encode()
    for key, body in ((layout.config_key(spec.run_id), config_bytes(spec.config)),
                      (layout.schema_key(spec.run_id), schema)):
        try:
            services.blobs.put_new(key, body)
        except BlobExistsError:
            pass  # written by an earlier attempt of this same run (its readers check the config's hash)
