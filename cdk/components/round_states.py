"""Task states of the round loop, written as plain Amazon States Language.

The tasks are CustomStates rather than CDK's LambdaInvoke/BatchSubmitJob so that the ASL is exactly
what the local sandbox executes (moto) and so that IAM stays explicit: the L2 tasks would grant
`lambda:InvokeFunction` on `<arn>:*` and `sts:AssumeRole` on `*` for a JSONPath role.
"""

from __future__ import annotations

from typing import Any, Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

# Transient errors worth retrying with backoff. Anything else is caught and recorded.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
BATCH_TRANSIENT_ERRORS = ("Batch.AWSBatchException", "Batch.ServerException", "Batch.TooManyRequestsException")


def lambda_task(
    scope: Construct,
    state_id: str,
    *,
    function: lambda_.IFunction,
    timeout: Duration,
    payload: Mapping[str, Any],
    result_path: str,
    result_selector: Mapping[str, str] | None = None,
) -> sfn.CustomState:
    """`arn:aws:states:::lambda:invoke` with an explicit payload, a Task timeout just above the
    function's own, and retries with exponential backoff and jitter on Lambda service errors."""
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": f"arn:{Stack.of(scope).partition}:states:::lambda:invoke",
        "Parameters": {"FunctionName": function.function_arn, "Payload": dict(payload)},
        "TimeoutSeconds": int(timeout.to_seconds()) + 30,
        "ResultPath": result_path,
    }
    if result_selector:
        state["ResultSelector"] = dict(result_selector)
    task = sfn.CustomState(scope, state_id, state_json=state)
    task.add_retry(
        errors=list(LAMBDA_TRANSIENT_ERRORS),
        interval=Duration.seconds(2),
        max_attempts=6,
        backoff_rate=2.0,
        max_delay=Duration.seconds(60),
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def spoke_job_task(scope: Construct, state_id: str, *, mode: str, timeout: Duration) -> sfn.CustomState:
    """`arn:aws:states:::batch:submitJob.sync` in the spoke's own account.

    Runs inside a Map whose item is {"run_id", "round", "config_sha256", "spoke": {descriptor}}; the
    launch role, job queue and job definition all come from the item because every spoke is a different
    account, and the queue and job definition are those of the run's compute class (InitRun chose them). The trainer reads RUN_ID, ROUND, SPOKE_ID, TRAINER_MODE ("stats" or "train") and
    CONFIG_SHA256 (the run's published config must have it) from its environment. Output: the item plus
    "job": {"job_id", "status"}.
    """
    task = sfn.CustomState(scope, state_id, state_json={
        "Type": "Task",
        "Resource": f"arn:{Stack.of(scope).partition}:states:::batch:submitJob.sync",
        "Credentials": {"RoleArn.$": "$.spoke.launch_role_arn"},
        "Parameters": {
            "JobName.$": f"States.Format('{mode}-r{{}}-{{}}', $.round, $.spoke.spoke_id)",
            "JobQueue.$": "$.spoke.job_queue_arn",
            "JobDefinition.$": "$.spoke.job_definition",
            "ContainerOverrides": {
                "Environment": [
                    {"Name": "RUN_ID", "Value.$": "$.run_id"},
                    {"Name": "ROUND", "Value.$": "States.Format('{}', $.round)"},
                    {"Name": "SPOKE_ID", "Value.$": "$.spoke.spoke_id"},
                    {"Name": "CONFIG_SHA256", "Value.$": "$.config_sha256"},
                    {"Name": "TRAINER_MODE", "Value": mode},
                ],
            },
        },
        "ResultSelector": {"job_id.$": "$.JobId", "status.$": "$.Status"},
        "ResultPath": "$.job",
        "TimeoutSeconds": int(timeout.to_seconds()),
    })
    task.add_retry(
        errors=list(BATCH_TRANSIENT_ERRORS),
        interval=Duration.seconds(30),
        max_attempts=3,
        backoff_rate=2.0,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


def spoke_map(scope: Construct, state_id: str, *, job: sfn.CustomState, items_path: str,
              round_path: str) -> sfn.Map:
    """Run `job` for every spoke in `items_path`, tolerating failures: each item ends in either
    {"spoke_id", "status": "SUCCEEDED", "job_id"} or, via its Catch, {"spoke_id", "status": "FAILED",
    "error": {"Error", "Cause"}}. The Map's output is the list of those records; quorum is judged by
    the next Lambda."""
    succeeded = sfn.Pass(scope, f"{state_id}SpokeSucceeded", parameters={
        "spoke_id.$": "$.spoke.spoke_id", "status": "SUCCEEDED", "job_id.$": "$.job.job_id"})
    failed = sfn.Pass(scope, f"{state_id}SpokeFailed", parameters={
        "spoke_id.$": "$.spoke.spoke_id", "status": "FAILED", "error.$": "$.error"})
    job.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    spokes = sfn.Map(
        scope,
        state_id,
        items_path=items_path,
        item_selector={"run_id.$": "$.run_id", "round.$": round_path, "config_sha256.$": "$.run.config_sha256",
                       "spoke.$": "$$.Map.Item.Value"},
        max_concurrency=0,
        result_path="$.reports",
    )
    spokes.item_processor(job.next(succeeded))
    return spokes
