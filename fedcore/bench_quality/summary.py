"""Rows over seeds: one line per (kind, family, epsilon) with the mean and the min-max range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fedcore.bench_quality.scoring import METRICS

KIND_ORDER = ("reference", "floor", "run", "ceiling")  # how the table lists them


@dataclass(frozen=True)
class Spread:
    mean: float | None  # None when no seed had the score
    low: float | None
    high: float | None
    count: int  # seeds that had the score

    def text(self, digits: int = 3) -> str:
        if self.mean is None:
            return "-"
        if self.count < 2:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def spread(values: list[float | None]) -> Spread:
    known = np.array([v for v in values if v is not None], dtype=float)
    if not len(known):
        return Spread(None, None, None, 0)
    return Spread(float(known.mean()), float(known.min()), float(known.max()), len(known))


def summarise(rows: list[dict]) -> list[dict]:
    """Group rows by (kind, family, epsilon); per metric a ``Spread`` over the group's seeds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["kind"], row["family"], row["epsilon"]), []).append(row)
    summaries = [
        {"kind": kind, "family": family, "epsilon": epsilon, "seeds": len(members),
         **{metric: spread([m[metric] for m in members]) for metric in METRICS}}
        for (kind, family, epsilon), members in groups.items()
    ]
    return sorted(summaries, key=lambda s: (KIND_ORDER.index(s["kind"]), s["family"], _epsilon_key(s["epsilon"])))


def _epsilon_key(epsilon: float | None) -> float:
    return float("inf") if epsilon is None else epsilon  # no DP after every epsilon
