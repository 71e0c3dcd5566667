"""The whole platform on one machine: emulated accounts, the synthesized round loop, real code.

    with Sandbox(spokes=3, workdir=Path("out/sandbox")) as sandbox:
        sandbox.upload_table("hosp-a", csv_bytes)
        execution = sandbox.start_run("run-1", {"rounds": 2, "schema": "actg175"})
        sandbox.wait(execution)

Only one sandbox runs per process (the dispatch hooks and handler environment are process-wide).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fedcore.audit import AuditLog
from fedcore.aws.dynamo_audit import DynamoAuditStore
from fedcore.aws.dynamo_ledger import DynamoLedgerStore
from fedcore.aws.dynamo_runs import DynamoRunStore
from fedcore.aws.kms_keys import KmsKeyProvider
from fedcore.aws.s3_blobs import S3BlobStore
from fedcore.privacy import PrivacyLedger
from fedcore.runtime.ports import HubServices
from sandbox import moto_dispatch
from sandbox.batch_runtime import BatchRuntime, JobHook
from sandbox.emulator import Emulator
from sandbox.lambda_runtime import InvokeHook, LambdaRuntime
from sandbox.provision import Deployment, provision
from sandbox.cloudformation_templates import synthesized_app

logger = logging.getLogger(__name__)

TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class ExecutionResult:
    arn: str
    name: str
    status: str  # Step Functions' status
    output: dict | None
    error: str | None
    cause: str | None


class Sandbox:
    def __init__(self, spokes: int = 3, workdir: Path | None = None) -> None:
        self.spoke_count = spokes
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="fedcore-sandbox-"))
        self.emulator: Emulator | None = None
        self.deployment: Deployment | None = None
        self.lambdas: LambdaRuntime | None = None
        self.batch: BatchRuntime | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        app = synthesized_app(self.spoke_count)
        self.emulator = Emulator(app.hub.region)
        self.emulator.start()
        environment = self._role_environment
        self.lambdas = LambdaRuntime(self.emulator.endpoint_url, app.hub.region, environment,
                                     self.workdir / "logs" / "lambda")
        self.batch = BatchRuntime(self.emulator.endpoint_url, environment, self.workdir / "logs" / "batch",
                                  threads_per_job=max(1, (os.cpu_count() or 1) // self.spoke_count))
        try:
            moto_dispatch.install(_Dispatcher(self))
        except Exception:
            self.emulator.stop()
            raise
        try:
            self.deployment = provision(self.emulator, app)
        except Exception:
            self.stop()
            raise
        logger.info("sandbox up: hub %s, spokes %s", app.hub.account,
                    {s.spoke_id: s.account for s in self.deployment.spokes.values()})

    def stop(self) -> None:
        if self.batch is not None:
            self.batch.kill_all()
        moto_dispatch.uninstall()
        if self.emulator is not None:
            self.emulator.stop()
        self.emulator = None

    def _role_environment(self, role_arn: str) -> dict[str, str]:
        return self.emulator.credentials(role_arn).environment()

    # --- hooks (fault injection) -------------------------------------------------------------

    def add_invoke_hook(self, hook: InvokeHook) -> None:
        self.lambdas.hooks.append(hook)

    def add_job_hook(self, hook: JobHook) -> None:
        self.batch.hooks.append(hook)

    def clear_hooks(self) -> None:
        self.lambdas.hooks.clear()
        self.batch.hooks.clear()

    # --- the hub, as its operators see it ----------------------------------------------------

    @property
    def hub(self):
        return self.deployment.hub

    @property
    def spoke_ids(self) -> list[str]:
        return list(self.deployment.spokes)

    def hub_client(self, service: str):
        return self.emulator.client(service, account=self.hub.account)

    def operator_services(self) -> HubServices:
        """Adapters over the hub's emulated bucket, key and tables with the operator's credentials (no step's limits)."""
        hub = self.hub
        delta = float(hub.functions["aggregate"].environment["DELTA"])
        return HubServices(
            blobs=S3BlobStore(hub.bucket, client=self.hub_client("s3")),
            keys=KmsKeyProvider(hub.key_arn, client=self.hub_client("kms")),
            ledger=PrivacyLedger(DynamoLedgerStore(hub.ledger_table, client=self.hub_client("dynamodb")), delta),
            audit=AuditLog(DynamoAuditStore(hub.audit_table, client=self.hub_client("dynamodb"))),
            runs=DynamoRunStore(hub.runs_table, client=self.hub_client("dynamodb")),
        )

    def api_environment(self) -> dict[str, str]:
        """The API function's environment with its own role's credentials and the emulator endpoint."""
        api = self.hub.functions["api"]
        return {**api.environment, **self._role_environment(api.role_arn),
                "AWS_ENDPOINT_URL": self.emulator.endpoint_url, "AWS_REGION": self.hub.region,
                "AWS_DEFAULT_REGION": self.hub.region}

    # --- the spokes, as each hospital sees its own account ------------------------------------

    def spoke_client(self, spoke_id: str, service: str):
        return self.emulator.client(service, account=self.deployment.spokes[spoke_id].account)

    def upload_table(self, spoke_id: str, data: bytes) -> None:
        """The hospital puts its patient table where its trainer job reads it."""
        spoke = self.deployment.spokes[spoke_id]
        self.spoke_client(spoke_id, "s3").put_object(Bucket=spoke.data_bucket, Key=spoke.data_key, Body=data)

    # --- runs --------------------------------------------------------------------------------

    def start_run(self, run_id: str, config: dict) -> str:
        """Start the round loop for ``run_id`` (the execution is named after the run)."""
        response = self.hub_client("stepfunctions").start_execution(
            stateMachineArn=self.hub.state_machine_arn, name=run_id,
            input=json.dumps({"run_id": run_id, "config": config}))
        return response["executionArn"]

    def describe(self, execution_arn: str) -> ExecutionResult:
        described = self.hub_client("stepfunctions").describe_execution(executionArn=execution_arn)
        output = described.get("output")
        return ExecutionResult(execution_arn, described["name"], described["status"],
                               json.loads(output) if output else None, described.get("error"), described.get("cause"))

    def wait(self, execution_arn: str, timeout: float = 1800, poll: float = 0.5) -> ExecutionResult:
        deadline = time.time() + timeout
        sfn = self.hub_client("stepfunctions")
        while time.time() < deadline:
            if sfn.describe_execution(executionArn=execution_arn)["status"] in TERMINAL_STATUSES:
                return self.describe(execution_arn)
            time.sleep(poll)
        raise TimeoutError(f"{execution_arn} still running after {timeout} s")

    def history(self, execution_arn: str) -> list[dict]:
        """The execution's events, oldest first, as GetExecutionHistory returns them."""
        sfn = self.hub_client("stepfunctions")
        events, token = [], None
        while True:
            page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                             **({"nextToken": token} if token else {}))
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events


class _Dispatcher:
    """What the moto hooks call: the sandbox's runtimes and credentials."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self.endpoint_url = sandbox.emulator.endpoint_url

    def invoke(self, call, payload):
        return self._sandbox.lambdas.invoke(call, payload)

    def run_job(self, job):
        return self._sandbox.batch.run_job(job)

    def task_credentials(self, role_arn: str) -> dict[str, str]:
        return self._sandbox.emulator.credentials(role_arn).client_kwargs()
