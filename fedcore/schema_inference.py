"""Infer a schema from a table (``--schema auto``).

Inferred numeric bounds are the observed min and max, which are themselves facts about
patients: review and widen them (and save the schema with ``fedcore schema infer``) before
a real run. Columns that cannot be modelled raise :class:`SchemaInferenceError`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.schema import CategoricalColumn, Column, NumericColumn, Schema

MAX_CATEGORIES = 20  # a column with at most this many distinct values is categorical
ID_UNIQUE_SHARE = 0.95  # a text column this unique is treated as an identifier


class SchemaInferenceError(ValueError):
    """Some columns cannot be modelled; the message lists each one and why."""


def infer_schema(frame: pd.DataFrame, name: str = "table", target: str | None = None) -> Schema:
    if frame.empty:
        raise SchemaInferenceError("cannot infer a schema from a table with no rows")
    problems: list[str] = []
    columns: list[Column] = []
    for column_name in frame.columns:
        values = frame[column_name]
        reason = _unusable_reason(values, len(frame))
        if reason:
            problems.append(f"{column_name!r}: {reason}")
            continue
        columns.append(_infer_column(str(column_name), values))
    if problems:
        raise SchemaInferenceError(
            "cannot infer a schema; drop or fix these columns: " + "; ".join(problems)
        )
    return Schema(name=name, columns=tuple(columns), target=target)


def _unusable_reason(values: pd.Series, rows: int) -> str | None:
    present = values.dropna()
    if present.empty:
        return "every value is missing"
    distinct = present.nunique()
    if distinct == 1:
        return f"it holds a single value ({present.iloc[0]!r}), which carries no information"
    numeric = pd.to_numeric(present, errors="coerce")
    is_integer_like = numeric.notna().all() and np.all(np.mod(numeric, 1) == 0)
    is_text = not numeric.notna().all()
    if is_text and rows >= 20 and distinct >= ID_UNIQUE_SHARE * rows:
        return "almost every value is unique text, so it looks like an identifier"
    if is_integer_like and rows >= 20 and distinct == len(present) == rows:
        return "every value is a distinct integer, so it looks like an identifier"
    if is_text and distinct > MAX_CATEGORIES:
        return f"it is text with {distinct} distinct values (more than {MAX_CATEGORIES} categories)"
    return None


def _infer_column(name: str, values: pd.Series) -> Column:
    present = values.dropna()
    numeric = pd.to_numeric(present, errors="coerce")
    if numeric.notna().all():
        integer = bool(np.all(np.mod(numeric, 1) == 0))
        distinct = sorted(numeric.unique())
        if len(distinct) <= MAX_CATEGORIES and integer:
            return CategoricalColumn(name=name, categories=tuple(int(v) for v in distinct))
        return NumericColumn(name=name, min=float(numeric.min()), max=float(numeric.max()), integer=integer)
    categories = sorted(present.astype(str).str.strip().unique())
    return CategoricalColumn(name=name, categories=tuple(categories))
