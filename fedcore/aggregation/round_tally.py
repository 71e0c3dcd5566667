"""Admit a round's updates one at a time: validate each, and keep the round's totals."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from fedcore.aggregation.aggregator import ClientUpdate
from fedcore.aggregation.validation import (
    InvalidUpdateError,
    validate_reference,
    validate_update,
)

__all__ = ["RoundTally"]


class RoundTally:
    """Checks every update against the global weights (and one update per spoke) and
    accumulates spokes, example counts and example-weighted metric means in
    O(spokes + metric names) memory, never holding the weights themselves."""

    def __init__(self, global_weights: Mapping[str, np.ndarray]) -> None:
        validate_reference(global_weights)
        self._global_weights = global_weights
        self._spokes: list[str] = []
        self._seen: set[str] = set()
        self._total_examples = 0
        self._metric_sums: dict[str, float] = {}
        self._metric_weights: dict[str, int] = {}

    def admit(self, update: ClientUpdate) -> ClientUpdate:
        """Validate ``update`` and count it; raises ``InvalidUpdateError`` naming the spoke."""
        if not isinstance(update, ClientUpdate):
            raise InvalidUpdateError(f"expected ClientUpdate, got {type(update).__name__}")
        if update.spoke in self._seen:
            raise InvalidUpdateError(f"spoke {update.spoke!r} sent more than one update")
        try:
            validate_update(self._global_weights, update.weights)
        except InvalidUpdateError as error:
            raise InvalidUpdateError(f"spoke {update.spoke!r}: {error}") from error
        self._seen.add(update.spoke)
        self._spokes.append(update.spoke)
        self._total_examples += update.num_examples
        for key, value in update.metrics.items():
            if not math.isfinite(value):
                continue  # one spoke's NaN loss should not erase everyone's mean
            weighted = float(value) * update.num_examples
            self._metric_sums[key] = self._metric_sums.get(key, 0.0) + weighted
            self._metric_weights[key] = self._metric_weights.get(key, 0) + update.num_examples
        return update

    def finish(self) -> tuple[tuple[str, ...], int, dict[str, float]]:
        """(spokes in arrival order, total examples, metric means); the round must have
        at least one update and a positive total weight."""
        if not self._spokes:
            raise ValueError("no updates to aggregate")
        if self._total_examples == 0:
            raise ValueError(
                f"updates from {self._spokes} report zero examples in total; cannot weight them"
            )
        metrics = {
            key: self._metric_sums[key] / weight
            for key, weight in sorted(self._metric_weights.items())
            if weight > 0
        }
        return tuple(self._spokes), self._total_examples, metrics
