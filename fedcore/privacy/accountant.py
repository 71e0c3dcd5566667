"""Epsilon of a composed history of (subsampled) Gaussian mechanisms, via Opacus.

Each ``StepRecord`` is ``steps`` applications of the Poisson-subsampled Gaussian
mechanism (DP-SGD, Abadi et al. 2016, https://arxiv.org/abs/1607.00133). Epsilon comes
from Opacus' accountants over the whole history:

- ``"rdp"``: Renyi DP (Mironov 2017; Mironov, Talwar, Zhang 2019,
  https://arxiv.org/abs/1908.10530), ``opacus.accountants.RDPAccountant``.
- ``"prv"``: numerical composition of privacy loss random variables (Gopi, Lee, Wutschitz
  2021, https://arxiv.org/abs/2106.02848), ``opacus.accountants.PRVAccountant``; returns
  its upper bound (eps_error 0.01).

A setup-round Gaussian mechanism on histograms is ``StepRecord(sigma / sensitivity, 1.0, 1)``:
with ``sample_rate=1.0`` both accountants give the plain Gaussian mechanism (the PRV
upper bound is within 0.01 of the exact analytic value of Balle & Wang 2018).

Opacus is imported inside the function: importing ``opacus`` loads torch, and merely
importing this module must not.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["ACCOUNTANTS", "AccountantName", "StepRecord", "coalesce", "compute_epsilon"]

AccountantName = Literal["rdp", "prv"]
ACCOUNTANTS: tuple[str, ...] = ("rdp", "prv")


@dataclass(frozen=True)
class StepRecord:
    """``steps`` DP-SGD steps at one noise multiplier and Poisson sample rate."""

    noise_multiplier: float  # sigma: noise std / clipping norm (or / sensitivity)
    sample_rate: float  # q: Poisson sampling probability per record, in (0, 1]
    steps: int  # number of noisy steps taken at (sigma, q)

    def __post_init__(self) -> None:
        sigma, q, steps = self.noise_multiplier, self.sample_rate, self.steps
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
            raise ValueError(f"noise_multiplier must be a number, got {sigma!r}")
        if not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"noise_multiplier must be finite and > 0, got {sigma!r}")
        if isinstance(q, bool) or not isinstance(q, numbers.Real):
            raise ValueError(f"sample_rate must be a number, got {q!r}")
        if not (0 < q <= 1):
            raise ValueError(f"sample_rate must be in (0, 1], got {q!r}")
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        # Normalise numpy scalars and ints so equality and JSON round trips are exact.
        object.__setattr__(self, "noise_multiplier", float(sigma))
        object.__setattr__(self, "sample_rate", float(q))
        object.__setattr__(self, "steps", int(steps))

    def to_dict(self) -> dict[str, Any]:
        return {
            "noise_multiplier": self.noise_multiplier,
            "sample_rate": self.sample_rate,
            "steps": self.steps,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepRecord:
        expected = {"noise_multiplier", "sample_rate", "steps"}
        if not isinstance(data, Mapping) or set(data) != expected:
            keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"a step record needs exactly {sorted(expected)}, got {keys}")
        return cls(
            noise_multiplier=data["noise_multiplier"],
            sample_rate=data["sample_rate"],
            steps=data["steps"],
        )


def coalesce(history: Sequence[StepRecord]) -> list[StepRecord]:
    """Merge records with equal (sigma, q) by summing steps, sorted by (sigma, q).

    Composition is commutative and k-fold self-composition is what ``steps`` means, so
    this leaves the composed mechanism unchanged; it keeps long ledgers cheap to account,
    and the sorted order makes the result independent of the order of the history.
    """
    steps: dict[tuple[float, float], int] = {}
    for record in history:
        if not isinstance(record, StepRecord):
            raise ValueError(f"history entries must be StepRecord, got {type(record).__name__}")
        key = (record.noise_multiplier, record.sample_rate)
        steps[key] = steps.get(key, 0) + record.steps
    return [StepRecord(sigma, q, n) for (sigma, q), n in sorted(steps.items())]


def compute_epsilon(
    history: Sequence[StepRecord], delta: float, accountant: AccountantName = "rdp"
) -> float:
    """Epsilon at ``delta`` of every record in ``history`` composed; 0.0 when empty."""
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not (0 < delta < 1):
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    records = coalesce(history)
    if not records:
        return 0.0
    return _composed_epsilon(tuple(records), float(delta), accountant)


@functools.lru_cache(maxsize=4096)
def _composed_epsilon(
    records: tuple[StepRecord, ...], delta: float, accountant: AccountantName
) -> float:
    """Opacus' epsilon for a coalesced history. Cached: the result depends only on the
    arguments, and Opacus' RDP for fractional orders costs tens of ms per (sigma, q)."""
    opacus_history = [(r.noise_multiplier, r.sample_rate, r.steps) for r in records]
    if accountant == "rdp":
        from opacus.accountants import RDPAccountant  # lazy: opacus imports torch

        rdp = RDPAccountant()
        rdp.history = opacus_history
        return float(rdp.get_epsilon(delta=delta))

    from opacus.accountants import PRVAccountant  # lazy: opacus imports torch

    prv = PRVAccountant()
    prv.history = opacus_history
    # At q = 1 Opacus' PRV evaluates log(1 - q) = -inf on purpose (the pdf support is
    # t > log(1 - q)); the result is correct, only numpy's divide warning is silenced.
    with np.errstate(divide="ignore"):
        return float(prv.get_epsilon(delta=delta))
