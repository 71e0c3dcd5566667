"""Deterministic non-IID split of one table into simulated hospitals.

Label-skew by a Dirichlet draw over a column's values (Hsu et al., 2019, "Measuring the
effects of non-identical data distribution"): for each value of the column, the share of its
rows going to each hospital is drawn from Dirichlet(alpha). Small alpha = very different
hospitals; large alpha = nearly IID. Sizes come out unequal as a result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_ALPHA = 1.0  # moderate skew: every hospital sees every arm, in different proportions
MIN_ROWS_PER_SPOKE = 50  # fewer rows than this cannot train a DP model meaningfully


def partition_dirichlet(
    frame: pd.DataFrame,
    spokes: int,
    column: str,
    seed: int,
    alpha: float = DEFAULT_ALPHA,
    min_rows: int = MIN_ROWS_PER_SPOKE,
) -> list[pd.DataFrame]:
    """Split ``frame`` into ``spokes`` parts, skewed over ``column``; same seed, same split."""
    if spokes < 1:
        raise ValueError("spokes must be at least 1")
    if alpha <= 0:
        raise ValueError("alpha must be positive")
    if column not in frame.columns:
        raise ValueError(f"cannot partition by {column!r}: not a column of the table")
    if len(frame) < spokes * min_rows:
        raise ValueError(
            f"{len(frame)} rows cannot give {spokes} hospitals at least {min_rows} rows each"
        )
    rng = np.random.default_rng(seed)
    keys = frame[column].astype(str).fillna("<missing>").to_numpy()
    for _ in range(100):  # redraw until every hospital has enough rows
        assignment = _draw_assignment(keys, spokes, alpha, rng)
        sizes = np.bincount(assignment, minlength=spokes)
        if sizes.min() >= min_rows:
            return [frame.iloc[np.flatnonzero(assignment == s)].reset_index(drop=True) for s in range(spokes)]
    raise ValueError(
        f"could not draw a split with at least {min_rows} rows per hospital; "
        "use fewer hospitals or a larger alpha"
    )


def _draw_assignment(keys: np.ndarray, spokes: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    assignment = np.empty(len(keys), dtype=np.int64)
    for value in sorted(set(keys)):
        rows = np.flatnonzero(keys == value)
        rows = rng.permutation(rows)
        shares = rng.dirichlet(np.full(spokes, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(rows)).astype(int)
        for spoke, part in enumerate(np.split(rows, cuts)):
            assignment[part] = spoke
    return assignment


def train_holdout_split(frame: pd.DataFrame, holdout_share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random split into training rows and rows the model never sees (for scoring)."""
    if not 0 < holdout_share < 1:
        raise ValueError("holdout_share must be between 0 and 1")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    cut = int(round(len(frame) * (1 - holdout_share)))
    return (
        frame.iloc[order[:cut]].reset_index(drop=True),
        frame.iloc[order[cut:]].reset_index(drop=True),
    )
