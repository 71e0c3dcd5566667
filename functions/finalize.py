"""Finalize: record the run's final status and publish its model version."""

import json

from fedcore.runtime.finalize import finalize
from functions.hub_environment import step_services
from functions.observability import MetricUnit, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    detail = event.get("detail")
    error = None if event["status"] == "COMPLETED" else json.dumps(detail, default=str)[:1000]
    result = finalize(step_services("finalize"), event["run_id"], event["status"], error)
    metrics.add_metric("RunFailed", MetricUnit.Count, 1 if result["status"] == "FAILED" else 0)
    return result
