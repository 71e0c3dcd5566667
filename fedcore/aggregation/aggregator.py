"""The aggregation contract: what goes into an aggregator and what comes out."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["AggregationResult", "Aggregator", "ClientUpdate"]


@dataclass(frozen=True)
class ClientUpdate:
    """One spoke's result for a round, like Flower's ``FitRes``."""

    spoke: str
    weights: dict[str, np.ndarray]  # the client's full local weights after training
    num_examples: int  # aggregation weight (records the spoke trained on)
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. {"loss": 0.4}

    def __post_init__(self) -> None:
        if not isinstance(self.spoke, str) or not self.spoke:
            raise ValueError(f"spoke must be a non-empty string, got {self.spoke!r}")
        if not isinstance(self.weights, Mapping):
            raise ValueError(f"weights must be a mapping of name -> ndarray (spoke {self.spoke!r})")
        n = self.num_examples
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"num_examples must be an int >= 0, got {n!r} (spoke {self.spoke!r})")
        for key, value in self.metrics.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"metric {key!r} of spoke {self.spoke!r} is not a number")


@dataclass(frozen=True)
class AggregationResult:
    """The new global weights of a round and what went into them."""

    weights: dict[str, np.ndarray]  # same names, shapes and dtypes as the global weights
    spokes: tuple[str, ...]  # spokes aggregated, in arrival order
    total_examples: int
    metrics: dict[str, float]  # each metric averaged over the spokes reporting it, by num_examples


@runtime_checkable
class Aggregator(Protocol):
    """Turns the current global weights and the round's updates into new global weights.

    The hub is serverless (each round may run in a new process), so anything an
    aggregator carries between rounds is exposed as named tensors by ``state`` and
    restored by ``load_state``; stateless aggregators return ``{}``.
    """

    def aggregate(
        self, global_weights: Mapping[str, np.ndarray], updates: Iterable[ClientUpdate],
        on_invalid: Callable[[str, ValueError], None] | None = None,
    ) -> AggregationResult:
        """Check each update as it streams (``fedcore.aggregation.round_tally.RoundTally``): an invalid one
        raises ``InvalidUpdateError``, or, given ``on_invalid``, is reported there (spoke, why) and left out."""
        ...

    def state(self) -> dict[str, np.ndarray]: ...

    def load_state(self, state: Mapping[str, np.ndarray]) -> None: ...

