"""The discrete domain of the marginal model: which cell each column value falls in.

MST (McKenna, Miklau & Sheldon 2021, "Winning the NIST Contest") and FLAIM (Maddock et al.
2023) model discrete attributes, so numeric columns are binned first. Here the bins are
chosen from the schema and the hub's merged noisy setup statistics only (round 0, DESIGN.md
section 4): post-processing of DP releases, no access to any row. A numeric column's cells
are unions of adjacent setup bins of roughly equal noisy mass (like MST's domain compression,
which merges cells whose noisy 1-way count is below 3 sd); each cell keeps the (denoised)
noisy setup shape within it, so decoding spreads values by that shape, not at bin centres.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fedcore.marginal.binning import coarse_cuts, decoding_weights
from fedcore.marginal.cells import ColumnCells
from fedcore.preprocessing.table_stats import TableStats
from fedcore.schema import CategoricalColumn, Schema

DEFAULT_MAX_CELLS = 10  # coarse cells per binned numeric column; more cells = more noise per cell
# A missing cell is kept only if its noisy count exceeds this many noise sd: a cell that is
# indistinguishable from empty would add pure-noise cells to every 2-way table it is in, and
# decoding would emit spurious missing values. Without one, missing values encode to the
# column's largest cell (a fixed rule, so each row still touches one cell per column).
MISSING_SD = 3.0


@dataclass(frozen=True)
class MarginalDomain:
    """Per schema column, its discrete cells; the model's variables, in schema order."""

    columns: tuple[ColumnCells, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a marginal domain needs unique, non-empty column names, got {names}")
        piped = [n for n in names if "|" in n]
        if piped:
            raise ValueError(f"columns {piped}: '|' separates names in a clique and cannot be in a name")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(c.size for c in self.columns)

    def column(self, name: str) -> ColumnCells:
        for column in self.columns:
            if column.name == name:
                return column
        raise ValueError(f"no column named {name!r} in the marginal domain; columns are {self.names}")

    def clique_shape(self, clique: tuple[str, ...]) -> tuple[int, ...]:
        """Shape of the count table of ``clique`` (raises ValueError on unknown/repeated columns)."""
        if len(set(clique)) != len(clique) or not clique:
            raise ValueError(f"a clique needs distinct columns, got {clique}")
        return tuple(self.column(name).size for name in clique)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Cell codes of a conformed table: (N, d) int64, columns in domain order."""
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            raise ValueError(f"the table lacks domain columns {missing}")
        codes = [column.encode(frame[column.name]) for column in self.columns]
        return np.stack(codes, axis=1) if len(frame) else np.zeros((0, len(self.columns)), np.int64)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Rows from cell codes (N, d): values spread within cells by the setup shape, in bounds."""
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(self.columns):
            raise ValueError(f"codes must have shape (rows, {len(self.columns)}), got {codes.shape}")
        out = {column.name: column.decode(codes[:, i], rng) for i, column in enumerate(self.columns)}
        return pd.DataFrame(out, index=pd.RangeIndex(len(codes)))

    def one_way_from_stats(self, merged_stats: TableStats) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """1-way measurements reused from the setup round: column -> (counts, std), per cell.

        Fine setup cells are summed into this domain's cells, so the std of a cell is the
        setup noise std times sqrt(fine cells summed); no new privacy cost. A listed-values
        numeric column whose setup bins hold several values cannot be split and is left out
        (the model learns its marginal from the 2-way tables it is in).
        """
        out = {}
        for column in self.columns:
            if column.name not in merged_stats.counts:
                raise ValueError(f"setup statistics lack column {column.name!r}")
            groups = column.fine_groups(merged_stats.bins)
            if groups is None:
                continue
            fine = np.asarray(merged_stats.counts[column.name], dtype=np.float64)
            if len(fine) != column.fine_cells(merged_stats.bins):
                raise ValueError(f"setup statistics for {column.name!r} have {len(fine)} cells, not the domain's")
            counts = np.array([fine[g].sum() for g in groups])
            std = merged_stats.noise_std * np.sqrt([len(g) for g in groups])
            out[column.name] = (counts, std)
        return out

    def to_dict(self) -> dict:
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping) -> "MarginalDomain":
        if not isinstance(data, Mapping) or set(data) != {"columns"}:
            raise ValueError("a marginal domain dict holds exactly one key, 'columns'")
        return cls(tuple(ColumnCells.from_dict(c) for c in data["columns"]))


def build_domain(schema: Schema, merged_stats: TableStats, max_cells: int = DEFAULT_MAX_CELLS) -> MarginalDomain:
    """The model's domain from the schema and the hub's merged noisy setup statistics only."""
    if max_cells < 2:
        raise ValueError("max_cells must be at least 2")
    merged_stats.check_against(schema)
    return MarginalDomain(tuple(_column_cells(c, merged_stats, max_cells) for c in schema.columns))


def _column_cells(column, stats: TableStats, max_cells: int) -> ColumnCells:
    fine = np.asarray(stats.counts[column.name], dtype=np.float64)  # (cells + 1,), missing last
    has_missing = bool(fine[-1] > MISSING_SD * stats.noise_std)
    if isinstance(column, CategoricalColumn):
        return ColumnCells(
            name=column.name, kind="categorical", cells=len(column.categories), has_missing_cell=has_missing,
            fallback=int(np.argmax(fine[:-1])), values=tuple(column.categories),
        )
    bounds = dict(low=float(column.min), high=float(column.max), integer=column.integer, bins=stats.bins)
    listed = getattr(column, "values", None)
    if listed is not None:
        cells = ColumnCells(
            name=column.name, kind="discrete", cells=len(listed), has_missing_cell=has_missing,
            fallback=0, values=tuple(float(v) for v in listed), **bounds,
        )
        # Fallback: the listed value with the most noisy setup mass (a bin's mass shared by its values).
        which = cells.fine_bin(np.asarray(cells.values))
        shared = np.bincount(which, minlength=stats.bins)[which]
        return cells.with_fallback(int(np.argmax(fine[which].clip(0) / shared)))
    cuts = coarse_cuts(fine[:-1], stats.noise_std, max_cells)
    mass = [fine[a:b].clip(0).sum() for a, b in zip(cuts[:-1], cuts[1:])]
    return ColumnCells(
        name=column.name, kind="numeric", cells=len(cuts) - 1, has_missing_cell=has_missing,
        fallback=int(np.argmax(mass)), cuts=cuts, weights=decoding_weights(fine[:-1], stats.noise_std),
        **bounds,
    )
