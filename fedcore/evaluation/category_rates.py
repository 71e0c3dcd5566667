"""Do the categories survive? Real vs synthetic rate of every category of a categorical or
discrete numeric column that at least ``min_share`` of the real rows hold.

A generator can score well on column shapes (total variation sums over all categories) while
dropping a 1.5% category entirely; this check looks at each category on its own. The target:
without DP, every category held by at least 1% of training rows appears at its real rate within
a factor of ``max_ratio`` (1.5). Rates are shares of all rows, missing values included in the
denominator.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fedcore.evaluation.columns import category_codes, require_columns
from fedcore.schema import CategoricalColumn, Column, NumericColumn, Schema

MIN_SHARE = 0.01  # categories rarer than this in the real table are not checked
MAX_RATIO = 1.5  # synthetic / real rate must lie in [1 / MAX_RATIO, MAX_RATIO]


def category_rates(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    min_share: float = MIN_SHARE,
    max_ratio: float = MAX_RATIO,
) -> dict:
    """Per column, each category with real share >= ``min_share``: real rate, synthetic rate, ratio.

    Returns ``columns`` (name -> list of {category, real_rate, synthetic_rate, ratio, within}),
    ``checked`` (categories compared), ``outside`` (how many have a ratio outside
    [1/max_ratio, max_ratio]), ``worst`` (the entry whose ratio is furthest from 1, with its
    column) and ``worst_ratio``; ``worst`` and ``worst_ratio`` are None when nothing is checked.
    """
    if not 0 < min_share < 1:
        raise ValueError("min_share must lie strictly between 0 and 1")
    if max_ratio <= 1:
        raise ValueError("max_ratio must be above 1")
    require_columns(real, schema, "real")
    require_columns(synthetic, schema, "synthetic")
    if real.empty or synthetic.empty:
        raise ValueError("category rates need at least one real and one synthetic row")
    columns: dict[str, list[dict]] = {}
    worst: dict | None = None
    outside = 0
    for column in schema.columns:
        if not _has_categories(column):
            continue
        labels, real_codes = _codes(real[column.name], column)
        _, synthetic_codes = _codes(synthetic[column.name], column)
        real_rates = np.bincount(real_codes[real_codes >= 0], minlength=len(labels)) / len(real_codes)
        synthetic_rates = np.bincount(synthetic_codes[synthetic_codes >= 0], minlength=len(labels)) / len(
            synthetic_codes)
        entries = []
        for code in np.flatnonzero(real_rates >= min_share):
            ratio = float(synthetic_rates[code] / real_rates[code])
            within = 1 / max_ratio <= ratio <= max_ratio
            entry = {"category": labels[code], "real_rate": float(real_rates[code]),
                     "synthetic_rate": float(synthetic_rates[code]), "ratio": ratio, "within": within}
            entries.append(entry)
            outside += not within
            if worst is None or _distance(ratio) > _distance(worst["ratio"]):
                worst = {"column": column.name, **entry}
        columns[column.name] = entries
    return {
        "min_share": min_share,
        "max_ratio": max_ratio,
        "columns": columns,
        "checked": sum(len(entries) for entries in columns.values()),
        "outside": outside,
        "worst": worst,
        "worst_ratio": None if worst is None else worst["ratio"],
    }


def _has_categories(column: Column) -> bool:
    return isinstance(column, CategoricalColumn) or (isinstance(column, NumericColumn) and column.values is not None)


def _codes(values: pd.Series, column: Column) -> tuple[list, np.ndarray]:
    """Category labels and each value's index among them (-1 for missing or unknown)."""
    if isinstance(column, CategoricalColumn):
        return list(column.categories), category_codes(values, column)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    support = np.asarray(column.values)
    present = ~np.isnan(numbers)
    nearest = np.abs(numbers[present, None] - support[None, :]).argmin(axis=1)  # (N_present,)
    exact = np.isclose(numbers[present], support[nearest], rtol=1e-9, atol=1e-9)
    codes = np.full(len(numbers), -1, dtype=np.int64)
    codes[present] = np.where(exact, nearest, -1)
    labels = [int(v) if column.integer else float(v) for v in column.values]
    return labels, codes


def _distance(ratio: float) -> float:
    """How far a ratio is from 1 on a log scale; a category missing from the output is infinitely far."""
    return math.inf if ratio <= 0 else abs(math.log(ratio))
