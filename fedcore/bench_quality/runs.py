"""One federated run of the bench: `simulate`'s pipeline (fedcore.experiment), synthetic rows back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from fedcore.experiment import ExperimentSpec, run_experiment
from fedcore.run_config import PrivacySettings, RunConfig
from fedcore.runtime.driver import EventHandler
from fedcore.schema import Schema
from fedcore.table import load_table


def run_spec(data: str, family: str, epsilon: float | None, seed: int, spokes: int,
             rows: int | None) -> ExperimentSpec:
    """The ExperimentSpec `simulate --family F --target-epsilon E --seed S` would build (None: --no-dp)."""
    privacy = PrivacySettings(enabled=False) if epsilon is None else PrivacySettings(target_epsilon=epsilon)
    label = "nodp" if epsilon is None else f"eps{epsilon:g}"
    config = RunConfig(quorum=min(2, spokes), privacy=privacy, seed=seed, model={"family": family})
    return ExperimentSpec(data=data, spokes=spokes, config=config, rows=rows, run_id=f"bench-{family}-{label}-{seed}")


def synthesize(spec: ExperimentSpec, schema: Schema, on_event: EventHandler | None = None) -> pd.DataFrame:
    """Split, federate and generate as `simulate` does; the synthetic table, conformed to ``schema``."""
    with tempfile.TemporaryDirectory(prefix="fedcore-bench-") as out:
        run_experiment(spec, Path(out), on_event)
        return load_table(Path(out) / "synthetic.csv", schema)
