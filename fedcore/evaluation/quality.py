"""Statistical fidelity: SDMetrics' quality report (column shapes and column pair trends).

Column shapes averages, per column, KSComplement (numeric) or TVComplement (categorical);
column pair trends averages, per pair, correlation similarity (numeric-numeric) or
contingency similarity (other pairs). Both lie in [0, 1], 1 meaning identical.
Source: SDMetrics 0.32, https://docs.sdv.dev/sdmetrics/reports/quality-report. SDMetrics
drops missing values before scoring, so missingness itself is not scored here.

Since 0.32 the pair-trends average counts only pairs related in the real data (|correlation|
above 0.5, Cramer's V above 0.3): independent pairs would otherwise pad the score, since a
generator that ignores every relationship still reproduces "no relationship". With no such
pair the score is undefined (None).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from fedcore.evaluation.category_rates import category_rates
from fedcore.evaluation.columns import category_labels, require_columns
from fedcore.schema import CategoricalColumn, Schema

logger = logging.getLogger(__name__)

# SDMetrics subsamples tables above 50,000 rows with the global RNG; we subsample first,
# with the seed, so its own subsampling never triggers and scores are reproducible.
MAX_ROWS = 50_000
# SDMetrics 0.32's defaults, pinned here so an upgrade cannot silently change our numbers.
REAL_CORRELATION_THRESHOLD = 0.5  # |Pearson| a numeric pair needs in the real data to count
REAL_ASSOCIATION_THRESHOLD = 0.3  # Cramer's V any other pair needs in the real data to count


def sdmetrics_metadata(schema: Schema) -> dict:
    """SDMetrics single-table metadata in the unified (``tables``) form."""
    columns = {
        c.name: {"sdtype": "categorical" if isinstance(c, CategoricalColumn) else "numerical"}
        for c in schema.columns
    }
    return {"tables": {schema.name: {"columns": columns}}}


def sdmetrics_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Schema columns only; numerics as float, categoricals as their category's string."""
    out = {}
    for column in schema.columns:
        values = frame[column.name]
        if isinstance(column, CategoricalColumn):
            out[column.name] = category_labels(values, column).to_numpy()
        else:
            out[column.name] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _subsample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    rows = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def _error_notes(details: pd.DataFrame) -> list[str]:
    """SDMetrics records a failed column or pair as a NaN score with an ``Error`` text."""
    if "Error" not in details.columns:
        return []
    failed = details[details["Error"].notna()]
    if "Column" in failed.columns:
        names = failed["Column"].astype(str)
    else:
        names = failed["Column 1"].astype(str) + "/" + failed["Column 2"].astype(str)
    return [f"{name}: {error}" for name, error in zip(names, failed["Error"])]


def _float_or_none(value: float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def quality_scores(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    *,
    seed: int | np.random.Generator = 0,
    max_rows: int = MAX_ROWS,
    rates_reference: pd.DataFrame | None = None,
) -> dict:
    """Column-shape and column-pair-trend scores of ``synthetic`` against ``real``.

    Returns ``column_shapes`` and ``column_pair_trends`` (floats in [0, 1], or None when
    undefined), ``per_column`` (name -> {metric, score}), how many pairs the pair-trends
    average counts, ``warnings`` (what SDMetrics could not score) and ``category_rates`` (see
    :func:`~fedcore.evaluation.category_rates.category_rates`), measured against
    ``rates_reference`` (the training rows, whose rates the target is stated on) when given,
    else against ``real``.
    """
    require_columns(real, schema, "real")
    require_columns(synthetic, schema, "synthetic")
    if real.empty or synthetic.empty:
        raise ValueError("quality needs at least one real and one synthetic row")
    # Imported here: SDMetrics pulls in plotly and takes seconds to import.
    from sdmetrics.reports import QualityReport

    rng = np.random.default_rng(seed)
    real_sd = _subsample(sdmetrics_frame(real, schema), max_rows, rng)
    synthetic_sd = _subsample(sdmetrics_frame(synthetic, schema), max_rows, rng)
    report = QualityReport()
    report.real_correlation_threshold = REAL_CORRELATION_THRESHOLD
    report.real_association_threshold = REAL_ASSOCIATION_THRESHOLD
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report.generate(
            {schema.name: real_sd}, {schema.name: synthetic_sd}, sdmetrics_metadata(schema), verbose=False
        )
    notes = sorted({str(w.message) for w in caught})
    for note in notes:
        logger.debug("SDMetrics warning: %s", note)

    properties = report.get_properties().set_index("Property")["Score"]
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    notes += _error_notes(shapes) + _error_notes(pairs)
    if "Meets Threshold?" in pairs.columns:
        counted = pairs["Meets Threshold?"].astype("boolean").fillna(False) & pairs["Score"].notna()
    else:  # a one-column table has no pairs
        counted = pd.Series([], dtype=bool)
    if not counted.any():
        notes.append("no column pair is related in the real data; column pair trends is undefined")
    per_column = {
        str(row["Column"]): {"metric": str(row["Metric"]), "score": _float_or_none(row["Score"])}
        for _, row in shapes.iterrows()
    }
    result = {
        "column_shapes": _float_or_none(properties["Column Shapes"]),
        "column_pair_trends": _float_or_none(properties["Column Pair Trends"]),
        "per_column": per_column,
        "pairs_scored": int(counted.sum()),
        "pairs_total": len(pairs),
        "rows_real": len(real_sd),
        "rows_synthetic": len(synthetic_sd),
        "warnings": notes,
        "category_rates": category_rates(real if rates_reference is None else rates_reference, synthetic, schema),
    }
    logger.info(
        "quality: column shapes %s, column pair trends %s",
        result["column_shapes"], result["column_pair_trends"],
    )
    return result
