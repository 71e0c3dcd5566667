"""Hub side: which marginals to measure, from the summed noisy selection scores.

MST (McKenna et al. 2021) measures the 2-way marginals along a maximum spanning tree of the
column graph whose edge weights say how badly the 1-way model explains each pair. MST picks
the edges one by one with the exponential mechanism; here (as in FLAIM, Maddock et al. 2023)
each spoke released Gaussian-noised scores for every pair once, so Kruskal's algorithm on the
noisy sums is post-processing and costs no further privacy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from fedcore.marginal.domain import MarginalDomain

# Pairs measured beyond the spanning tree: with noisy scores the tree misses some related pairs, and
# each extra table costs only a little more noise (sqrt(40) instead of sqrt(25) per cell). On ACTG 175
# (seeds 0-3, selection share 0.5) 15 beat 5 and 10: pair trends 0.881 vs 0.875 / 0.879 at epsilon 3
# (TSTR/TRTR 0.909 vs 0.902 / 0.903), 0.807 vs 0.801 at epsilon 1 (fedcore/model/README.md).
DEFAULT_EXTRA_EDGES = 15


def candidate_pairs(domain: MarginalDomain) -> list[tuple[str, str]]:
    """Every pair of columns, in domain order: the candidates spokes score in round 1."""
    return list(itertools.combinations(domain.names, 2))


def one_way_probabilities(
    domain: MarginalDomain, one_way: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Published global 1-way estimates from noisy 1-way counts: negatives clipped to 0, then
    normalized (uniform when nothing is left). Post-processing of the setup release."""
    probs = {}
    for column in domain.columns:
        if column.name in one_way:
            counts = np.clip(np.asarray(one_way[column.name][0], dtype=np.float64), 0.0, None)
        else:  # no free 1-way measurement (see MarginalDomain.one_way_from_stats)
            counts = np.zeros(column.size)
        if counts.shape != (column.size,):
            raise ValueError(f"the 1-way counts of {column.name!r} must have {column.size} cells")
        probs[column.name] = counts / counts.sum() if counts.sum() > 0 else np.full(column.size, 1.0 / column.size)
    return probs


def maximum_spanning_tree(
    names: Sequence[str], candidates: Sequence[tuple[str, str]], scores: np.ndarray
) -> list[tuple[str, str]]:
    """Kruskal's algorithm: the highest-scoring edges that join two separate components.

    Ties break by candidate order, so the result is deterministic. With all pairs as
    candidates the result is a spanning tree (len(names) - 1 edges).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(candidates),):
        raise ValueError(f"need one score per candidate ({len(candidates)}), got shape {scores.shape}")
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    tree = []
    for k in np.argsort(-scores, kind="stable"):
        a, b = candidates[k]
        if a not in parent or b not in parent:
            raise ValueError(f"candidate {candidates[k]} names a column not in {list(names)}")
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
            tree.append((a, b))
    return tree


def select_cliques(
    domain: MarginalDomain,
    candidates: Sequence[tuple[str, str]],
    scores: np.ndarray,
    extra_edges: int = DEFAULT_EXTRA_EDGES,
) -> list[tuple[str, str]]:
    """The 2-way marginals to measure: the maximum spanning tree over the scores, plus the
    ``extra_edges`` highest-scoring pairs left out of it (0 = plain MST)."""
    if extra_edges < 0:
        raise ValueError("extra_edges must be >= 0")
    tree = maximum_spanning_tree(domain.names, candidates, scores)
    chosen = set(tree)
    rest = [candidates[k] for k in np.argsort(-np.asarray(scores), kind="stable") if candidates[k] not in chosen]
    return tree + rest[:extra_edges]
