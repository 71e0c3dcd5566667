"""Privacy: distance to closest record (DCR), training rows against an equal-size holdout.

For each synthetic row we find its nearest real training row and its nearest real holdout
row. If the generator learned the distribution rather than the patients, a synthetic row is
as likely to sit closer to either set (share 0.5); a share near 1.0 means it copies training
rows. This is SDMetrics' DCROverfittingProtection (SDMetrics 0.32, ``single_table/privacy``;
see also Platzer & Reutterer 2021, "Holdout-based empirical assessment of mixed-type
synthetic data", Front. Big Data), with three differences: numeric ranges come from the
schema bounds, not the data; the training rows are subsampled to the holdout's size with
the given seed so the two sets are comparable; and an exact tie counts as half.

Distance between two rows is the mean over columns of a per-column distance in [0, 1]:
numeric |a - b| / (max - min) with values clipped to the bounds, categorical 0 if equal
else 1; a missing value is at distance 1 from any present value and 0 from another missing.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from fedcore.evaluation.columns import MISSING, UNKNOWN, category_codes, require_columns
from fedcore.schema import CategoricalColumn, Schema

logger = logging.getLogger(__name__)

TIE_TOLERANCE = 1e-9  # distances closer than this count as a tie


def _numeric_block(values: pd.Series, low: float, high: float) -> np.ndarray:
    """(N, 3) embedding whose L1 distances are |a - b| / range, 1 to missing, 0 missing-missing.

    A present x (scaled to [0, 1]) maps to (x/2, (1 - x)/2, 0) and a missing one to (0, 0, 1/2).
    """
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    missing = np.isnan(x)
    scaled = np.clip((np.where(missing, low, x) - low) / (high - low), 0.0, 1.0)
    block = np.column_stack([scaled / 2, (1 - scaled) / 2, np.full(len(x), 0.5)])
    block[missing, :2] = 0.0
    block[~missing, 2] = 0.0
    return block


def _categorical_block(values: pd.Series, column: CategoricalColumn) -> np.ndarray:
    """(N, K + 2) one-hot of halves, slots for missing and unknown: L1 distance 0 or 1."""
    codes = category_codes(values, column)
    slots = np.where(codes == MISSING, len(column.categories), codes)
    slots = np.where(codes == UNKNOWN, len(column.categories) + 1, slots)
    block = np.zeros((len(values), len(column.categories) + 2))
    block[np.arange(len(values)), slots] = 0.5
    return block


def dcr_embedding(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Rows as vectors whose L1 distance divided by the column count is the DCR distance."""
    blocks = []
    for column in schema.columns:
        if isinstance(column, CategoricalColumn):
            blocks.append(_categorical_block(frame[column.name], column))
        else:
            blocks.append(_numeric_block(frame[column.name], column.min, column.max))
    return np.hstack(blocks)  # (N, D)


def _closest(reference: np.ndarray, queries: np.ndarray, n_columns: int) -> np.ndarray:
    index = NearestNeighbors(n_neighbors=1, metric="manhattan").fit(reference)
    distances, _ = index.kneighbors(queries)
    return distances[:, 0] / n_columns  # (M,)


def dcr_share(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    seed: int | np.random.Generator,
) -> dict:
    """Share of synthetic rows closer to the training rows than to the holdout rows.

    Returns ``dcr_share`` (0.5 ideal, 1.0 memorised), the median DCR to each set, and the
    row counts used. The larger of train and holdout is subsampled to the smaller's size, so
    a copy of a training row not drawn into the sample does not score as a copy: with t
    training and h holdout rows, copying every training row reads as about 0.5 + 0.5 h / t,
    not 1.0. Give a holdout as large as the training set where the data allow.
    """
    for frame, role in ((train, "training"), (holdout, "holdout"), (synthetic, "synthetic")):
        require_columns(frame, schema, role)
        if frame.empty:
            raise ValueError(f"DCR needs at least one {role} row")
    rng = np.random.default_rng(seed)
    size = min(len(train), len(holdout))
    train_rows = np.sort(rng.choice(len(train), size=size, replace=False))
    holdout_rows = np.sort(rng.choice(len(holdout), size=size, replace=False))

    n_columns = len(schema.columns)
    queries = dcr_embedding(synthetic, schema)
    to_train = _closest(dcr_embedding(train.iloc[train_rows], schema), queries, n_columns)
    to_holdout = _closest(dcr_embedding(holdout.iloc[holdout_rows], schema), queries, n_columns)

    tie = np.abs(to_train - to_holdout) <= TIE_TOLERANCE
    closer_to_train = np.where(tie, 0.5, (to_train < to_holdout).astype(float))
    result = {
        "dcr_share": float(closer_to_train.mean()),
        "dcr_median_train": float(np.median(to_train)),
        "dcr_median_holdout": float(np.median(to_holdout)),
        "dcr_ties": int(tie.sum()),
        "dcr_rows": {"train": size, "train_available": len(train), "holdout": size,
                     "synthetic": len(synthetic)},
    }
    logger.info(
        "DCR: share closer to training %.3f (median DCR train %.4f, holdout %.4f)",
        result["dcr_share"], result["dcr_median_train"], result["dcr_median_holdout"],
    )
    return result
