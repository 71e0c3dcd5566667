"""Property-based contract test of the whole API against its own OpenAPI document (schemathesis).

Every operation gets at least 50 generated requests (valid and invalid), sent as an admin through a
stand-in for API Gateway's Cognito authorizer. Checks: no 5xx, documented status codes and content
types, responses that match their schemas, invalid data rejected, and no operation that answers
2xx once the credentials are removed or wrong.
"""

from __future__ import annotations

import os
import uuid

import boto3
import pytest
import schemathesis
from botocore.config import Config
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import NegativeDataRejectionConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance, ignored_auth, negative_data_rejection, response_schema_conformance,
    status_code_conformance,
)

from apigw import ADMIN, RESEARCHER
from conftest import REGION, RUN_ID, api_settings
from fedcore.aws.s3_blobs import S3BlobStore
from functions.api_app import create_app

TOKENS = {"admin-token-" + "a" * 40: ADMIN, "researcher-token-" + "r" * 40: RESEARCHER}
ADMIN_TOKEN = next(iter(TOKENS))
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "50"))  # per operation; lower it only to iterate locally
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection, ignored_auth]


class CognitoAuthorizerStandIn:
    """Like API Gateway: a token it knows becomes authorizer claims in the event; anything else reaches
    the app with no claims at all (where a real stage would refuse it), so the app's own fail-closed
    path is what the probes hit."""

    def __init__(self, app, tokens: dict[str, dict]) -> None:
        self.app, self.tokens = app, tokens

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope = {k: v for k, v in scope.items() if k != "aws.event"}
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            claims = self.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
            if claims is not None:
                scope["aws.event"] = {"requestContext": {"requestId": str(uuid.uuid4()),
                                                         "authorizer": {"claims": claims}}}
        await self.app(scope, receive, send)


@pytest.fixture
def api_schema(trained_hub, sfn, bucket):
    client, state_machine_arn = sfn
    s3 = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))
    services = trained_hub.services(blobs=S3BlobStore(bucket, s3))
    app = create_app(services, api_settings(state_machine_arn, inline_row_limit=20, max_rows=120,
                                            max_body_bytes=4096), sfn_client=client)
    loaded = schemathesis.openapi.from_asgi("/openapi.json", CognitoAuthorizerStandIn(app, TOKENS))
    # An oversized body is refused with 413 before it is parsed: that is a rejection too.
    loaded.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
        expected_statuses=[*NegativeDataRejectionConfig().expected_statuses, "413"])
    return loaded, client, state_machine_arn


def _operations() -> list[tuple[str, bool]]:
    """(label, whether it takes any input), read from an app built only to render its OpenAPI document."""
    arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:x"
    services = type("NoServices", (), {"blobs": None})()
    app = create_app(services, api_settings(arn, max_rows=1, inline_row_limit=1), sfn_client=object())
    return [(f"{method.upper()} {path}", bool(op.get("parameters") or op.get("requestBody")))
            for path, item in app.openapi()["paths"].items() for method, op in item.items()]


AIMED = {"GET /runs/{run_id}", "POST /runs/{run_id}/stop", "POST /privacy-budget/set-limit",
         "POST /privacy-budget/reset", "GET /models/{version}",
         "GET /models/{version}/download", "GET /models/{version}/measurements"}  # random ids rarely exist: one more valid pass with real ones


def _aim(case, sfn_client, state_machine_arn) -> None:
    """Point a generated valid case at an existing run, a running execution, a published version or a known
    hospital."""
    if "run_id" in (case.path_parameters or {}):
        run_id = RUN_ID
        if case.method.upper() == "POST":  # stop: each case gets its own running execution
            run_id = f"fuzz-{uuid.uuid4().hex[:12]}"
            sfn_client.start_execution(stateMachineArn=state_machine_arn, name=run_id, input="{}")
        case.path_parameters["run_id"] = run_id
    if "version" in (case.path_parameters or {}):
        case.path_parameters["version"] = f"{RUN_ID}-r0001"
    if isinstance(case.body, dict) and "spoke" in case.body:
        case.body["spoke"] = "s1"


def _vanishes_on_the_wire(case) -> bool:
    """A query parameter whose value is an empty list or object is not sent at all (form encoding cannot
    write one): a negative case whose only invalid part is such a parameter reaches the app as valid data,
    and its 2xx is the client's doing, not the app accepting invalid input."""
    return any(value in ([], {}) for value in (case.query or {}).values())


@pytest.mark.slow
@pytest.mark.parametrize(("label", "takes_input"), _operations(), ids=[label for label, _ in _operations()])
def test_every_operation_honours_its_openapi_contract(api_schema, label, takes_input):
    loaded, sfn_client, state_machine_arn = api_schema
    method, path = label.split(" ", 1)
    operation = loaded[path][method]
    passes = [("valid", GenerationMode.POSITIVE)]
    passes += [("aimed", GenerationMode.POSITIVE)] if label in AIMED else []
    passes += [("invalid", GenerationMode.NEGATIVE)] if takes_input else []
    statuses = {name: [] for name, _ in passes}
    for name, mode in passes:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)  # reproducible in CI; vary with --hypothesis-seed when exploring
        def run(case):
            if mode == GenerationMode.NEGATIVE:
                assume(not _vanishes_on_the_wire(case))
            if name == "aimed":
                _aim(case, sfn_client, state_machine_arn)
            # A negative case may carry a deliberately malformed Authorization header: sending our
            # valid token over it would make schemathesis see its invalid input "accepted".
            mangled_auth = mode == GenerationMode.NEGATIVE and "Authorization" in (case.headers or {})
            headers = {} if mangled_auth else {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            statuses[name].append(response.status_code)

        run()
    if takes_input:
        assert all(len(codes) >= EXAMPLES for codes in statuses.values()), {k: len(v) for k, v in statuses.items()}
    if label in AIMED:
        assert any(200 <= code < 300 for code in statuses["aimed"]), statuses["aimed"]
