"""Hub side: check each spoke's noisy release and sum them.

Counts from disjoint hospitals add up, so the sum of the spokes' noisy tables is an unbiased
estimate of the pooled table, and its noise std is the square root of the summed variances:
hospitals of different sizes and noise scales are weighted correctly by summing (FLAIM,
Maddock et al. 2023, section 4). Because a sum lets a large number take over, every release
is checked against what a spoke of its planned size can produce: a table whose total is off
from the spoke's row count by more than ``TOTAL_TOLERANCE_SD`` noise sd (or with a cell
outside [0, rows] by as much) is rejected, and selection scores are clipped to [0, 2 * rows].
These checks bound a spoke's weight by its row count; they cannot tell a true table of that
size from a fabricated one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fedcore.marginal.domain import MarginalDomain
from fedcore.marginal.measure import (
    Clique,
    marginal_noise_std,
    marginals_from_tensors,
    score_noise_std,
    scores_from_tensors,
)

TOTAL_TOLERANCE_SD = 6.0  # an honest release is off by this many sd with probability 2e-9
FLOAT_SLACK = 1e-6  # relative slack on exact (noise-free) totals, for float rounding


class ReleaseRejectedError(ValueError):
    """A spoke's release does not fit the domain, or is not what a spoke of its size can produce."""


@dataclass(frozen=True)
class SpokeRelease:
    """One spoke's named tensors, with what the hub planned for it."""

    tensors: Mapping[str, np.ndarray]
    rows: int  # the spoke's row count known to the hub
    noise_multiplier: float | None  # the spoke's planned sigma (None: exact, no DP)

    def __post_init__(self) -> None:
        if isinstance(self.rows, bool) or not isinstance(self.rows, (int, np.integer)) or self.rows < 1:
            raise ValueError(f"rows must be a positive int, got {self.rows!r}")


@dataclass(frozen=True)
class SummedMarginals:
    """Summed noisy tables with the std of the noise on each cell of the sum."""

    tables: dict[Clique, np.ndarray]
    noise_std: float
    rows: int

    def measurements(self) -> dict[Clique, tuple[np.ndarray, float]]:
        """clique -> (counts, std), the form ``fit_marginal_model`` takes."""
        return {clique: (table, self.noise_std) for clique, table in self.tables.items()}


@dataclass(frozen=True)
class SummedScores:
    scores: np.ndarray  # (candidates,)
    noise_std: float


def _slack(rows: int, std: float) -> float:
    return TOTAL_TOLERANCE_SD * std + FLOAT_SLACK * max(rows, 1)


def check_marginal_release(
    release: SpokeRelease, domain: MarginalDomain, cliques: Sequence[Clique]
) -> dict[Clique, np.ndarray]:
    """The release's tables, or ReleaseRejectedError if they do not fit the domain or the
    spoke's row count (total within 6 sd of the total's noise, every cell within 6 sd of [0, rows])."""
    try:
        tables = marginals_from_tensors(release.tensors, domain, cliques)
    except ValueError as exc:
        raise ReleaseRejectedError(str(exc)) from exc
    std = marginal_noise_std(release.noise_multiplier, len(cliques))
    for clique, table in tables.items():
        total = float(table.sum())
        tolerance = _slack(release.rows, std * np.sqrt(table.size))
        if abs(total - release.rows) > tolerance:
            raise ReleaseRejectedError(
                f"the table of {clique} sums to {total:.1f}, but the spoke has {release.rows} rows "
                f"(tolerance {tolerance:.1f})"
            )
        cell_slack = _slack(release.rows, std)
        if table.min() < -cell_slack or table.max() > release.rows + cell_slack:
            raise ReleaseRejectedError(
                f"the table of {clique} has a cell outside [0, {release.rows}] by more than {cell_slack:.1f}"
            )
    return tables


def sum_marginal_releases(
    releases: Mapping[str, SpokeRelease], domain: MarginalDomain, cliques: Sequence[Clique]
) -> SummedMarginals:
    """Check every spoke's release and sum them; summed in sorted spoke order, so the result
    does not depend on the order the releases arrived in."""
    if not releases:
        raise ValueError("no releases to sum")
    cliques = [tuple(c) for c in cliques]
    tables = {c: np.zeros(domain.clique_shape(c)) for c in cliques}
    for spoke in sorted(releases):
        try:
            checked = check_marginal_release(releases[spoke], domain, cliques)
        except ReleaseRejectedError as exc:
            raise ReleaseRejectedError(f"spoke {spoke!r}: {exc}") from exc
        tables = {c: tables[c] + checked[c] for c in cliques}
    variance = sum(marginal_noise_std(releases[s].noise_multiplier, len(cliques)) ** 2 for s in sorted(releases))
    rows = sum(int(r.rows) for r in releases.values())
    return SummedMarginals(tables=tables, noise_std=float(np.sqrt(variance)), rows=rows)


def check_score_release(release: SpokeRelease, candidates: int, global_baseline: bool = False) -> np.ndarray:
    """The release's scores clipped to [0, 2 * rows], or ReleaseRejectedError if malformed or
    beyond that range by more than 6 noise sd (no spoke of that size can produce them)."""
    try:
        scores = scores_from_tensors(release.tensors, candidates)
    except ValueError as exc:
        raise ReleaseRejectedError(str(exc)) from exc
    top = 2.0 * release.rows  # largest L1 distance between two tables of mass `rows`
    slack = _slack(release.rows, score_noise_std(release.noise_multiplier, candidates, global_baseline))
    if len(scores) and (scores.min() < -slack or scores.max() > top + slack):
        raise ReleaseRejectedError(f"selection scores outside [0, {top:.0f}] by more than {slack:.1f}")
    return np.clip(scores, 0.0, top)


def sum_score_releases(
    releases: Mapping[str, SpokeRelease], candidates: int, global_baseline: bool = False
) -> SummedScores:
    """Check, clip and sum every spoke's selection scores, in sorted spoke order."""
    if not releases:
        raise ValueError("no releases to sum")
    total = np.zeros(candidates)
    for spoke in sorted(releases):
        try:
            total = total + check_score_release(releases[spoke], candidates, global_baseline)
        except ReleaseRejectedError as exc:
            raise ReleaseRejectedError(f"spoke {spoke!r}: {exc}") from exc
    variance = sum(
        score_noise_std(releases[s].noise_multiplier, candidates, global_baseline) ** 2 for s in sorted(releases)
    )
    return SummedScores(scores=total, noise_std=float(np.sqrt(variance)))
