"""``simulate`` for a predictive task: federate, then score the published model exactly on a central holdout.

The holdout (20% of the rows) never reaches any hospital. ``report.json`` holds the task, the
federated noisy metrics of every round, the exact holdout metrics of the published model, the
central references beside it, and the fairness report read off the noisy per-group counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fedcore.evaluation.report import to_jsonable
from fedcore.partition import partition_dirichlet, train_holdout_split
from fedcore.runtime.driver import EventHandler
from fedcore.runtime.generate import open_published_model
from fedcore.runtime.model_directory import write_model_directory
from fedcore.runtime.run_state import read_encoder
from fedcore.runtime.simulation import simulate_federation
from fedcore.tasks.predictive.central import central_references, score_outputs
from fedcore.tasks.predictive.encoder import PredictiveEncoder
from fedcore.tasks.registry import task_of

CURVE_COLUMN = "arms"  # survival curves are drawn per treatment arm when the table has one


def run_predictive_experiment(spec, out_dir: Path, on_event: EventHandler | None = None) -> dict:
    from fedcore.experiment import default_partition_column, load_data

    emit = on_event or (lambda _e, _d: None)
    config = spec.config
    name, frame, schema = load_data(spec.data, spec.schema)
    task = task_of(config)
    task.check_schema(config, schema)
    train, holdout = train_holdout_split(frame, spec.holdout_share, config.seed)
    column = spec.partition_column or default_partition_column(schema)
    parts = partition_dirichlet(train, spec.spokes, column, config.seed, spec.partition_alpha)
    partitions = {f"hospital-{chr(ord('a') + i)}": part for i, part in enumerate(parts)}
    emit("data", {"name": name, "train": len(train), "holdout": len(holdout),
                  "spokes": {k: len(v) for k, v in partitions.items()}})
    federation = simulate_federation(partitions, schema, config, on_event, run_id=spec.run_id)
    record = federation.model_version
    if record is None:
        raise RuntimeError(f"the run ended {federation.status} without publishing a model: "
                           f"{federation.run.get('error', 'see the audit log')}")
    emit("evaluate", {})
    encoder, scored, outputs, final = score_published(federation.services, record, config, train, holdout)
    emit("references", {})
    baseline = central_references(task, encoder, config, train, holdout, config.seed)
    fairness = dict(record.get("fairness") or {})
    fairness["hospital_spread"] = (record.get("metrics") or {}).get("hospital_spread")
    report = {
        "task": config.task.name,
        "data": {"name": name, "train_rows": len(train), "holdout_rows": len(holdout),
                 "spokes": {k: len(v) for k, v in partitions.items()}},
        "run": {"status": federation.status, "run_id": spec.run_id, "model_version": record["version"],
                "published_round": record["round"], "rounds_completed": len(federation.rounds),
                "message": federation.run.get("error", "")},
        "metrics": {"rounds": [round_entry(m) for m in federation.rounds], "final": final,
                    "federated_validation": record.get("metrics")},
        "baseline": baseline,
        "fairness": fairness,
        "fairness_holdout": final.get("fairness"),
        "privacy": privacy_report(config, record, federation),
        "config": config.model_dump(mode="json"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    if task.name == "survival" and CURVE_COLUMN in schema.names:
        report["survival_curves"] = _survival_curves(encoder, outputs, scored, out_dir / "survival_curves.png")
    (out_dir / "report.json").write_text(json.dumps(to_jsonable(report), indent=2, allow_nan=False), encoding="utf-8")
    write_model_directory(out_dir / "model", federation.services, record)
    return report


def score_published(services, record: dict, config, train: pd.DataFrame, holdout: pd.DataFrame):
    """(encoder, labelled holdout rows, network outputs, exact scores) of a published predictive version."""
    task = task_of(config)
    encoder = task.encoder_from_dict(read_encoder(services.blobs, record["run_id"]))
    scored = encoder.labelled(holdout)
    outputs = task.outputs(task.network(encoder, config), open_published_model(services, record),
                           encoder.features(scored))
    return encoder, scored, outputs, score_outputs(task, encoder, outputs, encoder.labelled(train), scored)


def privacy_report(config, record: dict, federation) -> dict:
    """``report.json``'s privacy section of a predictive run: epsilon per hospital, delta, target, plans."""
    dp = config.privacy.enabled
    return {"dp": dp, "epsilon": record.get("epsilon") or {}, "delta": config.privacy.delta if dp else None,
            "target_epsilon": config.privacy.target_epsilon if dp else None,
            "evaluation_epsilon_share": config.task.evaluation.epsilon_share,
            "plans": federation.run.get("plans", {})}


def round_entry(metrics: dict) -> dict:
    keep = ("round", "kind", "loss", "spokes", "rejected", "failed", "epsilon", "validation", "stopped_early",
            "aggregation_weights")
    return {k: metrics.get(k) for k in keep if k in metrics or k in ("round", "kind", "loss")}


def _survival_curves(encoder: PredictiveEncoder, outputs: np.ndarray, holdout: pd.DataFrame, path: Path) -> dict:
    """Mean predicted survival per treatment arm against the Kaplan-Meier estimate of the holdout rows (lifelines)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lifelines import KaplanMeierFitter

    from fedcore.tasks.survival.task import survival_at, survival_curves

    grid = [0.0, *encoder.labels.cuts]
    predicted = survival_at(encoder, survival_curves(outputs), grid)  # (N, T + 1)
    time, event, _ = encoder.survival_labels(holdout)
    arms = holdout[CURVE_COLUMN].astype(str).to_numpy()
    curves, (fig, ax) = {}, plt.subplots(figsize=(7, 4.5))
    for i, arm in enumerate(sorted(set(arms))):
        rows = arms == arm
        km = KaplanMeierFitter().fit(time[rows], event[rows])
        kaplan_meier = km.survival_function_at_times(grid).to_numpy()
        model = predicted[rows].mean(axis=0)
        curves[arm] = {"times": grid, "model": model.tolist(), "kaplan_meier": kaplan_meier.tolist(),
                       "rows": int(rows.sum())}
        color = f"C{i}"
        ax.step(grid, kaplan_meier, where="post", color=color, linestyle="--", label=f"arm {arm}: Kaplan-Meier")
        ax.plot(grid, model, color=color, label=f"arm {arm}: model")
    ax.set_xlabel(encoder.labels.time)
    ax.set_ylabel("survival probability")
    ax.set_title("Survival per treatment arm: federated model vs Kaplan-Meier (held-out rows)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return curves
