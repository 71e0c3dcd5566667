"""The global preprocessor: one feature space for every hospital, built from merged DP stats.

Numeric columns go through a scikit-learn ``QuantileTransformer`` (normal output) whose
quantiles are read off the merged, noisy histogram instead of raw rows, or a
``StandardScaler`` whose mean and scale come from the same histogram. Missing numeric values
become an extra 0/1 categorical feature (and are imputed at the median); a categorical
column with missing values gets an extra "missing" category. Whether a column has missing
values is decided from the noisy missing count (above three noise std), so the decision
itself is DP post-processing. A discrete numeric column (declared ``values``) decodes only to
its allowed values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.preprocessing import QuantileTransformer, StandardScaler

from fedcore.preprocessing.encoded import EncodedTable, TabularLayout
from fedcore.preprocessing.table_stats import TableStats, bin_edges
from fedcore.schema import NumericColumn, Schema

logger = logging.getLogger(__name__)

NumericTransform = Literal["quantile", "standard"]
QUANTILE_POINTS = 257  # points on each column's estimated quantile function
PSEUDOCOUNT_SHARE = 0.02  # prior mass spread uniformly over the bins, keeps the CDF strictly increasing
DISCRETE_U_FLOOR = 1e-7  # CDF clip before the normal score, as QuantileTransformer clips (|z| <= 5.2)
MISSING_THRESHOLD_STD = 3.0  # a noisy missing count above this many noise std means "has missing values"


@dataclass(frozen=True)
class GlobalPreprocessor:
    schema: Schema
    numeric_transform: NumericTransform
    quantiles: np.ndarray  # (QUANTILE_POINTS, Dn) quantile function per numeric column
    means: np.ndarray  # (Dn,) histogram mean per numeric column
    scales: np.ndarray  # (Dn,) histogram std per numeric column
    numeric_with_missing: tuple[str, ...]  # numeric columns that get a missing indicator
    categorical_with_missing: tuple[str, ...]  # categorical columns that get a missing category
    categorical_modes: tuple[int, ...]  # most frequent category index per categorical column

    @property
    def layout(self) -> TabularLayout:
        cards = [
            len(c.categories) + (c.name in self.categorical_with_missing) for c in self.schema.categorical_columns
        ]
        cards += [2] * len(self.numeric_with_missing)
        return TabularLayout(num_features=len(self.schema.numeric_columns), cat_cardinalities=tuple(cards))

    # -- transforms -------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame) -> EncodedTable:
        """Encode a conformed table (see :func:`fedcore.table.conform_table`)."""
        numeric_cols = self.schema.numeric_columns
        n = len(frame)
        num = np.zeros((n, len(numeric_cols)), dtype=np.float32)
        if numeric_cols:
            raw = frame[[c.name for c in numeric_cols]].to_numpy(dtype=float)
            missing = np.isnan(raw)
            medians = self.quantiles[QUANTILE_POINTS // 2]
            filled = np.where(missing, medians, raw)
            num = self._numeric_transformer().transform(filled)
            for j, column in self._discrete_quantile_columns():
                num[:, j] = self._discrete_z(j, column)[self._support_index(column, filled[:, j])]
            num = num.astype(np.float32)
        cat_parts = []
        for column in self.schema.categorical_columns:
            index = {category: i for i, category in enumerate(column.categories)}
            missing_code = len(column.categories)
            values = frame[column.name]
            if column.name not in self.categorical_with_missing:
                missing_code = self.categorical_modes[len(cat_parts)]
                _warn_undeclared_missing(column.name, int(values.isna().sum()))
            codes = values.map(lambda v: missing_code if pd.isna(v) else index[v]).to_numpy(np.int64)
            cat_parts.append(codes)
        for name in self.numeric_with_missing:
            cat_parts.append(frame[name].isna().to_numpy().astype(np.int64))
        for column in numeric_cols:
            if column.name not in self.numeric_with_missing:
                _warn_undeclared_missing(column.name, int(frame[column.name].isna().sum()))
        cat = np.stack(cat_parts, axis=1) if cat_parts else np.zeros((n, 0), dtype=np.int64)
        return EncodedTable(num=num, cat=cat)

    def inverse_transform(self, encoded: EncodedTable) -> pd.DataFrame:
        """Decode to the schema's columns: bounds clipped, discrete columns snapped to their values,
        integers rounded, missing values restored."""
        n = len(encoded)
        out: dict[str, object] = {}
        numeric_cols = self.schema.numeric_columns
        if numeric_cols:
            z = np.asarray(encoded.num, dtype=float)
            values = self._numeric_transformer().inverse_transform(z)
            for j, column in self._discrete_quantile_columns():
                values[:, j] = self._discrete_decode(j, column, z[:, j])
            for j, column in enumerate(numeric_cols):
                col = np.clip(values[:, j], column.min, column.max)
                if column.values is not None:
                    col = column.snap(col)  # a discrete column's values come from its support
                out[column.name] = np.round(col) if column.integer else col
        categorical = self.schema.categorical_columns
        for j, column in enumerate(categorical):
            codes = encoded.cat[:, j]
            lookup = np.array(list(column.categories) + [np.nan], dtype=object)
            out[column.name] = lookup[np.clip(codes, 0, len(column.categories))]
        for k, name in enumerate(self.numeric_with_missing):
            flag = encoded.cat[:, len(categorical) + k] == 1
            out[name] = np.where(flag, np.nan, out[name])
        frame = pd.DataFrame(out, index=pd.RangeIndex(n))
        return frame[self.schema.names]

    def conditions_to_indices(self, conditions: dict[str, object]) -> dict[int, int]:
        """Map {column: value} to {categorical feature index: category index} for sampling."""
        indices: dict[int, int] = {}
        categorical = self.schema.categorical_columns
        positions = {c.name: j for j, c in enumerate(categorical)}
        for name, value in conditions.items():
            if name not in positions:
                raise ValueError(
                    f"cannot condition on {name!r}: only categorical columns can be fixed "
                    f"({sorted(positions)})"
                )
            column = categorical[positions[name]]
            matches = [i for i, c in enumerate(column.categories) if str(c) == str(value)]
            if not matches:
                raise ValueError(f"{value!r} is not a category of {name!r}; categories are {list(column.categories)}")
            indices[positions[name]] = matches[0]
        return indices

    # -- discrete numeric columns under the quantile transform --------------------------------
    # Each allowed value owns the probability between the CDF at its midpoints with its
    # neighbours; it is encoded at the middle of that stretch and decoded by the stretch a
    # generated z falls in. (The plain quantile map would put a value lying on a bin edge right
    # at the boundary with its lower neighbour, so tiny generation errors would flip it.)
    def _discrete_quantile_columns(self) -> list[tuple[int, NumericColumn]]:
        if self.numeric_transform != "quantile":
            return []  # the standard transform is affine: snapping to the nearest value suffices
        return [(j, c) for j, c in enumerate(self.schema.numeric_columns) if c.values is not None]

    def _discrete_cuts(self, j: int, column: NumericColumn) -> np.ndarray:
        """(K - 1,) CDF at the midpoints between consecutive allowed values."""
        support = np.asarray(column.values)
        midpoints = (support[1:] + support[:-1]) / 2
        return np.interp(midpoints, self.quantiles[:, j], np.linspace(0.0, 1.0, QUANTILE_POINTS))

    def _discrete_z(self, j: int, column: NumericColumn) -> np.ndarray:
        """(K,) the normal score of the middle of each allowed value's probability stretch."""
        cuts = self._discrete_cuts(j, column)
        middle = (np.concatenate([[0.0], cuts]) + np.concatenate([cuts, [1.0]])) / 2
        return norm.ppf(np.clip(middle, DISCRETE_U_FLOOR, 1.0 - DISCRETE_U_FLOOR))

    def _discrete_decode(self, j: int, column: NumericColumn, z: np.ndarray) -> np.ndarray:
        cuts = self._discrete_cuts(j, column)
        return np.asarray(column.values)[np.searchsorted(cuts, norm.cdf(z), side="right")]

    @staticmethod
    def _support_index(column: NumericColumn, x: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.asarray(column.values), column.snap(x))

    def _numeric_transformer(self):
        dn = len(self.schema.numeric_columns)
        if self.numeric_transform == "quantile":
            qt = QuantileTransformer(n_quantiles=QUANTILE_POINTS, output_distribution="normal")
            qt.n_quantiles_ = QUANTILE_POINTS
            qt.references_ = np.linspace(0.0, 1.0, QUANTILE_POINTS)
            qt.quantiles_ = self.quantiles
            qt.n_features_in_ = dn
            return qt
        scaler = StandardScaler()
        scaler.mean_ = self.means
        scaler.scale_ = self.scales
        scaler.var_ = self.scales**2
        scaler.n_features_in_ = dn
        scaler.n_samples_seen_ = 1
        return scaler

    # -- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "schema": self.schema.to_dict(),
            "numeric_transform": self.numeric_transform,
            "quantiles": self.quantiles.tolist(),
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "numeric_with_missing": list(self.numeric_with_missing),
            "categorical_with_missing": list(self.categorical_with_missing),
            "categorical_modes": list(self.categorical_modes),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GlobalPreprocessor":
        schema = Schema.from_dict(data["schema"])
        dn = len(schema.numeric_columns)
        quantiles = np.asarray(data["quantiles"], dtype=float).reshape(QUANTILE_POINTS if dn else 0, dn)
        return cls(
            schema=schema,
            numeric_transform=data["numeric_transform"],
            quantiles=quantiles,
            means=np.asarray(data["means"], dtype=float),
            scales=np.asarray(data["scales"], dtype=float),
            numeric_with_missing=tuple(data["numeric_with_missing"]),
            categorical_with_missing=tuple(data["categorical_with_missing"]),
            categorical_modes=tuple(int(m) for m in data["categorical_modes"]),
        )


def build_preprocessor(
    schema: Schema, stats: TableStats, numeric_transform: NumericTransform = "quantile"
) -> GlobalPreprocessor:
    """Build the consortium's preprocessor from merged (noisy) statistics: DP post-processing."""
    if numeric_transform not in ("quantile", "standard"):
        raise ValueError("numeric_transform must be 'quantile' or 'standard'")
    stats.check_against(schema)
    threshold = max(0.5, MISSING_THRESHOLD_STD * stats.noise_std)
    numeric_cols = schema.numeric_columns
    quantiles = np.zeros((QUANTILE_POINTS, len(numeric_cols)))
    means = np.zeros(len(numeric_cols))
    scales = np.ones(len(numeric_cols))
    references = np.linspace(0.0, 1.0, QUANTILE_POINTS)
    for j, column in enumerate(numeric_cols):
        hist = np.clip(stats.counts[column.name][:-1], 0.0, None)
        total = hist.sum()
        hist = hist + PSEUDOCOUNT_SHARE * max(total, 1.0) / len(hist)
        edges = bin_edges(column, stats.bins)
        cdf = np.concatenate([[0.0], np.cumsum(hist) / hist.sum()])
        quantiles[:, j] = np.interp(references, cdf, edges)
        centers = (edges[:-1] + edges[1:]) / 2
        weights = hist / hist.sum()
        means[j] = float(np.sum(weights * centers))
        scales[j] = float(np.sqrt(np.sum(weights * (centers - means[j]) ** 2))) or 1.0
    numeric_missing = tuple(c.name for c in numeric_cols if stats.counts[c.name][-1] > threshold)
    categorical_missing = tuple(
        c.name for c in schema.categorical_columns if stats.counts[c.name][-1] > threshold
    )
    return GlobalPreprocessor(
        schema=schema,
        numeric_transform=numeric_transform,
        quantiles=quantiles,
        means=means,
        scales=scales,
        numeric_with_missing=numeric_missing,
        categorical_with_missing=categorical_missing,
        categorical_modes=tuple(int(np.argmax(stats.counts[c.name][:-1])) for c in schema.categorical_columns),
    )


def _warn_undeclared_missing(column: str, count: int) -> None:
    if count:
        logger.warning(
            "column %r: %d missing value(s) although the consortium's statistics showed none; "
            "imputing the consortium's typical value", column, count,
        )
