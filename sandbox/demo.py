"""``fedcore demo``: the deployed system on one machine, from hospital uploads to a scored report.

The same data split as ``simulate`` (ACTG 175, 20 % held out for scoring, a Dirichlet split over
``arms``), but every step runs as it would in AWS: each hospital uploads its table to its own
account, the synthesized round loop runs in the emulated hub, Lambda steps are the real handlers,
training jobs are real trainer processes, and the synthetic rows come from the published model
version through ``fedcore.runtime.generate`` (the API's path).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fedcore.evaluation import evaluate
from fedcore.evaluation.report import to_jsonable, write_report
from fedcore.experiment import HOLDOUT_SHARE, load_data
from fedcore.model.config import SamplingConfig
from fedcore.partition import DEFAULT_ALPHA, partition_dirichlet, train_holdout_split
from fedcore.run_config import RunConfig
from fedcore.runtime.generate import NoPublishedModelError, find_model_version, generate_from_version
from sandbox.progress import RunProgress, console_history, snapshot
from sandbox.provision import put_spoke_policies, spoke_policies
from sandbox.sandbox import ExecutionResult, Sandbox
from sandbox.timings import round_timings

logger = logging.getLogger(__name__)

DATASET = "actg175"
PARTITION_COLUMN = "arms"  # as simulate: hospitals enrolled different mixes of treatment arms
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class DemoSpec:
    spokes: int = 3
    rounds: int = RunConfig().rounds
    target_epsilon: float = RunConfig().privacy.target_epsilon
    config: dict = field(default_factory=dict)  # further RunConfig fields, e.g. {"model": {...}}
    rows: int | None = None  # synthetic rows; None = as many as the real training rows
    seed: int = 0
    no_dp: bool = False  # train without DP: the run asks for it and every simulated hospital opts out
    timeout_seconds: float = 3600
    images: int = 2000  # the image task: built-in images over all hospitals, before the holdout


def run_demo(spec: DemoSpec, out_dir: Path, on_progress: Callable[[RunProgress], None] | None = None,
             on_ready: Callable[[Sandbox, str], None] | None = None) -> dict:
    """Run the demo into ``out_dir``; ``on_ready(sandbox, run_id)`` runs before the sandbox stops."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = (spec.config.get("task") or {}).get("name") == "image"
    if images:  # the built-in lesion images, each hospital's 20 % held out for scoring
        name, schema, parts, train, holdout = _demo_images(spec)
    else:
        name, frame, schema = load_data(DATASET, None)
        train, holdout = train_holdout_split(frame, HOLDOUT_SHARE, spec.seed)
        parts = partition_dirichlet(train, spec.spokes, PARTITION_COLUMN, spec.seed, DEFAULT_ALPHA)
    started = time.time()
    with Sandbox(spec.spokes, workdir=out_dir / "sandbox") as sandbox:
        partitions = dict(zip(sandbox.spoke_ids, parts))
        for spoke_id, part in partitions.items():
            sandbox.upload_table(spoke_id, _encode_npz(part) if images else part.to_csv(index=False).encode())
        # Each hospital sets its own policy in its own account: cap at the run's target, opt-out with --no-dp.
        put_spoke_policies(sandbox.emulator, sandbox.deployment,
                           spoke_policies(sandbox.spoke_ids, spec.target_epsilon, allow_no_dp=spec.no_dp))
        run_id = f"demo-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        quorum = min(int(sandbox.hub.functions["aggregate"].environment["QUORUM"]), spec.spokes)
        privacy = {"target_epsilon": spec.target_epsilon, **({"enabled": False} if spec.no_dp else {})}
        config = {**({} if images else {"schema": DATASET}), "rounds": spec.rounds, "quorum": quorum,
                  "seed": spec.seed, **spec.config, "privacy": {**privacy, **spec.config.get("privacy", {})}}
        execution = sandbox.start_run(run_id, config)
        result = _follow(sandbox, execution, run_id, spec.timeout_seconds, on_progress)
        services = sandbox.operator_services()
        events = sandbox.history(execution)
        (out_dir / "execution_history.json").write_text(json.dumps(console_history(events), indent=1, default=str))
        audit_entries = services.audit.export_jsonl(out_dir / "audit.jsonl")
        run = services.runs.get_run(run_id) or {}
        rounds = sorted(services.runs.list_rounds(run_id), key=lambda m: m["round"])
        report = _report_base(spec, name, schema, train, holdout, partitions, run, rounds, result, config)
        audit_head = next(iter(services.audit.entries(max(audit_entries, 1))), None)
        report["sandbox"] = {"seconds": round(time.time() - started, 1), "audit_entries": audit_entries,
                             "audit_head": audit_head.hash if audit_head else None,
                             "timings": round_timings(events, sandbox.batch.runs, run_id, rounds)}
        task = (run.get("config") or {}).get("task") or {}
        if task.get("name", "synthesis") != "synthesis":
            _score_predictive(services, run, report, train, holdout)
            report["privacy"] = _privacy(run, rounds, config)
            (out_dir / "report.json").write_text(json.dumps(to_jsonable(report), indent=2))
            if on_ready is not None:
                on_ready(sandbox, run_id)
            return report
        synthetic = _generate(services, run_id, spec, len(train), report)
        if synthetic is not None:
            report.update(evaluate(train, holdout, synthetic, schema, schema.target, seed=spec.seed))
            report["privacy"] = {**report.get("privacy", {}), **_privacy(run, rounds, config)}
            synthetic.to_csv(out_dir / "synthetic.csv", index=False)
            write_report(out_dir, report, holdout, synthetic, schema)
        else:
            report["privacy"] = _privacy(run, rounds, config)
            (out_dir / "report.json").write_text(json.dumps(to_jsonable(report), indent=2))
        if on_ready is not None:
            on_ready(sandbox, run_id)
    return report


def _demo_images(spec: DemoSpec):
    """(name, schema, per-hospital training images, pooled training images, pooled holdout) of the built-in images."""
    from fedcore.tasks.image.experiment import concatenate, hold_out, load_hospital_images
    from fedcore.tasks.image.spec import image_schema

    config = RunConfig.model_validate({"task": spec.config["task"]})
    image = config.task.image_spec
    hospitals = load_hospital_images("images:builtin", spec.spokes, image, spec.images, spec.seed)
    split = [hold_out(part, HOLDOUT_SHARE, spec.seed + i) for i, part in enumerate(hospitals.values())]
    parts = [pair[0] for pair in split]
    return ("images:builtin", image_schema(image), parts, concatenate(parts),
            concatenate([pair[1] for pair in split]))


def _encode_npz(images) -> bytes:
    from fedcore.tasks.image.data import encode_npz

    return encode_npz(images)


def serve_api(sandbox: Sandbox, port: int, report: Path | None = None) -> None:
    """Serve the research API on localhost against ``sandbox`` until interrupted (``demo --serve``): the API
    function's environment with its own role's credentials, as deployed, not the sandbox's administrator.
    ``report``: the demo's report.json, whose real-versus-synthetic scores the dashboard may show."""
    from functions.api_app.local_server import serve_local  # fastapi and uvicorn only when serving

    serve_local(None, state_machine_arn=sandbox.hub.state_machine_arn, port=port, spokes=sandbox.spoke_ids,
                report=report, function_environment=sandbox.api_environment())


def _follow(sandbox: Sandbox, execution: str, run_id: str, timeout: float,
            on_progress: Callable[[RunProgress], None] | None) -> ExecutionResult:
    services = sandbox.operator_services()
    deadline = time.time() + timeout
    while True:
        if on_progress is not None:
            on_progress(snapshot(sandbox.history(execution), services.runs.get_run(run_id),
                                 services.runs.list_rounds(run_id)))
        result = sandbox.describe(execution)
        if result.status != "RUNNING":
            return result
        if time.time() > deadline:
            raise TimeoutError(f"the demo run {run_id} did not finish within {timeout} s")
        time.sleep(POLL_SECONDS)


def _report_base(spec, name, schema, train, holdout, partitions, run, rounds, result, config) -> dict:
    return {
        "data": {"name": name, "target": schema.target, "train_rows": len(train), "holdout_rows": len(holdout),
                 "spokes": {k: len(v) for k, v in partitions.items()}},
        "run": {"status": run.get("status", "UNKNOWN"), "message": run.get("error"), "run_id": result.name,
                "execution_name": result.name, "execution_status": result.status,
                "execution_error": result.error, "rounds_completed": int(run.get("rounds_completed", len(rounds))),
                "model_version": run.get("model_version")},
        "rounds": [{"round": m["round"], "loss": m["loss"], "spokes": m["spokes"], "seconds": m.get("round_seconds"),
                    "rejected": m.get("rejected", {}), "failed": m.get("failed", []), "bytes_in": m.get("bytes_in"),
                    "bytes_out": m.get("bytes_out"), "aggregate_seconds": m.get("aggregate_seconds"),
                    "epsilon": m.get("epsilon", {})} for m in rounds],
        "config": {"run": run.get("config", config)},
    }


def _privacy(run: dict, rounds: list[dict], config: dict) -> dict:
    cfg = run.get("config") or {}
    privacy = cfg.get("privacy") or {}
    per_round: dict[str, list[float]] = {}
    for metrics in rounds:
        for spoke, epsilon in (metrics.get("epsilon") or {}).items():
            per_round.setdefault(spoke, []).append(epsilon)
    return {"dp": privacy.get("enabled", True), "epsilon": run.get("epsilon", {}), "delta": privacy.get("delta"),
            "accountant": privacy.get("accountant"), "target_epsilon": privacy.get("target_epsilon"),
            "epsilon_per_round": per_round, "plans": run.get("plans", {})}


def _score_predictive(services, run: dict, report: dict, train, holdout) -> None:
    """A predictive run's published model scored exactly on the demo's holdout, beside its noisy federated rounds."""
    from fedcore.run_spec import config_of
    from fedcore.tasks.predictive.experiment import round_entry, score_published

    try:
        record = find_model_version(services, report["run"]["model_version"])
    except NoPublishedModelError:
        logger.warning("run %s published no model version; nothing to score", run.get("run_id"))
        return
    config = config_of(record["run_id"], run["config"])
    rounds = sorted(services.runs.list_rounds(record["run_id"]), key=lambda m: m["round"])
    final = score_published(services, record, config, train, holdout)[3]
    report["task"] = config.task.name
    report["metrics"] = {"rounds": [round_entry(m) for m in rounds], "final": final,
                         "federated_validation": record.get("metrics")}
    report["fairness"] = {**(record.get("fairness") or {}),
                          "hospital_spread": (record.get("metrics") or {}).get("hospital_spread")}
    report["model_card"] = {"version": record["version"], "sha256": record["sha256"], "task": record.get("task")}


def _generate(services, run_id: str, spec: DemoSpec, train_rows: int, report: dict):
    """Synthetic rows from this run's published model version, or None if it published none."""
    try:
        record = find_model_version(services, report["run"]["model_version"])
    except NoPublishedModelError:
        logger.warning("run %s published no model version; nothing to generate", run_id)
        return None
    if record["run_id"] != run_id:
        return None
    rows = spec.rows or train_rows
    sampling = SamplingConfig()
    started = time.perf_counter()
    synthetic = generate_from_version(services, record, rows, sampling, spec.seed)
    report["generation"] = {"rows": rows, "seconds": round(time.perf_counter() - started, 3),
                            "sampler": asdict(sampling), "model_version": record["version"],
                            "model_sha256": record["sha256"]}
    report["config"]["model"] = record["model"]
    return synthetic
