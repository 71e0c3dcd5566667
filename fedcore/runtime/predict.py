"""Predictions from a published predictive version: the path the CLI and the API share.

A researcher's rows are checked against the run's schema before the model sees them: a column the
schema lacks, or a value it does not allow (a category not declared, a number outside [min, max], text
in a numeric column), is refused with the column and the 1-based data row (the CSV header is not a
row), never clipped or guessed. Schema columns the model does not read (its labels, ``task.exclude``)
are ignored; missing values are allowed and go through the preprocessor as in training (imputed,
with its missing indicator or category where the consortium's statistics showed missing values).
Errors name columns and rows, never a value from the rows, so they can be shown and logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedcore.runtime.generate import open_published_model, serving_task
from fedcore.runtime.model_directory import ModelDirectory
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import read_encoder, read_schema
from fedcore.schema import CategoricalColumn, NumericColumn, Schema
from fedcore.table import conform_table
from fedcore.tasks.predictive.encoder import PredictiveEncoder

MAX_PROBLEMS = 20  # problems listed in one error; the first in each column
MAX_TIMES = 200  # survival times asked for in one request


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with the rows: the column, the 1-based data row (None: the whole column), what is wrong."""

    column: str
    row: int | None
    problem: str

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column!r}" if self.row is not None else f"column {self.column!r}"
        return f"{where}: {self.problem}"

    def to_dict(self) -> dict:
        return {"column": self.column, "row": self.row, "problem": self.problem}


class PredictionInputError(ValueError):
    """Rows (or times) a model cannot predict on; ``problems`` names each column and row, never a value."""

    def __init__(self, problems: list[RowProblem], summary: str = "the rows do not fit the model's schema") -> None:
        self.problems = sorted(problems, key=lambda p: (p.row or 0))[:MAX_PROBLEMS]
        shown = "; ".join(str(p) for p in self.problems)
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        super().__init__(f"{summary}: {shown}{more}" if shown else summary)


class PredictionTimesError(PredictionInputError):
    """Survival times a model cannot predict at (or times given to a risk model)."""

    def __init__(self, message: str) -> None:
        super().__init__([], message)


def conform_rows(frame: pd.DataFrame, schema: Schema, encoder: dict) -> pd.DataFrame:
    """Researcher rows as the conformed feature table a predictive task predicts on (PredictionInputError if not)."""
    features = PredictiveEncoder.from_dict(encoder).preprocessor.schema  # the schema's feature columns
    columns = [str(c) for c in frame.columns]
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise PredictionInputError(
            [RowProblem(c, None, "not a column of the model's schema") for c in unknown],
            f"unknown column(s); the model reads {features.names}")
    absent = [c for c in features.names if c not in columns]
    if absent:
        raise PredictionInputError(
            [RowProblem(c, None, "the model reads this column; give it (an empty cell is a missing value)")
             for c in absent], "missing feature column(s)")
    if frame.empty:
        raise PredictionInputError([], "no rows to predict on")
    rows = frame.set_axis(columns, axis=1).reset_index(drop=True)[features.names]
    rows = rows.apply(_blank_as_missing)
    problems = [p for column in features.columns if (p := _first_problem(rows[column.name], column))]
    if problems:
        raise PredictionInputError(problems, "value(s) outside the model's schema")
    return conform_table(rows, features)  # typed as in training; every value is already known to fit


def check_times(encoder: dict, times: list[float] | None) -> list[float] | None:
    """Survival times as floats: distinct, within the model's time grid [0, its last cut point]; none for risk."""
    if not times:
        return None
    labels = PredictiveEncoder.from_dict(encoder).labels
    if labels.time is None:
        raise PredictionTimesError(f"times are for survival models; a {labels.task} model gives class "
                                   "probabilities (leave times out)")
    if len(times) > MAX_TIMES:
        raise PredictionTimesError(f"at most {MAX_TIMES} times, got {len(times)}")
    values = []
    for t in times:
        try:
            value = float(t)
        except (TypeError, ValueError):
            raise PredictionTimesError(f"times must be numbers, got {t!r}") from None
        if not (math.isfinite(value) and 0.0 <= value <= labels.cuts[-1]):
            raise PredictionTimesError(f"times must lie in [0, {labels.cuts[-1]:g}] ({labels.time}'s range "
                                       f"in the model's grid), got {t!r}")
        values.append(value)
    if len(set(values)) != len(values):
        raise PredictionTimesError("times must be distinct")
    return values


def predict_from_version(services: HubServices, record: dict, frame: pd.DataFrame,
                         times: list[float] | None = None) -> pd.DataFrame:
    """Predictions of the published version ``record`` for ``frame``: one row per input row, only the
    prediction columns (risk ``p_<class>``, survival ``s_<time>``). ModelKindError for a synthesis model."""
    task = serving_task(record, "predict")
    encoder, schema = read_encoder(services.blobs, record["run_id"]), read_schema(services.blobs, record["run_id"])
    rows, times = conform_rows(frame, schema, encoder), check_times(encoder, times)  # checked before the model opens
    return _distinct_columns(task.predict(encoder, open_published_model(services, record), record, schema, rows,
                                          times), times)


def predict_from_directory(model: ModelDirectory, frame: pd.DataFrame,
                           times: list[float] | None = None) -> pd.DataFrame:
    """Like :func:`predict_from_version`, from a model directory (already SHA-256 checked by its loader)."""
    record = model.card["version"]
    task = serving_task(record, "predict")
    rows, times = conform_rows(frame, model.schema, model.encoder), check_times(model.encoder, times)
    return _distinct_columns(task.predict(model.encoder, model.tensors, record, model.schema, rows, times), times)


def _distinct_columns(predictions: pd.DataFrame, times: list[float] | None) -> pd.DataFrame:
    """Survival columns are named by time to 6 significant digits: two times that close share one name (and the
    task's frame keeps only one of them), so a column per time asked for is checked here."""
    if times and predictions.shape[1] != len(times):
        raise PredictionTimesError("times closer than 6 significant digits name the same column s_<time>; "
                                   "give times further apart")
    return predictions


def _blank_as_missing(values: pd.Series) -> pd.Series:
    """An empty or all-space text cell is a missing value, as an empty CSV cell is."""
    blank = values.map(lambda v: isinstance(v, str) and not v.strip())
    return values.mask(blank, np.nan) if blank.any() else values


def _first_problem(values: pd.Series, column) -> RowProblem | None:
    """The first row of ``values`` that ``column`` does not allow, and why (without the value)."""
    reason = _numeric_problems(values, column) if isinstance(column, NumericColumn) else \
        _categorical_problems(values, column)
    bad = reason.notna().to_numpy()
    if not bad.any():
        return None
    first = int(np.argmax(bad))
    count = int(bad.sum())
    more = f" ({count - 1} more row(s) in this column)" if count > 1 else ""
    return RowProblem(column.name, first + 1, f"{reason.iloc[first]}{more}")


def _numeric_problems(values: pd.Series, column: NumericColumn) -> pd.Series:
    """Per row: why the value does not fit ``column`` (None where it fits or is missing)."""
    flags = values.map(_is_bool).astype(bool)
    present = values.notna() & ~flags
    numbers = pd.to_numeric(values.where(present), errors="coerce").astype(float)
    reason = pd.Series([None] * len(values), index=values.index, dtype=object)
    reason[flags] = "not a number"
    reason[present & numbers.isna()] = "not a number"
    finite = np.isfinite(numbers)
    reason[present & numbers.notna() & ~finite] = "not a finite number"
    inside = finite & (numbers >= column.min) & (numbers <= column.max)
    reason[present & finite & ~inside] = f"outside the schema's range [{column.min:g}, {column.max:g}]"
    if column.values is not None:
        snapped = pd.Series(column.snap(numbers.to_numpy()), index=values.index)
        off = inside & ~np.isclose(numbers, snapped, rtol=1e-9, atol=1e-9)
        reason[present & off] = f"not one of the column's values {[f'{v:g}' for v in column.values]}"
    return reason


def _categorical_problems(values: pd.Series, column: CategoricalColumn) -> pd.Series:
    """Per row: "not a declared category" where the value is not one (read as ``conform_table`` reads it)."""
    known = {str(c) for c in column.categories} | {f"{c}.0" for c in column.categories if isinstance(c, int)}
    present = values.notna()
    fits = values.map(lambda v: not _is_bool(v) and str(v).strip() in known).astype(bool)
    reason = pd.Series([None] * len(values), index=values.index, dtype=object)
    reason[present & ~fits] = f"not a declared category; categories are {[str(c) for c in column.categories]}"
    return reason


def _is_bool(value) -> bool:
    """JSON's true/false is not a number or a category (Python's bool is an int)."""
    return isinstance(value, (bool, np.bool_))
