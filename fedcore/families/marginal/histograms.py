"""The marginal family's merged noisy setup histograms, read back for the researcher (one per column).

After the setup round the hub keeps the noisy 1-way counts in the model of round 0 (``rounds``) and
the cells they count in the domain (the encoder). Both are post-processing of the hospitals' DP
setup releases (DESIGN.md section 4), summed over every admitted hospital: nothing exact, nothing per
hospital. Counts may be negative (Gaussian noise); a reader clips them before normalising.
"""

from __future__ import annotations

import numpy as np

from fedcore.families.marginal import rounds
from fedcore.marginal import MarginalDomain
from fedcore.marginal.cells import ColumnCells


def setup_histograms(domain: MarginalDomain, setup_model: dict[str, np.ndarray]) -> list[dict]:
    """Per column with stored 1-way counts: its cells (labels, numeric edges) and noisy counts and std.

    A listed-values numeric column whose setup bins could not be split into cells has no stored
    1-way counts and is left out (as ``MarginalDomain.one_way_from_stats`` leaves it out).
    """
    one_way = rounds.one_way_from_tensors(domain, setup_model)
    out = []
    for column in domain.columns:
        if column.name not in one_way:
            continue
        counts, std = one_way[column.name]
        cells = slice(0, column.cells)
        missing = column.missing_code if column.has_missing_cell else None
        out.append({
            "column": column.name,
            "kind": column.kind,
            "labels": _labels(column),
            "edges": _edges(column),
            "counts": [float(c) for c in counts[cells]],
            "noise_std": [float(s) for s in std[cells]],
            "missing": None if missing is None else float(counts[missing]),
        })
    return out


def _edges(column: ColumnCells) -> list[float] | None:
    if column.kind != "numeric":
        return None
    fine = column.fine_edges()
    return [float(fine[c]) for c in column.cuts]


def _labels(column: ColumnCells) -> list[str]:
    if column.kind != "numeric":
        return [str(v) for v in column.values]
    edges = _edges(column)
    return [f"{low:g}–{high:g}" for low, high in zip(edges[:-1], edges[1:])]
