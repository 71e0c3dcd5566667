"""One column's discrete cells: how its values encode to cell codes and decode back.

Three kinds: ``categorical`` (one cell per category), ``discrete`` (a numeric column with a
listed set of allowed values, one cell per value) and ``numeric`` (coarse cells that are runs
of the setup round's equal-width fine bins; see ``binning.py``). Any kind may have a last
cell for missing values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from fedcore.preprocessing.table_stats import bin_edges
from fedcore.schema import NumericColumn

KINDS = ("numeric", "discrete", "categorical")


@dataclass(frozen=True)
class ColumnCells:
    """The cells of one column. ``fallback`` is the cell a missing value encodes to when the
    column has no missing cell (its largest cell by noisy setup mass)."""

    name: str
    kind: str
    cells: int  # value cells, not counting the missing cell
    has_missing_cell: bool
    fallback: int
    values: tuple = ()  # categorical: the categories; discrete: the allowed numbers (one per cell)
    low: float = 0.0  # numeric/discrete: the schema's declared bounds
    high: float = 0.0
    integer: bool = False
    bins: int = 0  # numeric/discrete: the setup round's fine bins over [low, high]
    cuts: tuple[int, ...] = ()  # numeric: first fine bin of each coarse cell, then `bins`
    weights: tuple[float, ...] = ()  # numeric: decoding weight of each fine bin

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.cells < 1 or not 0 <= self.fallback < self.cells:
            raise ValueError(f"column {self.name!r}: needs at least one cell and a fallback among them")
        if self.kind != "numeric" and len(self.values) != self.cells:
            raise ValueError(f"column {self.name!r}: {self.cells} cells but {len(self.values)} values")
        if self.kind != "categorical" and not (self.low < self.high and self.bins >= 2):
            raise ValueError(f"column {self.name!r}: needs bounds low < high and at least 2 setup bins")
        if self.kind == "numeric":
            cuts = np.asarray(self.cuts)
            if len(cuts) != self.cells + 1 or cuts[0] != 0 or cuts[-1] != self.bins or np.any(np.diff(cuts) <= 0):
                raise ValueError(f"column {self.name!r}: cuts must rise from 0 to {self.bins}, one cell each")
            weights = np.asarray(self.weights, dtype=np.float64)
            if weights.shape != (self.bins,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError(f"column {self.name!r}: needs {self.bins} finite non-negative weights")

    @property
    def size(self) -> int:
        """Cells including the missing cell: the model variable's domain size."""
        return self.cells + int(self.has_missing_cell)

    @property
    def missing_code(self) -> int:
        return self.cells if self.has_missing_cell else self.fallback

    def with_fallback(self, fallback: int) -> "ColumnCells":
        return replace(self, fallback=fallback)

    def fine_edges(self) -> np.ndarray:
        """The setup round's bin edges (same function the spokes used)."""
        return bin_edges(NumericColumn(name=self.name, min=self.low, max=self.high), self.bins)

    def fine_cells(self, bins: int) -> int:
        return bins + 1 if self.kind != "categorical" else self.cells + 1

    def fine_bin(self, numbers: np.ndarray) -> np.ndarray:
        """Setup bin of each number, as np.histogram assigns it (last bin closed)."""
        return np.clip(np.searchsorted(self.fine_edges(), numbers, side="right") - 1, 0, self.bins - 1)

    def fine_groups(self, bins: int) -> list[np.ndarray] | None:
        """Setup cells summed into each of this column's cells (missing last), or None when a
        setup bin holds several listed values (its count cannot be split among them)."""
        if self.kind != "categorical" and bins != self.bins:
            raise ValueError(f"column {self.name!r}: the domain has {self.bins} setup bins, stats have {bins}")
        if self.kind == "categorical":
            groups = [np.array([i]) for i in range(self.cells)]
        elif self.kind == "numeric":
            groups = [np.arange(a, b) for a, b in zip(self.cuts[:-1], self.cuts[1:])]
        else:
            which = self.fine_bin(np.asarray(self.values, dtype=np.float64))
            if len(set(which.tolist())) != len(which):
                return None
            groups = [np.array([w]) for w in which]
        missing = np.array([self.fine_cells(bins) - 1])
        if self.has_missing_cell:
            return groups + [missing]
        groups[self.fallback] = np.concatenate([groups[self.fallback], missing])
        return groups

    def encode(self, values: pd.Series) -> np.ndarray:
        """Cell code of each value of a conformed column: (N,) int64."""
        missing = values.isna().to_numpy()
        codes = np.full(len(values), self.missing_code, dtype=np.int64)
        present = values[~missing]
        if self.kind == "categorical":
            index = {category: i for i, category in enumerate(self.values)}
            unknown = sorted({str(v) for v in present.unique() if v not in index})
            if unknown:
                raise ValueError(f"column {self.name!r} holds values {unknown[:5]} outside {list(self.values)}")
            codes[~missing] = present.map(index).to_numpy(dtype=np.int64)
            return codes
        numbers = pd.to_numeric(present, errors="raise").to_numpy(dtype=np.float64)
        if self.kind == "discrete":
            codes[~missing] = self._nearest_value(numbers)
        else:
            coarse_of_fine = np.repeat(np.arange(self.cells), np.diff(self.cuts))  # (bins,)
            codes[~missing] = coarse_of_fine[self.fine_bin(np.clip(numbers, self.low, self.high))]
        return codes

    def _nearest_value(self, numbers: np.ndarray) -> np.ndarray:
        allowed = np.asarray(self.values, dtype=np.float64)
        if len(allowed) == 1:
            return np.zeros(len(numbers), dtype=np.int64)
        order = np.argsort(allowed)
        ordered = allowed[order]
        right = np.clip(np.searchsorted(ordered, numbers), 1, len(ordered) - 1)
        closer_left = numbers - ordered[right - 1] <= ordered[right] - numbers
        return order[np.where(closer_left, right - 1, right)]

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values for cell codes: categories, listed values, or numbers spread within the cell
        by the noisy setup shape (uniform inside a fine bin); NaN for the missing cell."""
        codes = np.asarray(codes)
        if np.any((codes < 0) | (codes >= self.size)):
            raise ValueError(f"column {self.name!r}: cell codes must lie in [0, {self.size})")
        missing = codes == self.cells
        if self.kind == "categorical":
            out = np.empty(len(codes), dtype=object)
            out[:] = np.nan
            out[~missing] = np.asarray(self.values, dtype=object)[codes[~missing]]
            return out
        if self.kind == "discrete":
            out = np.full(len(codes), np.nan)
            out[~missing] = np.asarray(self.values, dtype=np.float64)[codes[~missing]]
            return out
        out = np.full(len(codes), np.nan)
        edges, weights = self.fine_edges(), np.asarray(self.weights)
        for cell in range(self.cells):
            rows = np.flatnonzero(codes == cell)
            if not len(rows):
                continue
            first, stop = self.cuts[cell], self.cuts[cell + 1]
            fine = first + rng.choice(stop - first, size=len(rows), p=self._cell_shape(weights, first, stop))
            out[rows] = self._uniform_in_bins(fine, edges, rng)
        present = ~np.isnan(out)
        out[present] = np.clip(out[present], self.low, self.high)
        return out

    def _uniform_in_bins(self, fine: np.ndarray, edges: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniform value in each given fine bin; for integer columns a uniform integer of the
        bin (bins are [a, b), the last [a, b]), so a decoded value encodes back to its cell."""
        low, high = edges[fine], edges[fine + 1]
        if not self.integer:
            return low + rng.random(len(fine)) * (high - low)
        first = np.ceil(low)
        last = np.where(fine == self.bins - 1, np.floor(high), np.ceil(high) - 1)
        has_integer = last >= first
        drawn = first + np.floor(rng.random(len(fine)) * (last - first + 1))
        return np.where(has_integer, drawn, np.round(low + rng.random(len(fine)) * (high - low)))

    @staticmethod
    def _cell_shape(weights: np.ndarray, first: int, stop: int) -> np.ndarray:
        """Probabilities of the fine bins first..stop-1 within their coarse cell: by weight; with
        no weight in the cell, all on its bin nearest a weighted bin (uniform if none is)."""
        w = weights[first:stop]
        if w.sum() > 0:
            return w / w.sum()
        p = np.zeros(stop - first)
        support = np.flatnonzero(weights > 0)
        if not len(support):
            return np.full(stop - first, 1.0 / (stop - first))
        distance = np.abs(np.arange(first, stop)[:, None] - support[None, :]).min(axis=1)
        p[np.argmin(distance)] = 1.0
        return p

    def to_dict(self) -> dict:
        data = asdict(self)
        data["values"] = [v.item() if isinstance(v, np.generic) else v for v in self.values]
        data["cuts"], data["weights"] = list(self.cuts), list(self.weights)
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "ColumnCells":
        fields = set(cls.__dataclass_fields__)
        if not isinstance(data, Mapping) or set(data) != fields:
            raise ValueError(f"a column's cells need exactly the keys {sorted(fields)}")
        return cls(**{
            **data,
            "values": tuple(data["values"]),
            "cuts": tuple(int(c) for c in data["cuts"]),
            "weights": tuple(float(w) for w in data["weights"]),
        })
