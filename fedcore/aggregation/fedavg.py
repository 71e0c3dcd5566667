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

from fedcore.aggregation.aggregator import AggregationResult, ClientUpdate, WeightedMetrics
from fedcore.aggregation.validation import (
    InvalidUpdateError,
    validate_reference,
    validate_update,
)

logger = logging.getLogger(__name__)

__all__ = ["StreamingFedAvg"]


class StreamingFedAvg:
    """Example-weighted FedAvg in one pass; stateless between rounds.

    Every update is validated against the global weights; an invalid or duplicate
    update raises ``InvalidUpdateError`` (filter updates before streaming them in if a
    round should survive bad ones). The result has the global weights' dtypes.
    """

    name = "fedavg"

    def aggregate(
        self, global_weights: Mapping[str, np.ndarray], updates: Iterable[ClientUpdate]
    ) -> AggregationResult:
        validate_reference(global_weights)
        sums = {name: np.zeros(np.shape(t), dtype=np.float64) for name, t in global_weights.items()}
        total_examples = 0
        spokes: list[str] = []
        seen: set[str] = set()
        metrics = WeightedMetrics()
        for update in updates:
            if not isinstance(update, ClientUpdate):
                raise InvalidUpdateError(f"expected ClientUpdate, got {type(update).__name__}")
            if update.spoke in seen:
                raise InvalidUpdateError(f"spoke {update.spoke!r} sent more than one update")
            try:
                validate_update(global_weights, update.weights)
            except InvalidUpdateError as error:
                raise InvalidUpdateError(f"spoke {update.spoke!r}: {error}") from error
            weight = float(update.num_examples)
            for name, running_sum in sums.items():
                # (one tensor-sized temporary at a time, never one per spoke)
                running_sum += update.weights[name].astype(np.float64, copy=False) * weight
            total_examples += update.num_examples
            metrics.add(update.metrics, update.num_examples)
            seen.add(update.spoke)
            spokes.append(update.spoke)
        if not spokes:
            raise ValueError("no updates to aggregate")
        if total_examples == 0:
            raise ValueError(f"updates from {spokes} report zero examples in total; cannot weight them")
        new_weights = {}
        for name in list(sums):
            running_sum = sums.pop(name)  # free each float64 sum once it is converted
            np.divide(running_sum, total_examples, out=running_sum)
            new_weights[name] = running_sum.astype(global_weights[name].dtype)
        logger.info("fedavg over %d spokes, %d examples", len(spokes), total_examples)
        return AggregationResult(new_weights, tuple(spokes), total_examples, metrics.result())

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        if state:
            raise ValueError(f"StreamingFedAvg is stateless; got state entries {sorted(state)}")
