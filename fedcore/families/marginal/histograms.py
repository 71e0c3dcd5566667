"""The marginal family's merged noisy measurements, read back for the researcher: the setup histograms (one
per column) and the measured 2-way tables.

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
from fedcore.marginal.model import MEASURED_PREFIX

MEASURED_STD = MEASURED_PREFIX + "noise_std"  # no "|": never a pair's name


def measured_to_tensors(two_way: dict[tuple[str, ...], tuple[np.ndarray, float]]) -> dict[str, np.ndarray]:
    """The summed noisy 2-way tables the hub fits, as tensors to publish beside the model (one noise std)."""
    stds = {float(std) for _, std in two_way.values()}
    if len(stds) > 1:
        raise ValueError(f"the measured tables carry one noise std, got {sorted(stds)}")
    tensors = {MEASURED_PREFIX + "|".join(c): np.asarray(t, np.float64) for c, (t, _) in two_way.items()}
    return tensors | ({MEASURED_STD: np.array([stds.pop()])} if stds else {})


def measured_marginals(domain: MarginalDomain, model: dict[str, np.ndarray]) -> list[dict] | None:
    """The published 2-way tables with the cells' labels (missing cell last), or None when the model has none."""
    std = model.get(MEASURED_STD)
    out = []
    for name, table in model.items():
        if not name.startswith(MEASURED_PREFIX) or name == MEASURED_STD:
            continue
        clique = tuple(name[len(MEASURED_PREFIX):].split("|"))
        if np.shape(table) != domain.clique_shape(clique):
            raise ValueError(f"measured table {clique} does not fit the domain")
        out.append({"columns": list(clique), "labels": [_labels(domain.column(c), True) for c in clique],
                    "counts": np.asarray(table, np.float64).tolist(),
                    "noise_std": None if std is None else float(np.asarray(std)[0])})
    return out or None


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


def _labels(column: ColumnCells, with_missing: bool = False) -> list[str]:
    if column.kind != "numeric":
        labels = [str(v) for v in column.values]
    else:
        edges = _edges(column)
        labels = [f"{low:g}–{high:g}" for low, high in zip(edges[:-1], edges[1:])]
    return labels + ["missing"] if with_missing and column.has_missing_cell else labels
