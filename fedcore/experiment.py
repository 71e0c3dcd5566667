"""One scored experiment: load, hold out, split into hospitals, federate, generate, score.

The real rows held out here never reach any hospital, so quality, utility and DCR are
scored on patients the model never saw.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from fedcore.datasets import BUILTIN_DATASETS, builtin_schema, load_builtin_dataset
from fedcore.evaluation import evaluate
from fedcore.evaluation.report import write_report
from fedcore.model.config import SamplingConfig
from fedcore.partition import DEFAULT_ALPHA, partition_dirichlet, train_holdout_split
from fedcore.run_config import RunConfig
from fedcore.runtime.driver import EventHandler
from fedcore.runtime.generate import generate_from_version
from fedcore.runtime.model_directory import write_model_directory
from fedcore.runtime.simulation import SimulationResult, simulate_federation
from fedcore.schema import Schema, load_schema
from fedcore.schema_inference import infer_schema
from fedcore.table import conform_table, read_csv

logger = logging.getLogger(__name__)

HOLDOUT_SHARE = 0.2  # real rows kept away from every hospital, for scoring


@dataclass(frozen=True)
class ExperimentSpec:
    data: str  # a built-in data set name or a CSV path
    spokes: int = 3  # simulated hospitals (`simulate --spokes`)
    schema: str | None = None  # schema file, "auto", a built-in schema name, or None (built-in data)
    config: RunConfig = RunConfig()  # model and training settings included
    run_id: str = "run-local"  # the simulated run's id (its records and models/<run>/ prefix)
    sampling: SamplingConfig = SamplingConfig()
    rows: int | None = None  # synthetic rows; None = as many as the real training rows
    partition_column: str | None = None  # None: the schema's target, else the first categorical
    partition_alpha: float = DEFAULT_ALPHA
    holdout_share: float = HOLDOUT_SHARE
    extra: dict = field(default_factory=dict)


def load_data(data: str, schema_arg: str | None) -> tuple[str, pd.DataFrame, Schema]:
    """Resolve ``--data``/``--schema`` to a conformed table and its schema."""
    if data in BUILTIN_DATASETS and not Path(data).exists():
        if schema_arg not in (None, data):
            raise ValueError(f"the built-in data set {data!r} comes with its own schema; drop --schema")
        dataset = load_builtin_dataset(data)
        return dataset.name, dataset.frame, dataset.schema
    raw = read_csv(data)
    if schema_arg is None:
        raise ValueError("a CSV needs --schema FILE, --schema auto, or a built-in schema name")
    if schema_arg == "auto":
        schema = infer_schema(raw, name=Path(data).stem)
    elif Path(schema_arg).exists():
        schema = load_schema(schema_arg)
    else:
        schema = builtin_schema(schema_arg)
    return schema.name, conform_table(raw, schema), schema


def run_experiment(spec: ExperimentSpec, out_dir: Path, on_event: EventHandler | None = None) -> dict:
    """Run the federation, write ``synthetic.csv``, ``report.json``, ``report.html`` and ``model/``
    (a predictive task writes ``report.json`` and ``model/``: ``fedcore.tasks.predictive.experiment``)."""
    if spec.config.task.name == "image":
        from fedcore.tasks.image.experiment import run_image_experiment

        return run_image_experiment(spec, out_dir, on_event)
    if spec.config.task.predictive:
        from fedcore.tasks.predictive.experiment import run_predictive_experiment

        return run_predictive_experiment(spec, out_dir, on_event)
    emit = on_event or (lambda _e, _d: None)
    name, frame, schema = load_data(spec.data, spec.schema)
    target = schema.target or schema.names[-1]
    train, holdout = train_holdout_split(frame, spec.holdout_share, spec.config.seed)
    column = spec.partition_column or default_partition_column(schema)
    parts = partition_dirichlet(train, spec.spokes, column, spec.config.seed, spec.partition_alpha)
    partitions = {f"hospital-{chr(ord('a') + i)}": part for i, part in enumerate(parts)}
    emit("data", {"name": name, "train": len(train), "holdout": len(holdout),
                  "spokes": {k: len(v) for k, v in partitions.items()}})

    federation = simulate_federation(partitions, schema, spec.config, on_event, run_id=spec.run_id)
    if federation.model_version is None:
        raise RuntimeError(f"the run ended {federation.status} without publishing a model: "
                           f"{federation.run.get('error', 'see the audit log')}")

    rows = spec.rows or len(train)
    emit("generate", {"rows": rows})
    started = time.perf_counter()
    synthetic = generate_from_version(federation.services, federation.model_version, rows, spec.sampling,
                                      seed=spec.config.seed)
    generate_seconds = time.perf_counter() - started
    emit("evaluate", {})
    scores = evaluate(train, holdout, synthetic, schema, target, seed=spec.config.seed)
    report = _assemble_report(spec, name, schema, target, train, holdout, partitions, federation, scores,
                              rows, generate_seconds)
    out_dir.mkdir(parents=True, exist_ok=True)
    synthetic.to_csv(out_dir / "synthetic.csv", index=False)
    write_model_directory(out_dir / "model", federation.services, federation.model_version)
    write_report(out_dir, report, holdout, synthetic, schema)
    return report


def default_partition_column(schema: Schema) -> str:
    categorical = [c.name for c in schema.categorical_columns]
    if not categorical:
        raise ValueError("no categorical column to partition by; pass a partition column")
    if "arms" in categorical:
        return "arms"  # ACTG 175: hospitals enrolled different mixes of treatment arms
    return schema.target if schema.target in categorical else categorical[0]


def _assemble_report(spec, name, schema, target, train, holdout, partitions, federation: SimulationResult,
                     scores, rows, generate_seconds) -> dict:
    privacy = dict(scores.get("privacy", {}))
    dp = spec.config.privacy.enabled
    epsilon_per_round = {s: [m["epsilon"][s] for m in federation.rounds if s in m.get("epsilon", {})]
                         for s in partitions} if dp else {}
    privacy.update(
        {
            "dp": dp,
            "epsilon": federation.model_version["epsilon"] if dp else {s: None for s in partitions},
            "delta": spec.config.privacy.delta,
            "accountant": spec.config.privacy.accountant,
            "target_epsilon": spec.config.privacy.target_epsilon if dp else None,
            "epsilon_per_round": epsilon_per_round,
            "plans": federation.run.get("plans", {}),
        }
    )
    return {
        "data": {"name": name, "target": target, "train_rows": len(train), "holdout_rows": len(holdout),
                 "spokes": {k: len(v) for k, v in partitions.items()}},
        "family": spec.config.family,
        "run": {"status": federation.status, "message": federation.run.get("error", ""),
                "rounds_completed": len(federation.rounds), "run_id": spec.run_id},
        "quality": scores["quality"],
        "utility": scores["utility"],
        "privacy": privacy,
        "rounds": [_round_entry(m) for m in federation.rounds],
        "generation": {"rows": rows, "seconds": round(generate_seconds, 3), "sampler": asdict(spec.sampling)},
        "config": {"run": spec.config.model_dump(mode="json"), "model": federation.model_version["model"],
                   "train": asdict(spec.config.train_config())},
    }


def _round_entry(metrics: dict) -> dict:
    """A round as the report shows it: ``kind`` always, ``loss`` null when the round trained nothing."""
    keep = ("round", "kind", "loss", "spokes", "rejected", "failed", "bytes_in", "bytes_out", "epsilon")
    entry = {k: metrics.get(k) for k in keep}
    entry["seconds"] = metrics.get("round_seconds") or metrics.get("aggregate_seconds")
    return entry
