"""Admit a round's updates one at a time: validate each, and keep the round's totals."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np

from fedcore.aggregation.aggregator import ClientUpdate
from fedcore.aggregation.validation import (
    InvalidUpdateError,
    validate_reference,
    validate_update,
)

__all__ = ["OnInvalidUpdate", "RoundTally"]

OnInvalidUpdate = Callable[[str, InvalidUpdateError], None]  # (spoke, why); the message does not repeat the spoke


class RoundTally:
    """The one place a round's updates are checked: against the global weights (names, shapes,
    floating dtypes, finite values) and one update per spoke. It accumulates spokes, example
    counts and example-weighted metric means (a round's mean loss among them) in
    O(spokes + metric names) memory, never holding the weights themselves.

    An invalid update raises ``InvalidUpdateError`` naming the spoke; with ``on_invalid`` it is
    reported there and left out instead (the hub rejects that one release and the round goes on).
    """

    def __init__(self, global_weights: Mapping[str, np.ndarray], on_invalid: OnInvalidUpdate | None = None) -> None:
        validate_reference(global_weights)
        self._global_weights = global_weights
        self._on_invalid = on_invalid
        self._spokes: list[str] = []
        self._seen: set[str] = set()
        self._total_examples = 0
        self._metric_sums: dict[str, float] = {}
        self._metric_weights: dict[str, int] = {}

    def admitted(self, updates: Iterable[ClientUpdate]) -> Iterator[ClientUpdate]:
        """Each valid update of ``updates``, counted as it passes (the stream stays lazy)."""
        for update in updates:
            if not isinstance(update, ClientUpdate):
                raise InvalidUpdateError(f"expected ClientUpdate, got {type(update).__name__}")
            problem = self._problem(update)
            if problem is None:
                self._count(update)
                yield update
            elif self._on_invalid is None:
                raise InvalidUpdateError(f"spoke {update.spoke!r}: {problem}") from problem
            else:
                self._on_invalid(update.spoke, problem)

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

    def _problem(self, update: ClientUpdate) -> InvalidUpdateError | None:
        if update.spoke in self._seen:
            return InvalidUpdateError("sent more than one update")
        try:
            validate_update(self._global_weights, update.weights)
        except InvalidUpdateError as error:
            return error
        return None

    def _count(self, update: ClientUpdate) -> None:
        self._seen.add(update.spoke)
        self._spokes.append(update.spoke)
        self._total_examples += update.num_examples
        for key, value in update.metrics.items():
            if not math.isfinite(value):
                continue  # one spoke's NaN loss should not erase everyone's mean
            weighted = float(value) * update.num_examples
            self._metric_sums[key] = self._metric_sums.get(key, 0.0) + weighted
            self._metric_weights[key] = self._metric_weights.get(key, 0) + update.num_examples
