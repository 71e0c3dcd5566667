"""Exact evaluation counts from one hospital's predictions, with the L2 sensitivity of each release.

A hospital turns its validation rows into count arrays; the caller adds Gaussian noise scaled to the
sensitivity here, the hub sums the arrays over hospitals and reads metrics off them
(``from_counts``). Counts are float64 so noisy and exact arrays have one type.
"""

from __future__ import annotations

import math

import numpy as np

PAIR_BLOCK = 256  # rows i per block of the O(N^2) pair count: bounds memory at PAIR_BLOCK * N booleans


def score_bin(p: np.ndarray, bins: int) -> np.ndarray:
    """Bin index ``min(floor(p * bins), bins - 1)`` of probabilities clipped to [0, 1]."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    clipped = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return np.minimum(np.floor(clipped * bins).astype(np.int64), bins - 1)


def _check_groups(groups: dict[str, np.ndarray], group_sizes: dict[str, int], n: int) -> dict[str, np.ndarray]:
    checked = {}
    for attr, index in groups.items():
        if attr not in group_sizes:
            raise ValueError(f"group_sizes has no entry for attribute {attr!r}")
        index = np.asarray(index)
        if index.shape != (n,) or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"groups[{attr!r}] must be an integer array of shape ({n},)")
        if n and (index.min() < 0 or index.max() >= group_sizes[attr]):
            raise ValueError(f"groups[{attr!r}] has an index outside [0, {group_sizes[attr]})")
        checked[attr] = index.astype(np.int64)
    return checked


def classification_counts(
    probs: np.ndarray,
    labels: np.ndarray,
    groups: dict[str, np.ndarray],
    group_sizes: dict[str, int],
    bins: int,
) -> dict[str, np.ndarray]:
    """Score histograms, the confusion matrix and one confusion matrix per group of each attribute.

    ``scores[k, int(label == k), score_bin(probs[:, k])]`` is the one-vs-rest score histogram of class k
    (AUC, calibration); ``confusion[true, argmax]``; ``group_confusion/<attr>[group, true, argmax]``.
    """
    probs = np.asarray(probs, dtype=np.float64)  # (N, K)
    labels = np.asarray(labels)  # (N,)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError("probs must have shape (N, K) with K >= 2")
    n, k = probs.shape
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an integer array of shape ({n},)")
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k})")
    groups = _check_groups(groups, group_sizes, n)
    labels = labels.astype(np.int64)

    classes = np.arange(k)  # (K,)
    is_label = (labels[:, None] == classes[None, :]).astype(np.int64)  # (N, K)
    cell = (classes[None, :] * 2 + is_label) * bins + score_bin(probs, bins)  # (N, K) flat index into (K, 2, B)
    scores = np.bincount(cell.ravel(), minlength=k * 2 * bins).astype(np.float64).reshape(k, 2, bins)

    predicted = np.argmax(probs, axis=1)  # (N,)
    pair = labels * k + predicted  # (N,) flat index into (K, K)
    counts = {
        "scores": scores,  # (K, 2, B)
        "confusion": np.bincount(pair, minlength=k * k).astype(np.float64).reshape(k, k),  # (K, K)
    }
    for attr, index in groups.items():
        size = group_sizes[attr]
        flat = np.bincount(index * k * k + pair, minlength=size * k * k).astype(np.float64)
        counts[f"group_confusion/{attr}"] = flat.reshape(size, k, k)  # (G, K, K)
    return counts


def classification_sensitivity(k: int, attributes: int) -> float:
    """L2 sensitivity of ``classification_counts`` to adding or removing one row."""
    # One row adds exactly one to K distinct cells of "scores" (one per class slice k), one to
    # "confusion" and one to each attribute's group confusion, and nothing else: K + 1 + attributes
    # ones in distinct cells, so the L2 norm of the change is sqrt(K + 1 + attributes).
    return math.sqrt(k + 1 + attributes)


def _check_survival(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, ...]:
    risk = np.asarray(risk, dtype=np.float64)  # (N,)
    time = np.asarray(time, dtype=np.float64)  # (N,)
    event = np.asarray(event)  # (N,)
    if risk.ndim != 1 or time.shape != risk.shape or event.shape != risk.shape:
        raise ValueError("risk, time and event must be 1-D arrays of one length")
    if event.dtype != np.bool_:
        raise ValueError("event must be a boolean array")
    return risk, time, event


def _pair_blocks(risk: np.ndarray, time: np.ndarray, event: np.ndarray):
    """Yield (rows, outcome) per block of rows i: outcome[i, j] in {0 concordant, 1 discordant, 2 tied, -1 none}."""
    n = risk.shape[0]
    for start in range(0, n, PAIR_BLOCK):
        rows = np.arange(start, min(start + PAIR_BLOCK, n))  # (R,)
        # Comparable: i has the event and leaves strictly before j (Harrell). Equal times are not compared.
        comparable = (time[rows, None] < time[None, :]) & event[rows, None]  # (R, N)
        outcome = np.where(risk[rows, None] > risk[None, :], 0, np.where(risk[rows, None] < risk[None, :], 1, 2))
        yield rows, np.where(comparable, outcome, -1)  # (R,), (R, N)


def concordance_counts(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """[concordant, discordant, tied risk] over comparable pairs: time_i < time_j and event_i (Harrell 1982).

    Concordant: the row that failed first has the higher risk.
    """
    risk, time, event = _check_survival(risk, time, event)
    pairs = np.zeros(3)  # (3,)
    for _, outcome in _pair_blocks(risk, time, event):
        pairs += np.bincount(outcome[outcome >= 0], minlength=3)
    return pairs


def survival_counts(
    risk: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    groups: dict[str, np.ndarray],
    group_sizes: dict[str, int],
) -> dict[str, np.ndarray]:
    """Concordance counts overall (``pairs``) and within each group of each attribute (``group_pairs/<attr>``).

    A group's counts take only the pairs whose two rows are both in that group.
    """
    risk, time, event = _check_survival(risk, time, event)
    groups = _check_groups(groups, group_sizes, risk.shape[0])
    pairs = np.zeros(3)  # (3,)
    group_pairs = {attr: np.zeros((group_sizes[attr], 3)) for attr in groups}  # each (G, 3)
    for rows, outcome in _pair_blocks(risk, time, event):
        pairs += np.bincount(outcome[outcome >= 0], minlength=3)
        for attr, index in groups.items():
            same = index[rows, None] == index[None, :]  # (R, N)
            kept = (outcome >= 0) & same  # (R, N)
            cell = np.broadcast_to(index[rows, None], outcome.shape)[kept] * 3 + outcome[kept]
            group_pairs[attr] += np.bincount(cell, minlength=group_sizes[attr] * 3).reshape(-1, 3)
    counts = {"pairs": pairs}
    counts.update({f"group_pairs/{attr}": value for attr, value in group_pairs.items()})
    return counts


def survival_sensitivity(max_rows: int, attributes: int) -> float:
    """L2 sensitivity of ``survival_counts`` to adding or removing one row, for datasets of at most max_rows rows."""
    # A pair count changes only in pairs that hold the added (or removed) row: at most max_rows - 1 of
    # them, in "pairs" and in each attribute's "group_pairs" (which keeps a subset of the pairs). Each
    # pair adds one to one of 3 cells, so each of the 1 + attributes arrays changes by L1 <= max_rows - 1,
    # hence L2 <= max_rows - 1 (reached when every pair lands in the same cell). Over the arrays:
    # sqrt(1 + attributes) * (max_rows - 1).
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    return math.sqrt(1 + attributes) * (max_rows - 1)
