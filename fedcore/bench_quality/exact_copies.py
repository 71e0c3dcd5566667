"""Exact copies: the share of synthetic rows equal to some training row on every schema column."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from fedcore.evaluation.dcr import TIE_TOLERANCE, dcr_embedding
from fedcore.schema import Schema


def exact_copy_share(train: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> float:
    """Share of ``synthetic`` rows at DCR distance 0 from the nearest of all ``train`` rows.

    Uses the DCR embedding (fedcore/evaluation/dcr.py), so "equal" means what DCR means:
    same category, same number up to 1e-9 of the column's range, missing matches missing.
    Unlike ``dcr_share`` the training rows are not subsampled: a copy of any of them counts.
    """
    if train.empty or synthetic.empty:
        raise ValueError("exact copies need at least one training and one synthetic row")
    index = NearestNeighbors(n_neighbors=1, metric="manhattan").fit(dcr_embedding(train, schema))
    distances, _ = index.kneighbors(dcr_embedding(synthetic, schema))  # (M, 1)
    per_column = distances[:, 0] / len(schema.columns)
    return float(np.mean(per_column <= TIE_TOLERANCE))
