"""SetupMerge: DP statistics from the spokes -> global preprocessor and initial model."""

from fedcore.runtime.setup_merge import setup_merge
from functions.hub_environment import step_services
from functions.observability import MetricUnit, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    result = setup_merge(step_services("setup_merge"), event["run_id"], event.get("reports"))
    metrics.add_metric("SetupSpokes", MetricUnit.Count, len(result["spokes"]))
    return result
