"""``bench quality``: every row of a QualityGrid, scored the same way (see ``scoring``).

Per seed: the split `simulate` makes with that seed (``load_data`` and ``train_holdout_split``
as in fedcore.experiment), a floor and a ceiling row on it, then each family at each epsilon
federated over that seed's hospitals. Rows are dicts with ``kind`` run | floor | ceiling |
reference and the metrics of ``scoring.METRICS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import numpy as np

from fedcore.bench_quality.grid import QualityGrid
from fedcore.bench_quality.references import FIXED_LABEL, fixed_references, independent_columns
from fedcore.bench_quality.runs import run_spec, synthesize
from fedcore.bench_quality.scoring import METRICS, score_holdout_as_synthetic, score_table
from fedcore.experiment import HOLDOUT_SHARE, load_data
from fedcore.partition import train_holdout_split
from fedcore.runtime.driver import EventHandler

logger = logging.getLogger(__name__)

StepHandler = Callable[[str], None]  # told what the bench is about to do


def row_count(grid: QualityGrid) -> int:
    """Rows ``run_quality_bench`` yields (what a progress bar counts)."""
    return len(grid.runs()) + 2 * grid.seeds + len(fixed_references(grid.data))


def run_quality_bench(grid: QualityGrid, on_step: StepHandler | None = None,
                      on_event: EventHandler | None = None) -> Iterator[dict]:
    """Yield the bench's rows one by one: references, then per seed floor, ceiling and runs."""
    step = on_step or (lambda _text: None)
    for reference in fixed_references(grid.data):
        yield {"kind": "reference", "label": FIXED_LABEL, "seed": None, "dcr_share": None,
               "exact_copy_share": None, **reference}
    name, frame, schema = load_data(grid.data, None)
    target = schema.target or schema.names[-1]
    for seed in range(grid.seeds):
        train, holdout = train_holdout_split(frame, HOLDOUT_SHARE, seed)
        rows = grid.rows or len(train)
        step(f"seed {seed}: floor (columns drawn independently)")
        floor = independent_columns(train, rows, np.random.default_rng([seed, 1]))
        yield _row("floor", name, "independent columns", None, seed,
                   score_table(train, holdout, floor, schema, target, seed))
        step(f"seed {seed}: ceiling (holdout rows)")
        yield _row("ceiling", name, "real holdout rows", None, seed,
                   score_holdout_as_synthetic(train, holdout, schema, target, seed))
        for family, epsilon in ((f, e) for f in grid.families for e in grid.epsilons):
            step(f"seed {seed}: {family} at {'no DP' if epsilon is None else f'epsilon {epsilon:g}'}")
            started = time.perf_counter()
            spec = run_spec(grid.data, family, epsilon, seed, grid.spokes, grid.rows)
            synthetic = synthesize(spec, schema, on_event)
            row = _row("run", name, family, epsilon, seed,
                       score_table(train, holdout, synthetic, schema, target, seed))
            row["seconds"] = round(time.perf_counter() - started, 1)
            yield row


def _row(kind: str, data: str, family: str, epsilon: float | None, seed: int, scores: dict) -> dict:
    row = {"kind": kind, "data": data, "family": family, "epsilon": epsilon, "seed": seed}
    row.update({metric: scores[metric] for metric in METRICS})
    logger.info("bench quality row: %s", row)
    return row
