"""Starting, describing and stopping the round loop's Step Functions executions.

An execution is named after its run, so StartExecution itself refuses a second run with the
same id, and a run's execution is found without a lookup table.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import boto3
from botocore.exceptions import ClientError

from functions.api_app.settings import ApiSettings


class ExecutionExistsError(RuntimeError):
    """An execution (a run) with this name already exists."""


class ExecutionNotFoundError(LookupError):
    """No execution of the round loop has this name."""


class RunLauncher:
    def __init__(self, settings: ApiSettings, client=None) -> None:
        self._settings = settings
        self._sfn = client or boto3.client("stepfunctions", region_name=settings.region)

    def start(self, run_id: str, config: dict) -> str:
        """Start the round loop with input {"run_id", "config"}; return the execution ARN."""
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self._settings.state_machine_arn, name=run_id,
                input=json.dumps({"run_id": run_id, "config": config}, sort_keys=True))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise ExecutionExistsError(f"run {run_id!r} already exists") from exc
            raise
        return response["executionArn"]

    def describe(self, run_id: str) -> dict | None:
        """The execution's description, or None when the round loop has no execution of that name."""
        try:
            return self._sfn.describe_execution(executionArn=self._settings.execution_arn(run_id))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound"):
                return None
            raise

    def stop(self, run_id: str, cause: str) -> str:
        """Stop a running execution; return its status afterwards."""
        arn = self._settings.execution_arn(run_id)
        try:
            self._sfn.stop_execution(executionArn=arn, error="StoppedByAdmin", cause=cause[:32768])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ResourceNotFound"):
                raise ExecutionNotFoundError(f"no execution for run {run_id!r}") from exc
            raise
        described = self.describe(run_id)
        return described["status"] if described else "ABORTED"

    def console_url(self, execution_arn: str) -> str:
        region = self._settings.region
        domain = "console.amazonaws.cn" if self._settings.partition == "aws-cn" else "console.aws.amazon.com"
        return (f"https://{region}.{domain}/states/home?region={region}"
                f"#/v2/executions/details/{quote(execution_arn, safe='')}")
