"""FairFed: fairness-aware aggregation weights carried between rounds.

FairFed (Ezzeldin et al., "FairFed: Enabling Group Fairness in Federated Learning", AAAI 2023,
https://arxiv.org/abs/2110.00857): each hospital's aggregation weight starts at its FedAvg share
n_k / n and, every round, moves against its fairness gap Δ_k = |F_global - F_k| (the distance
between the global fairness metric and the hospital's local one):

    w_k <- w_k_prev - beta * (Δ_k - mean_i Δ_i)

so a hospital whose local fairness is further than average from the global one loses weight. The
gaps arrive as ``ClientUpdate.metrics["fairness_gap"]``, computed by the caller from (noisy)
evaluation counts. Added here, not in the paper: weights are clipped at 0 and each is capped at
``max_weight_ratio`` x its row share (see ``fairfed_shares``), so a hospital that reports a small
gap can at most multiply its FedAvg weight by that ratio.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from fedcore.aggregation.aggregator import AggregationResult, ClientUpdate
from fedcore.aggregation.round_tally import OnInvalidUpdate, RoundTally
from fedcore.aggregation.strategy_params import validate_strategy_params
from fedcore.aggregation.validation import InvalidUpdateError

logger = logging.getLogger(__name__)

__all__ = ["FAIRNESS_GAP", "FairFed", "fairfed_shares"]

FAIRNESS_GAP = "fairness_gap"  # the ClientUpdate metric holding Δ_k
_STATE_PREFIX = "weight/"  # state tensor "weight/<spoke>": that spoke's last weight, float64, shape (1,)


class FairFed:
    """FairFed aggregation; its state is each hospital's last weight.

    The weights depend on every hospital's gap, so the round's admitted updates are held until
    the stream ends (O(model x spokes) memory, like the Flower strategies; the models aggregated
    here are small). Every update is validated by ``RoundTally``, and so is its gap (a finite
    number >= 0, or absent): an invalid one raises ``InvalidUpdateError``, or, given
    ``on_invalid``, is reported there and left out. A hospital without a gap keeps its weight
    (its Δ counts as the mean of the reported ones); with no gap at all the round is FedAvg.
    A hospital that sits out a round keeps its last weight in the state, so skipping a round
    does not reset a penalty.
    """

    name = "fairfed"

    def __init__(self, beta: float = 1.0, max_weight_ratio: float = 2.0) -> None:
        options = validate_strategy_params(self.name, {"beta": beta, "max_weight_ratio": max_weight_ratio})
        self.beta: float = options["beta"]  # fairness budget: how far one round moves a weight
        self.max_weight_ratio: float = options["max_weight_ratio"]  # weight <= this x row share
        self._weights: dict[str, float] = {}  # every spoke's latest weight (the state)
        self.last_weights: dict[str, float] = {}  # the last round's weights, in arrival order (sum 1)

    def aggregate(
        self, global_weights: Mapping[str, np.ndarray], updates: Iterable[ClientUpdate],
        on_invalid: OnInvalidUpdate | None = None,
    ) -> AggregationResult:
        tally = RoundTally(global_weights, on_invalid)
        admitted = list(tally.admitted(_with_valid_gaps(updates, on_invalid)))
        spokes, total_examples, metrics = tally.finish()
        row_shares = np.array([u.num_examples / total_examples for u in admitted])  # (K,)
        previous = np.array([self._weights.get(u.spoke, share) for u, share in zip(admitted, row_shares)])
        gaps = [u.metrics.get(FAIRNESS_GAP) for u in admitted]
        shares = fairfed_shares(previous, row_shares, gaps, self.beta, self.max_weight_ratio)

        sums = {name: np.zeros(np.shape(t), np.float64) for name, t in global_weights.items()}
        for update, share in zip(admitted, shares):
            for name, running_sum in sums.items():
                running_sum += update.weights[name].astype(np.float64, copy=False) * share
        new_weights = {name: running_sum.astype(global_weights[name].dtype) for name, running_sum in sums.items()}

        self.last_weights = {spoke: float(share) for spoke, share in zip(spokes, shares)}
        self._weights.update(self.last_weights)
        logger.info("fairfed over %d spokes, %d examples", len(spokes), total_examples)
        return AggregationResult(new_weights, spokes, total_examples, metrics)

    def state(self) -> dict[str, np.ndarray]:
        """Each spoke's latest weight as ``"weight/<spoke>"``: float64, shape (1,)."""
        return {f"{_STATE_PREFIX}{spoke}": np.array([w], np.float64) for spoke, w in self._weights.items()}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore ``state()`` output (``{}`` starts afresh); anything else raises ``ValueError``."""
        weights: dict[str, float] = {}
        for key, value in state.items():
            spoke = key[len(_STATE_PREFIX):] if isinstance(key, str) and key.startswith(_STATE_PREFIX) else ""
            if not spoke:
                raise ValueError(f"fairfed state holds only 'weight/<spoke>' tensors; got {key!r}")
            if not isinstance(value, np.ndarray) or value.shape != (1,) or not np.issubdtype(value.dtype, np.floating):
                raise ValueError(f"fairfed state tensor {key!r} must be a float array of shape (1,)")
            weight = float(value[0])
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"fairfed state tensor {key!r} must be a weight in [0, 1], got {weight}")
            weights[spoke] = weight
        self._weights = weights
        self.last_weights = {}


def fairfed_shares(
    previous: np.ndarray, row_shares: np.ndarray, gaps: list[float | None], beta: float, max_weight_ratio: float,
) -> np.ndarray:
    """This round's weights (K,), non-negative, summing to 1, each <= ``max_weight_ratio`` x its row share.

    u_k = max(0, previous_k - beta * (Δ_k - mean Δ)), where a missing Δ_k counts as the mean of the
    reported ones. If no cap binds the result is u / sum(u). Otherwise the capped hospitals sit at
    their caps and the rest of the mass is spread over the others in proportion to u (water-filling);
    mass the hospitals with u_k > 0 cannot take under their caps goes to those with u_k = 0 by row
    share (with every u_k = 0 that is FedAvg). The caps sum to max_weight_ratio >= 1, so this always
    exists: the cap holds on the final, normalised weights, whatever any hospital reports.
    """
    reported = [g for g in gaps if g is not None]
    mean_gap = sum(reported) / len(reported) if reported else 0.0
    deviation = np.array([0.0 if g is None else g - mean_gap for g in gaps])  # (K,)
    unnormalised = np.maximum(np.asarray(previous, np.float64) - beta * deviation, 0.0)
    caps = max_weight_ratio * np.asarray(row_shares, np.float64)

    shares = np.zeros_like(unnormalised)
    capped = np.zeros(len(shares), bool)
    free = unnormalised > 0
    while free.any():  # each pass caps at least one more hospital, or ends
        remaining = 1.0 - caps[capped].sum()
        # u_k / sum(u_free) <= 1 even when the weights are subnormal (a scale 1 / sum could overflow)
        proposed = np.zeros_like(unnormalised)
        proposed[free] = remaining * (unnormalised[free] / unnormalised[free].sum())
        over = free & (proposed > caps)
        if not over.any():
            shares[free] = proposed[free]
            break
        capped |= over
        free &= ~over
    shares[capped] = caps[capped]
    if not free.any():  # every positive weight is at its cap: the rest goes by row share
        idle = ~capped
        idle_rows = row_shares[idle].sum()
        if idle_rows > 0:
            shares[idle] = (1.0 - shares.sum()) * row_shares[idle] / idle_rows
    return np.clip(shares, 0.0, caps)  # rounding never takes a weight out of [0, cap]


def _with_valid_gaps(updates: Iterable[ClientUpdate], on_invalid: OnInvalidUpdate | None) -> Iterator[ClientUpdate]:
    """``updates`` less those whose fairness gap is not a finite number >= 0 (a distance)."""
    for update in updates:
        gap = update.metrics.get(FAIRNESS_GAP) if isinstance(update, ClientUpdate) else None
        if gap is None or (math.isfinite(gap) and gap >= 0):
            yield update
            continue
        problem = InvalidUpdateError(f"{FAIRNESS_GAP} must be a finite number >= 0, got {gap!r}")
        if on_invalid is None:
            raise InvalidUpdateError(f"spoke {update.spoke!r}: {problem}") from problem
        on_invalid(update.spoke, problem)
