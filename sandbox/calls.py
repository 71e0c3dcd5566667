"""What the emulator hands to the sandbox's runtimes, and what they answer (no moto in here).

``moto_dispatch`` turns a Lambda Invoke into a ``FunctionCall`` and a Batch SubmitJob into a
``JobSpec`` and passes them to a ``Dispatcher``; the runtimes that run handlers and trainer
processes depend on these types only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FunctionCall:
    """A Lambda invocation as the emulator received it."""

    name: str
    arn: str
    handler: str  # the image's CMD, e.g. "functions.aggregate.handler"
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    role_arn: str


@dataclass(frozen=True)
class LambdaResult:
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the handler raised


class ServiceError(RuntimeError):
    """Raised by ``Dispatcher.invoke`` to make the Invoke call itself fail (Lambda.ServiceException)."""


@dataclass(frozen=True)
class JobSpec:
    """A submitted Batch job: its merged environment and the role its container runs as."""

    job_id: str
    job_name: str
    account: str
    region: str
    job_queue_arn: str
    job_definition_arn: str
    environment: dict[str, str]
    job_role_arn: str | None
    timeout_seconds: int | None


@dataclass(frozen=True)
class JobOutcome:
    exit_code: int
    reason: str  # Batch's statusReason


class Dispatcher(Protocol):
    endpoint_url: str

    def invoke(self, call: FunctionCall, payload: bytes) -> LambdaResult: ...

    def run_job(self, job: JobSpec) -> JobOutcome: ...

    def task_credentials(self, role_arn: str) -> dict[str, str]:
        """boto3 client keyword arguments (access key, secret, token) for a role."""
