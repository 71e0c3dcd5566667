"""One scorer for every bench row: quality against the training rows, utility and DCR on the holdout.

Quality is SDMetrics' QualityReport with the training rows as the real table (the rows the
generator learned from; the ceiling row, real rows it never saw, then shows what sampling
noise alone costs). TSTR/TRTR is tested on the holdout no hospital saw; DCR compares the
synthetic rows' distance to training and holdout rows (fedcore/evaluation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.bench_quality.exact_copies import exact_copy_share
from fedcore.evaluation import dcr_share, quality_scores, utility_scores
from fedcore.schema import Schema

METRICS = ("column_shapes", "column_pair_trends", "tstr_over_trtr", "dcr_share", "exact_copy_share")


def score_table(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema,
                target: str, seed: int) -> dict:
    """The five bench numbers of ``synthetic`` (see ``METRICS``); None where a score is undefined."""
    quality_seed, utility_seed, dcr_seed = np.random.default_rng(seed).spawn(3)
    quality = quality_scores(train, synthetic, schema, seed=quality_seed)
    utility = utility_scores(train, holdout, synthetic, schema, target, utility_seed)
    privacy = dcr_share(train, holdout, synthetic, schema, dcr_seed)
    return {
        "column_shapes": quality["column_shapes"],
        "column_pair_trends": quality["column_pair_trends"],
        "tstr_over_trtr": utility["ratio"],
        "dcr_share": privacy["dcr_share"],
        "exact_copy_share": exact_copy_share(train, synthetic, schema),
    }


def score_holdout_as_synthetic(train: pd.DataFrame, holdout: pd.DataFrame, schema: Schema, target: str,
                               seed: int) -> dict:
    """The ceiling: the holdout rows scored as if they were synthetic.

    Quality and exact copies score the whole holdout like any synthetic table. TSTR and DCR
    would test the holdout on itself (a model fitted on its own test rows, every row at
    distance 0 from the holdout), so they are cross-fitted: the holdout is cut in two halves,
    each half is the "synthetic" table scored against the other half as holdout, and the two
    results are averaged. The ceiling's TSTR is therefore fitted on half the holdout's rows.
    """
    quality_seed, split_seed, *fold_seeds = np.random.default_rng(seed).spawn(4)
    quality = quality_scores(train, holdout, schema, seed=quality_seed)
    order = np.random.default_rng(split_seed).permutation(len(holdout))
    halves = [holdout.iloc[np.sort(part)].reset_index(drop=True) for part in np.array_split(order, 2)]
    ratios, shares = [], []
    for (fake, test), fold_seed in zip((halves, halves[::-1]), fold_seeds):
        utility_seed, dcr_seed = fold_seed.spawn(2)
        ratios.append(utility_scores(train, test, fake, schema, target, utility_seed)["ratio"])
        shares.append(dcr_share(train, test, fake, schema, dcr_seed)["dcr_share"])
    return {
        "column_shapes": quality["column_shapes"],
        "column_pair_trends": quality["column_pair_trends"],
        "tstr_over_trtr": None if None in ratios else float(np.mean(ratios)),
        "dcr_share": float(np.mean(shares)),
        "exact_copy_share": exact_copy_share(train, holdout, schema),
    }
