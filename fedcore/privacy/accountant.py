"""Epsilon of a composed history of (subsampled) Gaussian mechanisms, without torch.

Each ``StepRecord`` is ``steps`` applications of the Poisson-subsampled Gaussian
mechanism (DP-SGD, Abadi et al. 2016, https://arxiv.org/abs/1607.00133). Epsilon comes
from Google's ``dp_accounting`` (numpy/scipy only) over the whole history as one
``ComposedDpEvent``; a record is ``SelfComposedDpEvent(PoissonSampledDpEvent(q,
GaussianDpEvent(sigma)), steps)``:

- ``"rdp"``: Renyi DP (Mironov 2017; Mironov, Talwar, Zhang 2019,
  https://arxiv.org/abs/1908.10530), ``RdpAccountant`` over ``RDP_ORDERS`` with the
  conversion of Balle et al. 2020 (https://arxiv.org/abs/2004.00010, Prop. 12), the same
  as Opacus' ``RDPAccountant``. Opacus' orders stop at 63, which cannot certify epsilon
  below about log(1/delta) / 62 (0.19 at delta 1e-5); a Gaussian release at epsilon 0.001
  needs orders near 5000, hence orders up to 2**16 (up to 1024 for a history with a
  subsampled step, which costs O(order) per order; that is tight down to epsilon ~0.01).
- ``"prv"``: numerical composition of the privacy loss distribution (PLD; Koskela et al.
  2020, https://arxiv.org/abs/1906.03049; Doroshenko et al. 2022,
  https://arxiv.org/abs/2207.04380), ``PLDAccountant`` with pessimistic discretization, so
  the result is an upper bound. The privacy loss random variable of Gopi, Lee, Wutschitz
  2021 (Opacus' ``PRVAccountant``, used before) is the same object; the name stays so
  configs and ledgers keep working. Unlike Opacus' PRV (absolute ``eps_error`` 0.01, so
  nothing below about 0.01), it resolves epsilons down to 1e-4.

A Gaussian release (a setup-round histogram) is ``StepRecord(sigma / sensitivity, 1.0, 1)``:
with ``sample_rate=1.0`` it is accounted as ``GaussianDpEvent``, the plain Gaussian mechanism,
and all such records together as one (see ``_history_event``).

``dp_accounting`` is imported on the first computation (1-3 s, mostly scipy), so importing
this module stays cheap; neither accountant imports torch (Opacus, used before, did).
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

logger = logging.getLogger(__name__)

__all__ = ["ACCOUNTANTS", "RDP_ORDERS", "AccountantName", "StepRecord", "coalesce", "compute_epsilon"]

AccountantName = Literal["rdp", "prv"]
ACCOUNTANTS: tuple[str, ...] = ("rdp", "prv")

# Opacus' default orders (1.1 to 10.9 by 0.1, then 12 to 63): the known values (DESIGN.md
# section 8) are reached there. Then integer orders 64 to 2**16, four per octave (a fine
# grid would lower a Gaussian release's epsilon by at most 0.5% at epsilon >= 0.001, 0.7%
# at sigma 1e4). The optimal order of a Gaussian release is near 5000 at epsilon 0.001 and
# 20000 at sigma 1e4, the planner's bound.
RDP_ORDERS: tuple[float, ...] = (
    *(1 + x / 10 for x in range(1, 100)),
    *range(12, 64),
    *sorted({round(2 ** (k / 4)) for k in range(24, 65)}),
)
# A subsampled step's RDP at integer order a costs O(a) in dp_accounting (0.1 s for orders up
# to 1024, 1.5 s up to 2**16); a full-batch step's costs nothing. Orders above 1024 matter
# only below epsilon ~0.01 (a Gaussian release at 0.01 is best near order 850), so a history
# with a subsampled step is accounted on orders up to 1024: still a valid bound below 0.01,
# only looser (and logged).
_SUBSAMPLED_MAX_ORDER = 1024
# PLD loss grid: dp_accounting's default. Pessimistic, so never below the true epsilon;
# within 1e-4 of the exact Gaussian mechanism here (Opacus' PRV added its eps_error, 0.01).
_PLD_DISCRETIZATION = 1e-4


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
    """Epsilon of a coalesced history. Cached: the result depends only on the arguments,
    and a subsampled record costs tens of ms (RDP) to a second (PLD at small sigma)."""
    dp = _dp_accounting()
    event = _history_event(dp, records)
    if accountant == "prv":
        pld = dp.pld.PLDAccountant(value_discretization_interval=_PLD_DISCRETIZATION)
        pld.compose(event)
        return float(pld.get_epsilon(delta))
    subsampled = any(r.sample_rate < 1.0 for r in records)
    orders = [a for a in RDP_ORDERS if a <= _SUBSAMPLED_MAX_ORDER] if subsampled else RDP_ORDERS
    rdp = dp.rdp.RdpAccountant(orders=orders)
    rdp.compose(event)
    epsilon, order = rdp.get_epsilon_and_optimal_order(delta)
    if order == orders[-1] and epsilon > 0:  # at 0 the optimal order is arbitrary
        logger.warning(
            "RDP epsilon %.3g at delta %g is loose: the optimal order is the largest taken (%d)",
            epsilon, delta, orders[-1],
        )
    return float(epsilon)


def _history_event(dp: ModuleType, records: Sequence[StepRecord]) -> Any:
    """One ComposedDpEvent: ``steps`` self-compositions of each record's sampled Gaussian.

    Records at sample rate 1 are plain Gaussian mechanisms, and together they are exactly
    one, with sigma = (sum of steps / sigma^2)^(-1/2) (Dong, Roth, Su 2019,
    https://arxiv.org/abs/1905.02383, Cor. 3.3): one event, so PLD discretizes it once.
    """
    full_batch = sum(r.steps / r.noise_multiplier**2 for r in records if r.sample_rate == 1.0)
    events = [dp.GaussianDpEvent(full_batch**-0.5)] if full_batch else []
    for record in records:
        if record.sample_rate < 1.0:
            step = dp.PoissonSampledDpEvent(record.sample_rate, dp.GaussianDpEvent(record.noise_multiplier))
            events.append(dp.SelfComposedDpEvent(step, record.steps))
    return dp.ComposedDpEvent(events)


@functools.cache
def _dp_accounting() -> ModuleType:
    """Import dp_accounting once, on first use (1-3 s: the hub's Lambda imports this
    package on every cold start and computes an epsilon only on some paths)."""
    import dp_accounting

    logging.getLogger("absl").addFilter(_drop_unconverged_order_warning)
    return dp_accounting


def _drop_unconverged_order_warning(record: logging.LogRecord) -> bool:
    """dp_accounting warns for each fractional order whose series has not converged after
    1000 terms (sigma of a few, q near 1, order below 2) and leaves that order out: the
    epsilon stays a valid bound, and those orders are optimal only at epsilons in the tens."""
    return not str(record.msg).startswith("_compute_log_a_frac failed to converge")
