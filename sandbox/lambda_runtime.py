"""Runs the real ``functions/*`` handlers in this process, as the emulated Lambda service would.

What it calls is what the Lambda runtime calls: the handler the function's image names (its CMD in the
synthesized template, e.g. ``functions.aggregate.handler``), and, where AWS would start a new container,
``functions.hub_environment.cold_start``. Environment variables are process-global, so invocations run
one at a time with the function's variables (and its role's credentials, the emulator endpoint,
``AWS_REGION``) set for the call and restored after. The hub handlers build their adapters once per
container; when the calling identity or endpoint changes, ``cold_start`` makes the next call build them
against the emulator again. A handler's stdout (Powertools logs and EMF metrics) goes to
``<log_dir>/<function>.log``, like CloudWatch Logs.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from functions.hub_environment import cold_start
from sandbox.calls import FunctionCall, LambdaResult, ServiceError

logger = logging.getLogger(__name__)

POWERTOOLS_LOGGER = "fedcore-hub"  # functions.observability's Logger(service=...)


class Fault(enum.Enum):
    """What an ``InvokeHook`` may ask for, to simulate the Lambda service failing."""

    SERVICE_ERROR_BEFORE = "service_error_before"  # Invoke fails; the handler never runs
    SERVICE_ERROR_AFTER = "service_error_after"  # the handler runs, then Invoke fails (response lost)


InvokeHook = Callable[[str, dict], "Fault | None"]  # (handler module e.g. "aggregate", event)


@dataclass(frozen=True)
class LambdaContext:
    """The attributes Powertools and handlers read from the Lambda context object."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "sandbox"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


@dataclass(frozen=True)
class Invocation:
    """One handler call, for measurements: which function, when, and for how long."""

    function: str
    started: float
    seconds: float
    error: str | None


@dataclass
class LambdaRuntime:
    endpoint_url: str
    region: str
    credentials_for_role: Callable[[str], dict[str, str]]  # role ARN -> AWS_* environment variables
    log_dir: Path
    hooks: list[InvokeHook] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._identity: tuple | None = None
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def invoke(self, call: FunctionCall, payload: bytes) -> LambdaResult:
        event = json.loads(payload or b"{}")
        module = call.handler.rsplit(".", 1)[0]
        short_name = module.rsplit(".", 1)[-1]
        with self._lock:
            faults = [fault for hook in self.hooks if (fault := hook(short_name, event)) is not None]
            if Fault.SERVICE_ERROR_BEFORE in faults:
                raise ServiceError(f"injected: {call.name} is unavailable (before the handler ran)")
            env = {**call.environment, **self.credentials_for_role(call.role_arn),
                   "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_REGION": self.region,
                   "AWS_DEFAULT_REGION": self.region, "AWS_LAMBDA_FUNCTION_NAME": call.name,
                   "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(call.memory_mb)}
            started = time.time()
            with _environment(env):
                self._refresh_adapters(env)
                # imported before stdout is redirected: Powertools binds its log stream at import
                handler = getattr(importlib.import_module(module), call.handler.rsplit(".", 1)[1])
                context = LambdaContext(call.name, call.arn, call.memory_mb, str(uuid.uuid4()),
                                        started + call.timeout_seconds)
                with self._function_log(call.name):
                    result = _call(handler, event, context, call.name)
            self.invocations.append(Invocation(short_name, started, time.time() - started,
                                               None if result.function_error is None else "Unhandled"))
            if Fault.SERVICE_ERROR_AFTER in faults:
                raise ServiceError(f"injected: {call.name} ran but its response was lost")
            return result

    def _refresh_adapters(self, env: dict[str, str]) -> None:
        """New identity or endpoint: a new container (adapters and default session built again)."""
        identity = (env["AWS_ACCESS_KEY_ID"], self.endpoint_url, env.get("HUB_BUCKET"))
        if identity == self._identity:
            return
        cold_start()
        self._identity = identity

    @contextlib.contextmanager
    def _function_log(self, function_name: str) -> Iterator[None]:
        with open(self.log_dir / f"{function_name}.log", "a") as log:
            # Powertools' handler holds the stdout of when functions.observability was imported (it may be
            # closed since, e.g. a test's capture): swap the attribute, as setStream would flush the old one.
            handlers = [h for h in logging.getLogger(POWERTOOLS_LOGGER).handlers
                        if isinstance(h, logging.StreamHandler)]
            previous = [h.stream for h in handlers]
            for handler in handlers:
                handler.stream = log
            try:
                with contextlib.redirect_stdout(log), warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    yield
                for warning in caught:  # e.g. Powertools' "no metrics" notice: the function's log, not ours
                    log.write(f"WARNING {warning.category.__name__}: {warning.message}\n")
            finally:
                for handler, stream in zip(handlers, previous):
                    handler.stream = sys.__stdout__ if getattr(stream, "closed", False) else stream


def _call(handler, event: dict, context: LambdaContext, name: str) -> LambdaResult:
    try:
        return LambdaResult(json.dumps(handler(event, context)).encode())
    except Exception as exc:  # an unhandled error, reported the way Lambda reports it
        logger.info("%s raised %s: %s", name, type(exc).__name__, exc)
        return LambdaResult(json.dumps({
            "errorMessage": str(exc), "errorType": type(exc).__name__,
            "stackTrace": traceback.format_exception(exc)[-5:],
        }).encode(), function_error="Unhandled")


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
