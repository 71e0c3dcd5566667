"""Build an aggregator by name, e.g. from a run's config: the one list of strategies."""

from __future__ import annotations

from typing import Any

from fedcore.aggregation.aggregator import Aggregator
from fedcore.aggregation.fairfed import FairFed
from fedcore.aggregation.fedavg import StreamingFedAvg
from fedcore.aggregation.strategy_params import STRATEGY_PARAMS, validate_strategy_params

__all__ = ["AGGREGATOR_NAMES", "make_aggregator", "validate_strategy_params"]

# Every strategy a run may choose (RunConfig, the API and the CLI read this tuple).
AGGREGATOR_NAMES: tuple[str, ...] = tuple(STRATEGY_PARAMS)


def make_aggregator(name: str, **params: Any) -> Aggregator:
    """``"fedavg"`` is the streaming, O(model)-memory FedAvg; ``"fairfed"`` is ``FairFed``
    (``beta``, ``max_weight_ratio``); the others wrap Flower's
    strategy of that name with ``params`` (typed by ``validate_strategy_params``) as its
    options (e.g. ``proximal_mu``, ``eta``, ``beta``, ``num_malicious_clients``)."""
    if name not in AGGREGATOR_NAMES:
        raise ValueError(f"unknown aggregator {name!r}; valid names: {', '.join(AGGREGATOR_NAMES)}")
    options = validate_strategy_params(name, params)
    if name == "fedavg":
        return StreamingFedAvg()
    if name == "fairfed":
        return FairFed(**options)
    # Imported here: Flower is a heavier import that FedAvg-only hubs do not need.
    from fedcore.aggregation.flower_strategies import FlowerStrategyAggregator

    return FlowerStrategyAggregator(name, **options)
