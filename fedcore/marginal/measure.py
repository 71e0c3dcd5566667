"""What a spoke releases for the marginal model: noisy selection scores, noisy marginals.

Round 1 (select) and round 2 (measure) of federated MST (McKenna et al. 2021; federated as
in FLAIM, Maddock et al. 2023): each spoke computes its statistics on its own rows and adds
Gaussian noise calibrated to their L2 sensitivity under add/remove-one-row; the hub only
ever sees the noisy sums. Each release is one Gaussian mechanism, charged as
``StepRecord(noise_multiplier, sample_rate=1.0, steps=1)``. ``noise_multiplier=None``
releases exact values: only for hospitals that opted out of DP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fedcore.marginal.domain import MarginalDomain

SCORES = "scores"
MARGINAL_PREFIX = "marginal/"

Clique = tuple[str, ...]


# Largest change of one selection score when one row is added or removed (see selection_scores).
SCORE_SENSITIVITY_GLOBAL = 2.0  # baseline rows * outer(p_a, p_b) with the hub's published p
SCORE_SENSITIVITY_LOCAL = 4.0  # baseline outer(r, c) / rows from the spoke's own row/column sums


def score_noise_std(noise_multiplier: float | None, candidates: int, global_baseline: bool = False) -> float:
    """Noise std on each selection score: noise_multiplier times the L2 sensitivity of the
    score vector, sqrt(candidates) times the per-score bound (4 local, 2 global baseline)."""
    per_score = SCORE_SENSITIVITY_GLOBAL if global_baseline else SCORE_SENSITIVITY_LOCAL
    return _checked(noise_multiplier) * per_score * np.sqrt(candidates)


def marginal_noise_std(noise_multiplier: float | None, cliques: int) -> float:
    """Noise std on each marginal cell. One row adds 1 to exactly one cell of each clique's
    table, so the L2 sensitivity of all the tables together is sqrt(cliques)."""
    return _checked(noise_multiplier) * np.sqrt(cliques)


def _checked(noise_multiplier: float | None) -> float:
    if noise_multiplier is None:
        return 0.0
    if not np.isfinite(noise_multiplier) or noise_multiplier <= 0:
        raise ValueError(f"noise_multiplier must be finite and > 0, or None for exact values; got {noise_multiplier}")
    return float(noise_multiplier)


def count_table(codes: np.ndarray, domain: MarginalDomain, clique: Clique) -> np.ndarray:
    """Exact count table of ``clique`` over the encoded rows: shape = the cliques' cell counts."""
    shape = domain.clique_shape(clique)
    columns = [codes[:, domain.names.index(name)] for name in clique]
    flat = np.ravel_multi_index(columns, shape) if len(codes) else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(np.float64)


def selection_scores(
    codes: np.ndarray,
    domain: MarginalDomain,
    candidates: Sequence[tuple[str, str]],
    one_way_probs: Mapping[str, np.ndarray] | None,
    noise_multiplier: float | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Per candidate pair (a, b), the L1 distance of the spoke's count table T_ab from
    independence, plus Gaussian noise: MST's selection score (McKenna et al. 2021), computed
    locally as in FLAIM (Maddock et al. 2023).

    The independence baseline is, with ``one_way_probs`` None, the spoke's own
    outer(r, c) / rows (r, c: the table's row and column sums). Adding one row at cell (i, j)
    changes T by e_ij (L1 1) and the baseline by (r e_j' + e_i c' + e_i e_j' - E) / (rows + 1),
    L1 below 3, so a score moves by less than 4. With the hub's published global 1-way
    estimates p, the baseline is rows * outer(p_a, p_b): a row moves T by 1 and the baseline
    by total mass 1, so a score moves by at most 2; but a spoke whose 1-way marginals differ
    from the pooled ones (non-IID hospitals) then scores every pair with that column high,
    which on ACTG 175 split by arm made the tree a star around ``arms``.
    Noise std: ``score_noise_std`` = noise_multiplier * sensitivity * sqrt(C).
    """
    codes = _check_codes(codes, domain)
    std = score_noise_std(noise_multiplier, len(candidates), global_baseline=one_way_probs is not None)
    rows = len(codes)
    scores = np.empty(len(candidates))  # (C,)
    for k, (a, b) in enumerate(candidates):
        table = count_table(codes, domain, (a, b))  # (cells_a, cells_b)
        if one_way_probs is None:
            expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / max(rows, 1)
        else:
            p_a, p_b = _probabilities(one_way_probs, domain, a), _probabilities(one_way_probs, domain, b)
            expected = rows * np.outer(p_a, p_b)
        scores[k] = np.abs(table - expected).sum()
    if std > 0:
        scores = scores + rng.normal(0.0, std, size=scores.shape)
    return scores


def measure_marginals(
    codes: np.ndarray,
    domain: MarginalDomain,
    cliques: Sequence[Clique],
    noise_multiplier: float | None,
    rng: np.random.Generator,
) -> dict[Clique, np.ndarray]:
    """Noisy count tables of the given cliques (2-way; 3-way allowed).

    Sensitivity and noise: see ``marginal_noise_std``; std noise_multiplier * sqrt(len(cliques))
    on every cell of every table.
    """
    codes = _check_codes(codes, domain)
    if len(set(map(tuple, cliques))) != len(cliques):
        raise ValueError("cliques must be distinct")
    std = marginal_noise_std(noise_multiplier, len(cliques))
    tables = {}
    for clique in cliques:
        table = count_table(codes, domain, tuple(clique))
        tables[tuple(clique)] = table + rng.normal(0.0, std, size=table.shape) if std > 0 else table
    return tables


def _check_codes(codes: np.ndarray, domain: MarginalDomain) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != len(domain.names):
        raise ValueError(f"codes must have shape (rows, {len(domain.names)}), got {codes.shape}")
    if len(codes) and (np.any(codes < 0) or np.any(codes >= np.array(domain.shape))):
        raise ValueError("codes hold cells outside the domain")
    return codes


def _probabilities(one_way_probs: Mapping[str, np.ndarray], domain: MarginalDomain, name: str) -> np.ndarray:
    if name not in one_way_probs:
        raise ValueError(f"no published 1-way estimate for column {name!r}")
    p = np.asarray(one_way_probs[name], dtype=np.float64)
    size = domain.column(name).size
    if p.shape != (size,) or not np.all(np.isfinite(p)) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(f"the 1-way estimate of {name!r} must be {size} non-negative probabilities summing to 1")
    return p


def clique_name(clique: Clique) -> str:
    return MARGINAL_PREFIX + "|".join(clique)


def scores_to_tensors(scores: np.ndarray) -> dict[str, np.ndarray]:
    return {SCORES: np.asarray(scores, dtype=np.float64)}


def scores_from_tensors(tensors: Mapping[str, np.ndarray], candidates: int) -> np.ndarray:
    """The score vector of a release, checked: one tensor ``scores`` of ``candidates`` finite floats."""
    if set(tensors) != {SCORES}:
        raise ValueError(f"a selection release holds exactly the tensor {SCORES!r}, got {sorted(tensors)}")
    scores = np.asarray(tensors[SCORES])
    if scores.shape != (candidates,) or not np.issubdtype(scores.dtype, np.floating):
        raise ValueError(f"'scores' must be {candidates} floats, got shape {scores.shape} of {scores.dtype}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("'scores' holds non-finite values")
    return scores.astype(np.float64)


def marginals_to_tensors(tables: Mapping[Clique, np.ndarray]) -> dict[str, np.ndarray]:
    return {clique_name(clique): np.asarray(table, dtype=np.float64) for clique, table in tables.items()}


def marginals_from_tensors(
    tensors: Mapping[str, np.ndarray], domain: MarginalDomain, cliques: Sequence[Clique]
) -> dict[Clique, np.ndarray]:
    """The tables of a release, checked: exactly the expected names, the domain's shapes, finite."""
    expected = {clique_name(tuple(c)): tuple(c) for c in cliques}
    if set(tensors) != set(expected):
        extra, lacking = sorted(set(tensors) - set(expected)), sorted(set(expected) - set(tensors))
        raise ValueError(f"a marginal release has unexpected tensors {extra} and lacks {lacking}")
    tables = {}
    for name, clique in expected.items():
        table = np.asarray(tensors[name])
        shape = domain.clique_shape(clique)
        if table.shape != shape or not np.issubdtype(table.dtype, np.floating):
            raise ValueError(f"{name!r} must be floats of shape {shape}, got {table.shape} of {table.dtype}")
        if not np.all(np.isfinite(table)):
            raise ValueError(f"{name!r} holds non-finite values")
        tables[clique] = table.astype(np.float64)
    return tables
