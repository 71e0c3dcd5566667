"""Aggregate: open, validate and average one round's sealed updates."""

from fedcore.runtime.aggregate import aggregate
from functions.hub_environment import step_services
from functions.observability import MetricUnit, emit_spoke_budget, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    services = step_services("aggregate")
    run_id, round_ = event["run_id"], int(event["round"])
    eligible = len(event.get("reports") or [])
    result = aggregate(services, run_id, round_, event.get("reports"))
    if not result["quorum_met"]:
        metrics.add_metric("AggregationErrors", MetricUnit.Count, 1)
        metrics.add_metric("SpokeDropouts", MetricUnit.Count, eligible)
        return result
    stored = result["metrics"]
    metrics.add_metric("ParticipatingSpokes", MetricUnit.Count, len(stored["spokes"]))
    metrics.add_metric("SpokeDropouts", MetricUnit.Count, max(0, eligible - len(stored["spokes"])))
    metrics.add_metric("AggregationErrors", MetricUnit.Count, len(stored["rejected"]))
    if stored.get("round_seconds") is not None:
        metrics.add_metric("RoundDurationSeconds", MetricUnit.Seconds, stored["round_seconds"])
    if stored["loss"] is not None:
        metrics.add_metric("RoundLoss", MetricUnit.NoUnit, stored["loss"])
    for spoke, epsilon in stored["epsilon"].items():
        emit_spoke_budget(spoke, epsilon, services.ledger.limit(spoke))
    logger.info("round aggregated", extra={"run_id": run_id, "round": round_, "spokes": stored["spokes"],
                                           "bytes_in": stored["bytes_in"], "bytes_out": stored["bytes_out"]})
    return result
