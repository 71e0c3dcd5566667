"""BudgetGate: the spokes allowed to run the next round within their privacy budgets."""

from fedcore.runtime.budget_gate import budget_gate
from functions.hub_environment import step_services
from functions.observability import MetricUnit, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    result = budget_gate(step_services("budget_gate"), event["run_id"], int(event["round"]), event["spokes"])
    metrics.add_metric("EligibleSpokes", MetricUnit.Count, len(result["eligible_spokes"]))
    metrics.add_metric("BudgetDroppedSpokes", MetricUnit.Count, len(result["dropped"]))
    return result
