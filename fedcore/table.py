"""Reading a hospital's table and checking it against the schema.

Every check raises :class:`TableError` with the column and the offending values, so a
hospital sees exactly what to fix; nothing is silently dropped except out-of-bound numeric
values, which are clipped to the declared bounds (the bounds define DP sensitivity) and logged.
A discrete numeric column (declared ``values``) is not clipped: a value outside its support is an error.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fedcore.schema import CategoricalColumn, NumericColumn, Schema

logger = logging.getLogger(__name__)

MAX_SHOWN = 5  # offending values quoted in an error message


class TableError(ValueError):
    """A table cannot be read, or does not match its schema."""


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV with clear errors for a missing, empty or unparsable file or a repeated header."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"data file not found: {path}")
    return _parse_csv(path.read_bytes(), f"data file {path}")


def read_csv_bytes(data: bytes, source: str = "the uploaded table") -> pd.DataFrame:
    """Like :func:`read_csv`, for a table already in memory (a hospital's object in its bucket)."""
    return _parse_csv(data, source)


def duplicate_header_names(header: list[str]) -> list[str]:
    """Names that appear more than once in a CSV header row, in first-seen order.

    Blank names are left out: pandas numbers them (``Unnamed: 3``), so nothing is lost.
    """
    seen: set[str] = set()
    repeated: list[str] = []
    for name in (n for n in header if n.strip()):
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def _parse_csv(data: bytes, source: str) -> pd.DataFrame:
    # pandas renames a repeated header (age, age -> age, age.1), so the header row is read first.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        header = next((row for row in csv.reader(text) if row), [])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TableError(f"{source} is not a valid CSV: {exc}") from exc
    repeated = duplicate_header_names(header)
    if repeated:
        raise TableError(
            f"{source} repeats column name(s) {repeated} in its header; give every column a distinct name"
        )
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except pd.errors.EmptyDataError as exc:
        raise TableError(f"{source} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TableError(f"{source} is not a valid CSV: {exc}") from exc
    if frame.empty:
        raise TableError(f"{source} has a header but no rows")
    return frame


def load_table(path: str | Path, schema: Schema) -> pd.DataFrame:
    """Read a CSV and conform it to ``schema``."""
    return conform_table(read_csv(path), schema)


def conform_table(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Return a copy with exactly the schema's columns, in order, typed and validated.

    Numeric columns become float (NaN for missing); categorical columns hold the schema's
    category values (object dtype, NaN for missing). Extra columns are dropped with a log line.
    """
    repeated = duplicate_header_names([str(c) for c in frame.columns])
    if repeated:
        raise TableError(f"the table repeats column name(s) {repeated}; give every column a distinct name")
    missing = [name for name in schema.names if name not in frame.columns]
    if missing:
        raise TableError(f"the table lacks schema columns {missing}; it has {list(frame.columns)}")
    extra = [c for c in frame.columns if c not in schema.names]
    if extra:
        logger.info("ignoring %d column(s) not in the schema: %s", len(extra), extra)
    if frame.empty:
        raise TableError("the table has no rows")
    out = {}
    for column in schema.columns:
        values = frame[column.name]
        if isinstance(column, NumericColumn):
            out[column.name] = _conform_numeric(values, column)
        else:
            out[column.name] = _conform_categorical(values, column)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _conform_numeric(values: pd.Series, column: NumericColumn) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() & values.notna()]
    if len(bad):
        shown = list(bad.astype(str).unique()[:MAX_SHOWN])
        raise TableError(f"column {column.name!r} is numeric but holds non-numeric values such as {shown}")
    numbers = numbers.astype(float).to_numpy(copy=True)
    infinite = np.isinf(numbers)
    if infinite.any():
        raise TableError(f"column {column.name!r} holds {int(infinite.sum())} infinite value(s)")
    if column.values is not None:
        return pd.Series(_conform_discrete(numbers, column), name=column.name)
    outside = (numbers < column.min) | (numbers > column.max)
    if outside.any():
        logger.warning(
            "column %r: clipping %d value(s) outside the declared bounds [%s, %s]",
            column.name, int(outside.sum()), column.min, column.max,
        )
        numbers = np.clip(numbers, column.min, column.max)
    return pd.Series(numbers, name=column.name)


def _conform_discrete(numbers: np.ndarray, column: NumericColumn) -> np.ndarray:
    """A discrete column's values must be in its support (up to float noise); they are not clipped."""
    snapped = column.snap(numbers)
    present = ~np.isnan(numbers)
    off = present & ~np.isclose(numbers, snapped, rtol=1e-9, atol=1e-9)
    if off.any():
        shown = [float(v) for v in pd.unique(numbers[off])[:MAX_SHOWN]]
        raise TableError(
            f"column {column.name!r} holds {int(off.sum())} value(s) such as {shown} that are not among "
            f"its declared values {list(column.values)}"
        )
    return snapped


def _conform_categorical(values: pd.Series, column: CategoricalColumn) -> pd.Series:
    """Map raw values onto the declared categories, accepting '1' for 1 and 1.0 for 1."""
    lookup: dict[str, object] = {}
    for category in column.categories:
        lookup[str(category)] = category
        if isinstance(category, int):
            lookup[f"{category}.0"] = category
    present = values.notna()
    keys = values[present].astype(str).str.strip()
    mapped = keys.map(lookup)
    unknown = keys[mapped.isna()]
    if len(unknown):
        shown = list(unknown.unique()[:MAX_SHOWN])
        raise TableError(
            f"column {column.name!r} holds values {shown} that are not among its declared "
            f"categories {list(column.categories)}"
        )
    out = pd.Series([np.nan] * len(values), dtype=object, name=column.name)
    out[present.to_numpy()] = mapped.to_numpy()
    return out
