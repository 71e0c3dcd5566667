"""Dashboard and alarms of federated training, sent to a KMS-encrypted SNS topic.

Metric contract for functions/ (CloudWatch embedded metric format, namespace METRICS_NAMESPACE,
no dimensions other than those listed):
  RoundLoss             loss of the new global model, once per round
  ParticipatingSpokes   spokes whose update was aggregated, once per round
  SpokeDropouts         eligible spokes that did not deliver a valid update, once per round
  RoundDurationSeconds  wall time of the round, once per round
  AggregationErrors     rejected updates plus failed aggregations (count)
  SpokeEpsilon          [SpokeId] epsilon spent so far
  BudgetUsedPercent     [SpokeId] 100 * epsilon spent / epsilon limit
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

_PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """`topic` (KMS, TLS-only, e-mail subscription), `dashboard`, and `alarms` for a failed run,
    a spoke dropout, a spoke at or above 90% of its budget, and aggregation errors."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, namespace: str,
                 spoke_ids: Sequence[str], state_machine: sfn.IStateMachine, aggregate: lambda_.IFunction,
                 key: kms.IKey, alarm_email: str) -> None:
        super().__init__(scope, construct_id)
        self._namespace = namespace
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
        ))
        self.topic = sns.Topic(self, "Alarms", display_name=f"{name} alarms", master_key=key, enforce_ssl=True)
        self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        run_failures = cloudwatch.MathExpression(
            label="Failed, timed-out or aborted runs",
            expression="failed + timedOut + aborted",
            using_metrics={"failed": state_machine.metric_failed(period=_PERIOD),
                           "timedOut": state_machine.metric_timed_out(period=_PERIOD),
                           "aborted": state_machine.metric_aborted(period=_PERIOD)},
            period=_PERIOD,
        )
        aggregation_errors = cloudwatch.MathExpression(
            label="Aggregation errors",
            expression="FILL(rejected, 0) + FILL(crashed, 0)",
            using_metrics={"rejected": self._metric("AggregationErrors", "Sum"),
                           "crashed": aggregate.metric_errors(period=_PERIOD)},
            period=_PERIOD,
        )
        self.alarms = [
            self._alarm("RunFailed", run_failures, 1, "A training run failed, timed out or was aborted"),
            self._alarm("SpokeDropout", self._metric("SpokeDropouts", "Sum"), 1,
                        "An eligible spoke did not deliver a valid update this round"),
            self._alarm("AggregationErrors", aggregation_errors, 1,
                        "Updates were rejected or the aggregation function failed"),
        ]
        for spoke_id in spoke_ids:
            self.alarms.append(self._alarm(
                f"Budget90-{spoke_id}", self._metric("BudgetUsedPercent", "Maximum", spoke_id), 90,
                f"Spoke {spoke_id} has spent 90% or more of its privacy budget"))

        epsilon = [self._metric("SpokeEpsilon", "Maximum", spoke_id) for spoke_id in spoke_ids]
        budget = [self._metric("BudgetUsedPercent", "Maximum", spoke_id) for spoke_id in spoke_ids]
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=name, widgets=[
            [self._graph("Loss per round", [self._metric("RoundLoss", "Average")]),
             self._graph("Epsilon per spoke", epsilon),
             self._graph("Budget used per spoke (%)", budget, threshold=90)],
            [self._graph("Participating spokes", [self._metric("ParticipatingSpokes", "Minimum"),
                                                  self._metric("SpokeDropouts", "Sum")]),
             self._graph("Round duration (s)", [self._metric("RoundDurationSeconds", "Maximum")]),
             self._graph("Aggregation errors", [aggregation_errors], threshold=1)],
            [self._graph("Runs", [state_machine.metric_started(period=_PERIOD),
                                  state_machine.metric_succeeded(period=_PERIOD), run_failures])],
        ])

    def _metric(self, metric_name: str, statistic: str, spoke_id: str | None = None) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._namespace, metric_name=metric_name, statistic=statistic, period=_PERIOD,
            dimensions_map={"SpokeId": spoke_id} if spoke_id else None,
            label=f"{metric_name} {spoke_id}" if spoke_id else metric_name,
        )

    def _alarm(self, construct_id: str, metric: cloudwatch.IMetric, threshold: float,
               description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        return alarm

    @staticmethod
    def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], threshold: float | None = None):
        return cloudwatch.GraphWidget(
            title=title, left=list(metrics), width=8, height=6,
            left_annotations=[cloudwatch.HorizontalAnnotation(value=threshold)] if threshold is not None else None,
        )
