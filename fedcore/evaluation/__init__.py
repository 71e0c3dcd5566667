"""Evaluating synthetic tables: quality (SDMetrics), utility (TSTR vs TRTR), privacy (DCR).

``evaluate`` returns the three sections of the run report; the caller adds the privacy
accountant's epsilon and delta to ``privacy`` and the per-round history, then calls
``write_report``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.evaluation.dcr import dcr_share
from fedcore.evaluation.quality import quality_scores
from fedcore.evaluation.report import write_report
from fedcore.evaluation.utility import utility_scores
from fedcore.schema import Schema

__all__ = ["evaluate", "quality_scores", "utility_scores", "dcr_share", "write_report"]


def evaluate(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    target: str | None,
    seed: int | np.random.Generator,
) -> dict:
    """Quality, utility and DCR, all against real rows the generator never saw.

    ``real_holdout`` must be rows no hospital trained on: quality is scored against them
    (so a model that memorised its training rows gets no credit for it), they are the
    utility test set and the DCR reference set. ``quality.category_rates`` compares each
    category's synthetic rate with its rate in ``real_train`` (the rows the generator learned
    from, whose rates the target is stated on). ``target=None`` uses ``schema.target``.
    """
    target = target if target is not None else schema.target
    if target is None:
        raise ValueError("no target given and the schema declares none")
    quality_seed, utility_seed, dcr_seed = np.random.default_rng(seed).spawn(3)
    return {
        "quality": quality_scores(real_holdout, synthetic, schema, seed=quality_seed, rates_reference=real_train),
        "utility": utility_scores(real_train, real_holdout, synthetic, schema, target, utility_seed),
        "privacy": dcr_share(real_train, real_holdout, synthetic, schema, dcr_seed),
    }
