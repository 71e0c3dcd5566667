"""Weighted federated averaging over a stream of updates.

FedAvg (McMahan et al. 2017, https://arxiv.org/abs/1602.05629): the new global model is
the mean of the clients' weights, weighted by their number of examples. Updates are
consumed one at a time and folded into a float64 running sum, so memory is O(model)
whatever the number of hospitals (an iterator that opens sealed updates lazily keeps
one update in memory at a time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np

from fedcore.aggregation.aggregator import AggregationResult, ClientUpdate
from fedcore.aggregation.round_tally import OnInvalidUpdate, RoundTally

logger = logging.getLogger(__name__)

__all__ = ["StreamingFedAvg"]


class StreamingFedAvg:
    """Example-weighted FedAvg in one pass; stateless between rounds.

    Every update is validated against the global weights (``RoundTally``); an invalid or
    duplicate update raises ``InvalidUpdateError``, or, given ``on_invalid``, is reported there
    and left out. The result has the global weights' dtypes.
    """

    name = "fedavg"

    def aggregate(
        self, global_weights: Mapping[str, np.ndarray], updates: Iterable[ClientUpdate],
        on_invalid: OnInvalidUpdate | None = None,
    ) -> AggregationResult:
        tally = RoundTally(global_weights, on_invalid)
        sums = {name: np.zeros(np.shape(t), np.float64) for name, t in global_weights.items()}
        for update in tally.admitted(updates):
            weight = float(update.num_examples)
            for name, running_sum in sums.items():
                # one tensor-sized temporary at a time, never one per spoke
                running_sum += update.weights[name].astype(np.float64, copy=False) * weight
        spokes, total_examples, metrics = tally.finish()
        new_weights = {}
        for name in list(sums):
            running_sum = sums.pop(name)  # free each float64 sum once it is converted
            np.divide(running_sum, total_examples, out=running_sum)
            new_weights[name] = running_sum.astype(global_weights[name].dtype)
        logger.info("fedavg over %d spokes, %d examples", len(spokes), total_examples)
        return AggregationResult(new_weights, spokes, total_examples, metrics)

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        if state:
            raise ValueError(f"StreamingFedAvg is stateless; got state entries {sorted(state)}")
