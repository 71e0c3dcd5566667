"""Aggregation of client updates into a new global model (DESIGN.md section 3).

Flower-backed aggregators live in ``fedcore.aggregation.flower_strategies`` and are not
imported here, so importing this package does not import Flower.
"""

from fedcore.aggregation.aggregator import AggregationResult, Aggregator, ClientUpdate
from fedcore.aggregation.fedavg import StreamingFedAvg
from fedcore.aggregation.registry import AGGREGATOR_NAMES, make_aggregator
from fedcore.aggregation.validation import InvalidUpdateError, validate_reference, validate_update

__all__ = [
    "AGGREGATOR_NAMES",
    "AggregationResult",
    "Aggregator",
    "ClientUpdate",
    "InvalidUpdateError",
    "StreamingFedAvg",
    "make_aggregator",
    "validate_reference",
    "validate_update",
]
