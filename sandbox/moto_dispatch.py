"""The only code that touches moto's internals: where emulated calls reach real code.

moto (pinned to 5.2.5, checked by ``install``) executes the synthesized state machine, but on its own
a Lambda invoke answers with its input, a Batch job "succeeds" at once, every Task calls AWS as
one default account, Batch parameters keep their ASL spelling, and KMS keys are invisible outside
their account. ``install`` changes five places, each to what AWS does:

- Lambda (``use_docker: False`` backend): ``Invoke`` hands the function's configuration and payload
  to ``Dispatcher.invoke`` (the real handler runs in-process); a ``ServiceError`` raised there
  becomes an HTTP 500 ``ServiceException``, which the interpreter names ``Lambda.ServiceException``.
- Batch (``use_docker: False`` backend): ``SubmitJob`` creates a job whose thread calls
  ``Dispatcher.run_job`` (the real trainer as a local process); its exit status makes the job
  SUCCEEDED or FAILED. moto's own status progression is bypassed (it would report SUCCEEDED at once).
- Step Functions: each Task's service client is made with the credentials of the role the Task runs
  as (its ``Credentials.RoleArn``, else the state machine's role), via ``Dispatcher.task_credentials``,
  so a spoke's Batch job is submitted and polled in the spoke's account.
- Step Functions' Batch integration: moto's interpreter passes the ASL's PascalCase parameters
  (``JobName``, ``ContainerOverrides.Environment[].Name``) to boto3 unchanged and returns Batch's
  camelCase response, so ``submitJob.sync`` fails (KeyError 'JobName') and ``$.JobId`` would not
  resolve. Parameters are renamed to the API's member names and responses to PascalCase, by the
  botocore shapes, as Step Functions does.
- KMS: a request naming a key or alias by ARN is served by the backend of the account in that ARN
  (cross-account use of the hub key by spoke trainers, as AWS allows for key and alias ARNs).

``create_administrator`` makes each account's first principal in the IAM backend, since with access
control on from the server's start no request could (``sandbox.emulator``).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
import moto
from botocore.config import Config
from botocore.model import ListShape, MapShape, Shape, StructureShape
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.batch.exceptions import ClientException
from moto.batch.models import Job
from moto.batch_simple.models import BatchSimpleBackend
from moto.core.exceptions import JsonRESTError
from moto.kms.models import kms_backends
from moto.kms.responses import KmsResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.parser.asl.utils import boto_client as sfn_boto_client

from sandbox.calls import Dispatcher, FunctionCall, JobOutcome, JobSpec, ServiceError

logger = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"
_INTERPRETER_MODULES = "moto.stepfunctions.parser."
_TASK_CLIENT_TIMEOUT_SECONDS = 3600


@dataclass
class _Installation:
    dispatcher: Dispatcher
    originals: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_active: _Installation | None = None


def install(dispatcher: Dispatcher) -> None:
    """Route the emulator's Lambda, Batch, Task-client and KMS paths to ``dispatcher`` (one at a time)."""
    global _active
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(f"sandbox is written against moto {MOTO_VERSION}, found {moto.__version__}")
    with _lock:
        if _active is not None:
            raise RuntimeError("a sandbox is already running in this process; stop it first")
        installation = _Installation(dispatcher)
        installation.originals = {
            "lambda_invoke": LambdaSimpleBackend.invoke,
            "batch_submit": BatchSimpleBackend.submit_job,
            "kms_backend": KmsResponse.__dict__["kms_backend"],
            "boto_client_for": sfn_boto_client.boto_client_for,
            "batch_parameters": StateTaskServiceBatch.__dict__.get("_normalise_parameters"),
            "batch_response": StateTaskServiceBatch.__dict__.get("_normalise_response"),
        }
        StateTaskServiceBatch._normalise_parameters = _batch_parameters_to_api
        StateTaskServiceBatch._normalise_response = _batch_response_to_sfn
        LambdaSimpleBackend.invoke = _invoke
        BatchSimpleBackend.submit_job = _submit_job
        KmsResponse.kms_backend = property(_kms_backend_for_key)
        _replace_task_client_factory(installation.originals["boto_client_for"], _task_client)
        _active = installation


def uninstall() -> None:
    global _active
    with _lock:
        if _active is None:
            return
        originals = _active.originals
        LambdaSimpleBackend.invoke = originals["lambda_invoke"]
        BatchSimpleBackend.submit_job = originals["batch_submit"]
        KmsResponse.kms_backend = originals["kms_backend"]
        for name, key in (("_normalise_parameters", "batch_parameters"), ("_normalise_response", "batch_response")):
            if originals[key] is None:
                delattr(StateTaskServiceBatch, name)
            else:
                setattr(StateTaskServiceBatch, name, originals[key])
        _replace_task_client_factory(_task_client, originals["boto_client_for"])
        _active = None


def create_administrator(account: str, user_name: str) -> tuple[str, str]:
    """An IAM user allowed everything in ``account``, and its access key (id, secret).

    Made in the backend, not through the API: with access control on from the server's start, no request
    could create the first principal (the alternative, counting unauthenticated calls, breaks as soon as
    their number changes). Everything after this is a signed, authorized request.
    """
    from moto.iam.models import iam_backends

    backend = iam_backends[account]["aws"]
    backend.create_user(region_name="us-east-1", user_name=user_name)
    backend.put_user_policy(user_name, "AdministratorAccess", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = backend.create_access_key(user_name)
    return key.access_key_id, key.secret_access_key


def _dispatcher() -> Dispatcher:
    if _active is None:
        raise RuntimeError("no sandbox dispatcher is installed")
    return _active.dispatcher


def _replace_task_client_factory(old, new) -> None:
    """``boto_client_for`` is imported by name into each service module; replace every binding."""
    _import_task_services()
    sfn_boto_client.boto_client_for = new
    for name, module in list(sys.modules.items()):
        if name.startswith(_INTERPRETER_MODULES) and getattr(module, "boto_client_for", None) is old:
            module.boto_client_for = new


def _import_task_services() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: F401
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: F401
        state_task_service_batch,
        state_task_service_factory,
    )


# --- Step Functions: Task clients as the Task's role -------------------------------------------


def _task_client(region: str, service: str, state_credentials: Any = None):
    dispatcher = _dispatcher()
    role_arn = getattr(state_credentials, "role_arn", None)
    if not role_arn:
        raise RuntimeError(f"a {service} Task ran without a role; the sandbox cannot choose an account")
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=dispatcher.endpoint_url,
        config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                      connect_timeout=_TASK_CLIENT_TIMEOUT_SECONDS, read_timeout=_TASK_CLIENT_TIMEOUT_SECONDS),
        **dispatcher.task_credentials(role_arn),
    )


# --- Step Functions' Batch integration: ASL names <-> API names ----------------------------------


def _operation(action: str):
    """botocore's model of a Batch operation; ``action`` as ASL ("submitJob") or boto3 ("describe_jobs")."""
    name = "".join(part[:1].upper() + part[1:] for part in action.split("_"))
    return botocore.session.get_session().get_service_model("batch").operation_model(name)


def _batch_parameters_to_api(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
    _rename_members(parameters, _operation(service_action_name or self.resource.api_action).input_shape,
                    lambda member, _: member)


def _batch_response_to_sfn(self, response: Any, boto_service_name=None, service_action_name=None) -> None:
    if isinstance(response, dict):
        response.pop("ResponseMetadata", None)
    _rename_members(response, _operation(service_action_name or self.resource.api_action).output_shape,
                    lambda member, _: member[:1].upper() + member[1:])


def _rename_members(value: Any, shape: Shape | None, name_for) -> None:
    """Rename structure keys in place (callers hold references into ``value``), recursively."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        by_lower = {member.lower(): member for member in shape.members}
        renamed = {}
        for key, item in value.items():
            member = by_lower.get(str(key).lower())
            if member is None:
                renamed[key] = item
                continue
            _rename_members(item, shape.members[member], name_for)
            renamed[name_for(member, key)] = item
        value.clear()
        value.update(renamed)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for item in value:
            _rename_members(item, shape.member, name_for)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for item in value.values():
            _rename_members(item, shape.value, name_for)


# --- Lambda: run the function's real handler ---------------------------------------------------


class _LambdaServiceException(JsonRESTError):
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)
        self.request_id = str(uuid.uuid4())

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        # The interpreter reads the RequestId of a failed call; moto's error responses carry none.
        return [*super().get_headers(*args, **kwargs), ("x-amzn-RequestId", self.request_id)]


def _invoke(self: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: Any, headers: Any,
            response_headers: dict) -> bytes:
    fn = self.get_function(function_name, qualifier)
    call = FunctionCall(
        name=fn.function_name, arn=fn.function_arn, handler=(fn.image_config.cmd or [fn.handler])[0],
        environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
        memory_mb=int(fn.memory_size), timeout_seconds=int(fn.timeout), role_arn=fn.role,
    )
    payload = body if isinstance(body, bytes) else (body or "{}").encode()
    try:
        result = _dispatcher().invoke(call, payload)
    except ServiceError as exc:
        raise _LambdaServiceException(str(exc)) from exc
    except Exception as exc:  # the sandbox itself broke: to the state machine, the Lambda service failed
        logger.exception("the sandbox could not invoke %s", call.name)
        raise _LambdaServiceException(f"the sandbox could not invoke {call.name}: {exc}") from exc
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    return result.payload


# --- Batch: run the job as a local process -----------------------------------------------------


class _LocalProcessJob(Job):
    """A Batch job whose status is its process's: RUNNING until it exits, then SUCCEEDED or FAILED."""

    spec: JobSpec | None = None

    @property
    def status(self) -> str | None:  # moto's ManagedState would jump to SUCCEEDED on first read
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    def _get_container_property(self, p: str, default: Any) -> Any:
        if p == "environment":  # moto's version appends to the override list on every describe
            assert self.spec is not None
            return [{"name": k, "value": v} for k, v in self.spec.environment.items()] + [
                {"name": "AWS_BATCH_JOB_ID", "value": self.job_id}]
        return super()._get_container_property(p, default)

    def run(self) -> None:
        assert self.spec is not None
        self.job_started_at = datetime.datetime.now()
        self.log_stream_name = self._stream_name
        self._start_attempt()
        self.status = "RUNNING"
        try:
            outcome = _dispatcher().run_job(self.spec)
        except Exception as exc:  # the runtime itself broke: the job fails, the sandbox keeps going
            logger.exception("job %s could not run", self.job_id)
            outcome = JobOutcome(exit_code=-1, reason=f"the sandbox could not run the job: {exc}")
        self.exit_code = outcome.exit_code
        self.job_stopped_reason = outcome.reason or None
        self._mark_stopped(success=outcome.exit_code == 0)


def _submit_job(self: BatchSimpleBackend, job_name: str, job_def_id: str, job_queue: str,
                array_properties: dict[str, Any], depends_on: list | None = None,
                container_overrides: dict[str, Any] | None = None,
                eks_properties_override: dict[str, Any] | None = None, timeout: dict[str, int] | None = None,
                parameters: dict[str, str] | None = None, tags: dict[str, str] | None = None):
    job_def = self.get_job_definition(job_def_id)
    if job_def is None:
        raise ClientException(f"Job definition {job_def_id} does not exist")
    queue = self.get_job_queue(job_queue)
    if queue is None:
        raise ClientException(f"Job queue {job_queue} does not exist in account {self.account_id}")
    if array_properties.get("size") or depends_on:
        raise ClientException("the fedcore sandbox runs single jobs only (no array jobs or dependencies)")
    job = _LocalProcessJob(
        job_name, job_def, queue, self, log_backend=self.logs_backend, container_overrides=container_overrides,
        eks_properties_override=eks_properties_override, depends_on=depends_on, all_jobs=self._jobs,
        timeout=timeout, array_properties=array_properties, parameters=parameters, tags=tags,
    )
    properties = job_def.container_properties or {}
    environment = _name_values(properties.get("environment"))
    environment.update(_name_values((container_overrides or {}).get("environment")))
    attempt_seconds = (timeout or job_def.timeout or {}).get("attemptDurationSeconds")
    job.spec = JobSpec(
        job_id=job.job_id, job_name=job_name, account=self.account_id, region=self.region_name,
        job_queue_arn=queue.arn, job_definition_arn=job_def.arn, environment=environment,
        job_role_arn=properties.get("jobRoleArn"), timeout_seconds=int(attempt_seconds) if attempt_seconds else None,
    )
    job.status = "RUNNABLE"
    self.backend._jobs[job.job_id] = job
    job.start()
    return job_name, job.job_id, job.arn


def _name_values(items: list | None) -> dict[str, str]:
    """Batch environment lists arrive as name/value or Name/Value pairs."""
    out = {}
    for item in items or []:
        name = item.get("name", item.get("Name"))
        out[str(name)] = str(item.get("value", item.get("Value", "")))
    return out


# --- KMS: keys addressed by ARN live in the ARN's account --------------------------------------


def _kms_backend_for_key(self: KmsResponse):
    key_id = self._get_param("KeyId") or self._get_param("DestinationKeyId")
    if isinstance(key_id, str) and key_id.startswith("arn:"):
        parts = key_id.split(":")
        if len(parts) > 5 and parts[4]:
            return kms_backends[parts[4]][parts[3]]
    return kms_backends[self.current_account][self.region]
