"""Reading evaluation tables against the schema: column checks and category codes.

Real and synthetic frames reach the evaluators in different dtypes (``1``, ``1.0``, ``"1"``
for the same category); every evaluator maps categoricals through :func:`category_codes` so
the three frames are encoded identically, from the schema's categories rather than the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.schema import CategoricalColumn, Schema

MISSING = -1  # code for NaN / None
UNKNOWN = -2  # code for a value that is not among the schema's categories


def require_columns(frame: pd.DataFrame, schema: Schema, role: str) -> None:
    """Raise ``ValueError`` naming the schema columns that ``frame`` lacks."""
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise ValueError(f"the {role} table lacks schema columns {missing}")


def _category_lookup(column: CategoricalColumn) -> dict[str, int]:
    lookup: dict[str, int] = {}
    for code, category in enumerate(column.categories):
        lookup[str(category)] = code
        if isinstance(category, int) and not isinstance(category, bool):
            lookup[f"{category}.0"] = code  # an int category read back as float
    return lookup


def category_codes(values: pd.Series, column: CategoricalColumn) -> np.ndarray:
    """Index of each value in ``column.categories``; ``MISSING`` for NaN, ``UNKNOWN`` otherwise."""
    present = values.notna().to_numpy()
    keys = values[present].astype(str).str.strip()
    mapped = keys.map(_category_lookup(column)).fillna(UNKNOWN).to_numpy(dtype=np.int64)
    codes = np.full(len(values), MISSING, dtype=np.int64)
    codes[present] = mapped
    return codes


def category_labels(values: pd.Series, column: CategoricalColumn) -> pd.Series:
    """Values as the string of their schema category (NaN stays NaN, unknowns keep their text)."""
    codes = category_codes(values, column)
    names = np.array([str(c) for c in column.categories] + ["", ""], dtype=object)
    labels = names[codes].astype(object)  # codes -1/-2 index the two padding slots
    labels[codes == MISSING] = np.nan
    unknown = codes == UNKNOWN
    labels[unknown] = values.to_numpy()[unknown].astype(str)
    return pd.Series(labels, index=values.index, name=values.name, dtype=object)
