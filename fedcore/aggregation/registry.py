"""Build an aggregator by name, e.g. from a run's config."""

from __future__ import annotations

from typing import Any

from fedcore.aggregation.aggregator import Aggregator
from fedcore.aggregation.fedavg import StreamingFedAvg

__all__ = ["AGGREGATOR_NAMES", "make_aggregator"]

_FLOWER_NAMES = (
    "fedprox", "fedadam", "fedyogi", "fedadagrad", "fedtrimmedavg", "fedmedian", "krum",
)
AGGREGATOR_NAMES: tuple[str, ...] = ("fedavg", *_FLOWER_NAMES)


def make_aggregator(name: str, **params: Any) -> Aggregator:
    """``"fedavg"`` is the streaming, O(model)-memory FedAvg; the others wrap Flower's
    strategy of that name with ``params`` as its options (e.g. ``proximal_mu``, ``eta``,
    ``beta``, ``num_malicious_clients``)."""
    if name == "fedavg":
        if params:
            raise ValueError(f"fedavg takes no parameters, got {sorted(params)}")
        return StreamingFedAvg()
    if name in _FLOWER_NAMES:
        # Imported here: Flower is a heavier import that FedAvg-only hubs do not need.
        from fedcore.aggregation.flower_strategies import FlowerStrategyAggregator

        return FlowerStrategyAggregator(name, **params)
    raise ValueError(f"unknown aggregator {name!r}; valid names: {', '.join(AGGREGATOR_NAMES)}")
