"""Infer a schema from a table (``--schema auto``).

Inferred numeric bounds are the observed min and max, and an inferred list of discrete
values is the observed set: both are facts about patients, outside any DP guarantee. Review
and widen them (and save the schema with ``fedcore schema infer``) before a real run.
A single-valued column is kept as a one-category constant, an identifier column is dropped;
each such decision comes back as an :class:`InferenceNote`. Columns that cannot be modelled
at all (every value missing, infinite values, free text) raise :class:`SchemaInferenceError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from fedcore.schema import CategoricalColumn, Column, NumericColumn, Schema

logger = logging.getLogger(__name__)

MAX_CATEGORIES = 20  # at most this many distinct values: integers/text are categorical, other numbers discrete
MIN_ID_ROWS = 20  # an all-unique column is called an identifier only from this many rows on
DISCRETE_MIN_REPEATS = 2  # a discrete column's rows per distinct value, at least (else a small sample of a
#                           continuous column would look discrete)

INFERRED_SCHEMA_DP_WARNING = (
    "an inferred schema is a fact about the data, outside the DP guarantee; "
    "declare bounds to replace it (fedcore schema infer --out schema.yaml, review, then --schema schema.yaml)"
)

NoteAction = Literal["constant", "dropped_id", "discrete"]


class SchemaInferenceError(ValueError):
    """Some columns cannot be modelled; the message lists each one and why."""


@dataclass(frozen=True)
class InferenceNote:
    """What inference decided about one column that a reviewer should know of."""

    column: str
    action: NoteAction  # constant: kept as one category; dropped_id: left out; discrete: numeric with values
    message: str


@dataclass(frozen=True)
class InferredSchema:
    schema: Schema
    notes: tuple[InferenceNote, ...]

    @property
    def dropped(self) -> list[str]:
        return [n.column for n in self.notes if n.action == "dropped_id"]


def infer_schema_with_notes(frame: pd.DataFrame, name: str = "table", target: str | None = None) -> InferredSchema:
    """The schema of ``frame`` and a note for each constant, identifier and discrete column."""
    if frame.empty:
        raise SchemaInferenceError("cannot infer a schema from a table with no rows")
    labels = [str(c) for c in frame.columns]
    repeated = sorted({c for c in labels if labels.count(c) > 1})
    if repeated:
        raise SchemaInferenceError(f"the table repeats column name(s) {repeated}; give every column a distinct name")
    problems: list[str] = []
    columns: list[Column] = []
    notes: list[InferenceNote] = []
    for column_name in frame.columns:
        label = str(column_name)
        values = frame[column_name]
        reason = _unusable_reason(values)
        if reason:
            problems.append(f"{label!r}: {reason}")
            continue
        id_reason = _identifier_reason(values, len(frame))
        if id_reason:
            if label == target:
                problems.append(f"{label!r}: the target column {id_reason}")
            else:
                notes.append(InferenceNote(label, "dropped_id", f"dropped: {id_reason}"))
            continue
        column, note = _infer_column(label, values)
        columns.append(column)
        if note:
            notes.append(note)
    if problems:
        raise SchemaInferenceError("cannot infer a schema; drop or fix these columns: " + "; ".join(problems))
    if not columns:
        raise SchemaInferenceError("cannot infer a schema: every column was dropped as an identifier")
    return InferredSchema(Schema(name=name, columns=tuple(columns), target=target), tuple(notes))


def infer_schema(frame: pd.DataFrame, name: str = "table", target: str | None = None) -> Schema:
    """The schema alone; constants, dropped identifiers and discrete columns are logged as warnings."""
    inferred = infer_schema_with_notes(frame, name=name, target=target)
    for note in inferred.notes:
        logger.warning("schema inference, column %r: %s", note.column, note.message)
    return inferred.schema


def inferred_schema_dp_warning(schema_arg: str | None, dp_enabled: bool) -> str | None:
    """The warning a DP run on ``--schema auto`` must show, or None when it needs none."""
    return INFERRED_SCHEMA_DP_WARNING if schema_arg == "auto" and dp_enabled else None


def _numbers(present: pd.Series) -> pd.Series | None:
    """The values as floats when every one is numeric, else None (a text or true/false column)."""
    if pd.api.types.is_bool_dtype(present):
        return None
    numeric = pd.to_numeric(present, errors="coerce")
    return numeric.astype(float) if numeric.notna().all() else None


def _unusable_reason(values: pd.Series) -> str | None:
    present = values.dropna()
    if present.empty:
        return "every value is missing"
    numeric = _numbers(present)
    if numeric is not None:
        infinite = int(np.isinf(numeric.to_numpy()).sum())
        if infinite:
            return f"it holds {infinite} infinite value(s); replace them with a number or leave them empty"
        return None
    distinct = present.astype(str).str.strip().nunique()
    if distinct > MAX_CATEGORIES and not (distinct == len(values) >= MIN_ID_ROWS):
        return f"it is text with {distinct} distinct values (more than {MAX_CATEGORIES} categories)"
    return None


def _identifier_reason(values: pd.Series, rows: int) -> str | None:
    """Text or integers, present and distinct on every one of at least MIN_ID_ROWS rows; never floats."""
    if rows < MIN_ID_ROWS or values.isna().any() or values.nunique() != rows:
        return None
    numeric = _numbers(values)
    if numeric is None:
        return f"every one of its {rows} values is distinct text, so it looks like an identifier"
    if np.all(np.mod(numeric.to_numpy(), 1) == 0):
        return f"every one of its {rows} values is a distinct integer, so it looks like an identifier"
    return None


def _infer_column(name: str, values: pd.Series) -> tuple[Column, InferenceNote | None]:
    present = values.dropna()
    numeric = _numbers(present)
    if numeric is None:
        categories = tuple(sorted(present.astype(str).str.strip().unique()))
        return CategoricalColumn(name=name, categories=categories), _constant_note(name, categories)
    distinct = np.unique(numeric.to_numpy())
    integer = bool(np.all(np.mod(distinct, 1) == 0))
    if len(distinct) == 1:
        category = int(distinct[0]) if integer else str(float(distinct[0]))
        return CategoricalColumn(name=name, categories=(category,)), _constant_note(name, (category,))
    if integer and len(distinct) <= MAX_CATEGORIES:
        return CategoricalColumn(name=name, categories=tuple(int(v) for v in distinct)), None
    low, high = float(distinct[0]), float(distinct[-1])
    if len(distinct) <= MAX_CATEGORIES and len(numeric) >= DISCRETE_MIN_REPEATS * len(distinct):
        column = NumericColumn(name=name, min=low, max=high, integer=integer, values=tuple(float(v) for v in distinct))
        message = (f"discrete: {len(distinct)} distinct values, so generated values are snapped to them; "
                   "add any value a hospital may hold that this table lacks")
        return column, InferenceNote(name, "discrete", message)
    return NumericColumn(name=name, min=low, max=high, integer=integer), None


def _constant_note(name: str, categories: tuple) -> InferenceNote | None:
    if len(categories) != 1:
        return None
    return InferenceNote(name, "constant", f"kept as a constant: every present value is {categories[0]!r}")
