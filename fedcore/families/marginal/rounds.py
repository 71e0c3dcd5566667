"""The marginal family's global state between rounds, as named tensors.

After setup: the noisy 1-way counts and their per-cell noise std (from the setup release).
After selection: the same, plus the selected cliques (column indices). After measurement:
the fitted model's potentials. Tensors are named by column index, never by column name.
"""

from __future__ import annotations

import numpy as np

from fedcore.marginal import MarginalDomain


def one_way_to_tensors(domain: MarginalDomain, one_way: dict) -> dict[str, np.ndarray]:
    out = {}
    for i, name in enumerate(domain.names):
        if name in one_way:
            counts, std = one_way[name]
            out[f"one_way/{i}"] = np.asarray(counts, np.float64)
            out[f"one_way_std/{i}"] = np.broadcast_to(np.asarray(std, np.float64), np.shape(counts)).copy()
    return out


def one_way_from_tensors(domain: MarginalDomain, tensors: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for i, name in enumerate(domain.names):
        if f"one_way/{i}" in tensors:
            counts = np.asarray(tensors[f"one_way/{i}"], np.float64)
            if counts.shape != (domain.column(name).size,):
                raise ValueError(f"1-way counts of {name!r} have shape {counts.shape}, not the domain's")
            out[name] = (counts, np.asarray(tensors[f"one_way_std/{i}"], np.float64))
    return out


def cliques_to_tensor(domain: MarginalDomain, cliques: list[tuple[str, ...]]) -> np.ndarray:
    index = {name: i for i, name in enumerate(domain.names)}
    return np.array([[index[c] for c in clique] for clique in cliques], dtype=np.int64).reshape(len(cliques), 2)


def cliques_from_tensor(domain: MarginalDomain, table: np.ndarray) -> list[tuple[str, ...]]:
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[1] != 2 or table.min(initial=0) < 0 or table.max(initial=0) >= len(domain.names):
        raise ValueError(f"selected cliques must be a (k, 2) table of column indices, got shape {table.shape}")
    return [tuple(domain.names[int(i)] for i in row) for row in table]
