"""DP statistics a hospital releases in the setup round (DESIGN.md section 4).

Each hospital counts, per column, how many rows fall in each cell: equal-width bins over
the schema's declared bounds for numeric columns, one cell per category for categorical
columns, and a last cell for missing values. Adding or removing one patient changes exactly
one cell per column by one, so the L2 sensitivity of the whole release is sqrt(columns).
Gaussian noise of std ``noise_multiplier * sqrt(columns)`` on every cell makes the release
(epsilon, delta)-DP; its cost is accounted as one full-batch Gaussian step,
``StepRecord(noise_multiplier, sample_rate=1.0, steps=1)`` (the Gaussian mechanism,
Dwork & Roth 2014, Thm A.1; composed with training through the same RDP/PRV accountant).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedcore.schema import NumericColumn, Schema

DEFAULT_BINS = 32  # numeric histogram resolution; more bins = more noise per bin under DP


@dataclass(frozen=True)
class TableStats:
    """Per-column cell counts (noisy under DP) and the noise std that was added per cell."""

    counts: dict[str, np.ndarray]  # column -> (cells,) float64; last cell counts missing values
    noise_std: float  # std of the Gaussian noise on every cell (0.0 without DP)
    bins: int

    def to_tensors(self) -> dict[str, np.ndarray]:
        """Named-tensor form, so stats travel sealed like any model update."""
        tensors = {f"counts/{name}": np.asarray(c, dtype=np.float64) for name, c in self.counts.items()}
        tensors["noise_std"] = np.array([self.noise_std], dtype=np.float64)
        tensors["bins"] = np.array([self.bins], dtype=np.int64)
        return tensors

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], schema: Schema) -> "TableStats":
        counts = {}
        for column in schema.columns:
            key = f"counts/{column.name}"
            if key not in tensors:
                raise ValueError(f"setup statistics lack column {column.name!r}")
            counts[column.name] = np.asarray(tensors[key], dtype=np.float64)
        stats = cls(counts=counts, noise_std=float(tensors["noise_std"][0]), bins=int(tensors["bins"][0]))
        stats.check_against(schema)
        return stats

    def check_against(self, schema: Schema) -> None:
        for column in schema.columns:
            expected = cell_count(column, self.bins)
            got = self.counts[column.name]
            if got.shape != (expected,) or not np.all(np.isfinite(got)):
                raise ValueError(f"setup statistics for {column.name!r} must be {expected} finite counts")


def cell_count(column, bins: int) -> int:
    if isinstance(column, NumericColumn):
        return bins + 1
    return len(column.categories) + 1


def bin_edges(column: NumericColumn, bins: int) -> np.ndarray:
    return np.linspace(column.min, column.max, bins + 1)


def compute_table_stats(
    frame: pd.DataFrame,
    schema: Schema,
    noise_multiplier: float | None,
    rng: np.random.Generator,
    bins: int = DEFAULT_BINS,
) -> TableStats:
    """Count cells for every column of a conformed table; add Gaussian noise when DP is on.

    ``noise_multiplier`` None (or 0) releases exact counts: only for runs without DP.
    """
    if bins < 2:
        raise ValueError("bins must be at least 2")
    counts: dict[str, np.ndarray] = {}
    for column in schema.columns:
        values = frame[column.name]
        cells = np.zeros(cell_count(column, bins))
        missing = values.isna().to_numpy()
        cells[-1] = missing.sum()
        present = values[~missing]
        if isinstance(column, NumericColumn):
            edges = bin_edges(column, bins)
            hist, _ = np.histogram(np.clip(present.to_numpy(float), column.min, column.max), bins=edges)
            cells[:-1] = hist
        else:
            index = {category: i for i, category in enumerate(column.categories)}
            for value, n in present.value_counts().items():
                cells[index[value]] += n
        counts[column.name] = cells
    noise_std = 0.0
    if noise_multiplier:
        if noise_multiplier < 0:
            raise ValueError("noise_multiplier must be positive")
        noise_std = float(noise_multiplier * np.sqrt(len(schema.columns)))
        counts = {name: c + rng.normal(0.0, noise_std, size=c.shape) for name, c in counts.items()}
    return TableStats(counts=counts, noise_std=noise_std, bins=bins)


def merge_table_stats(parts: list[TableStats]) -> TableStats:
    """Sum hospitals' counts; the noise std of the sum adds in quadrature."""
    if not parts:
        raise ValueError("cannot merge zero sets of statistics")
    bins = {p.bins for p in parts}
    if len(bins) != 1:
        raise ValueError(f"hospitals used different bin counts: {sorted(bins)}")
    names = set(parts[0].counts)
    for part in parts[1:]:
        if set(part.counts) != names:
            raise ValueError("hospitals sent statistics for different columns")
    counts = {name: np.sum([p.counts[name] for p in parts], axis=0) for name in parts[0].counts}
    noise_std = float(np.sqrt(sum(p.noise_std**2 for p in parts)))
    return TableStats(counts=counts, noise_std=noise_std, bins=parts[0].bins)
