"""Powertools Logger and Metrics (CloudWatch EMF), with the dashboard's metric contract.

Metric names and dimensions follow ``cdk/components/monitoring.py``: round metrics carry no
dimension; ``SpokeEpsilon`` and ``BudgetUsedPercent`` carry ``SpokeId``.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = os.environ.get("METRICS_NAMESPACE", "FedCore")
logger = Logger(service="fedcore-hub")
metrics = Metrics(namespace=NAMESPACE)


def emit_spoke_budget(spoke: str, epsilon: float, limit: float) -> None:
    """One EMF document per spoke, so its SpokeId dimension applies to it alone."""
    for name, value, unit in (
        ("SpokeEpsilon", epsilon, MetricUnit.NoUnit),
        ("BudgetUsedPercent", 100.0 * epsilon / limit if limit else 0.0, MetricUnit.Percent),
    ):
        with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="SpokeId", value=spoke)


__all__ = ["MetricUnit", "emit_spoke_budget", "logger", "metrics"]
