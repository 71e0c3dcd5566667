"""functions.api as deployed: built from the Lambda environment over DynamoDB, S3, KMS and Step Functions (moto)."""

from __future__ import annotations

import importlib
import json
import sys

import boto3
import pytest

from apigw import ADMIN, RESEARCHER, Gateway, LambdaContext, rest_event
from conftest import REGION
from functions.hub_environment import step_services

SPOKE_IDS = json.dumps(["hosp-a", "hosp-b"])


def _table(name: str) -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    return name


@pytest.fixture
def deployed(sfn, bucket, monkeypatch):
    """Import functions.api the way the Lambda runtime does, with the environment the CDK sets."""
    _, state_machine_arn = sfn
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    env = {"HUB_BUCKET": bucket, "HUB_KMS_KEY_ID": key_id, "RUNS_TABLE": _table("runs"),
           "LEDGER_TABLE": _table("ledger"), "AUDIT_TABLE": _table("audit"), "SPOKE_IDS": SPOKE_IDS,
           "DEFAULT_EPSILON": "3.0", "DELTA": "1e-05", "ROUNDS": "4", "QUORUM": "2",
           "STATE_MACHINE_ARN": state_machine_arn, "AWS_LAMBDA_FUNCTION_NAME": "fedcore-dev-api",
           "API_INLINE_ROWS": "500", "API_MAX_ROWS": "5000"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    step_services.cache_clear()
    for name in ("functions.api", "functions.api_app.local_server"):
        sys.modules.pop(name, None)
    module = importlib.import_module("functions.api")
    yield module
    sys.modules.pop("functions.api", None)
    step_services.cache_clear()


def test_the_handler_reads_settings_from_the_environment(deployed):
    settings = deployed.app.state.api_context.settings
    assert settings.spokes == ("hosp-a", "hosp-b") and (settings.inline_row_limit, settings.max_rows) == (500, 5000)
    assert (settings.default_rounds, settings.default_quorum, settings.delta) == (4, 2, 1e-5)
    assert "functions.api_app.local_server" not in sys.modules  # the local authorizer is never loaded


def test_without_authorizer_claims_every_data_route_is_401(deployed):
    for method, path in (("GET", "/models"), ("POST", "/generate"), ("GET", "/audit-log"), ("POST", "/runs")):
        response = deployed.handler(rest_event(method, path, None, body={"rows": 1}), LambdaContext())
        assert response["statusCode"] == 401
        assert json.loads(response["body"])["error"]["code"] == "unauthenticated"
    health = deployed.handler(rest_event("GET", "/health"), LambdaContext())
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}


def test_with_claims_requests_reach_dynamodb_and_refuse_generation_before_a_model_exists(deployed):
    gateway = Gateway(deployed.handler)
    models = gateway("GET", "/models", RESEARCHER)
    generate = gateway("POST", "/generate", RESEARCHER, body={"rows": 10})
    budget = gateway("GET", "/privacy-budget", RESEARCHER)
    assert models.status == 200 and models.json() == {"models": []}
    assert (generate.status, generate.code) == (409, "no_published_model")
    assert [row["spoke"] for row in budget.json()["spokes"]] == ["hosp-a", "hosp-b"]


def test_an_admin_starts_a_run_and_the_audit_table_records_who(deployed, sfn):
    client, _ = sfn
    gateway = Gateway(deployed.handler)
    reply = gateway("POST", "/runs", ADMIN, body={"run_id": "deployed-1"})
    assert reply.status == 202, reply.text
    sent = json.loads(client.describe_execution(executionArn=reply.json()["execution_arn"])["input"])
    assert sent["config"]["rounds"] == 4 and sent["config"]["quorum"] == 2  # the deployment's ROUNDS and QUORUM
    [entry] = gateway("GET", "/audit-log", RESEARCHER).json()["entries"]
    assert entry["action"] == "run.start_requested" and entry["actor"] == "user:alice"
    assert gateway("GET", "/runs/deployed-1", RESEARCHER).json()["status"] == "STARTING"


def test_identity_headers_without_claims_are_ignored(deployed):
    headers = {"Authorization": "Bearer " + "a" * 43, "X-Cognito-Groups": "admin", "X-Forwarded-User": "alice"}
    response = deployed.handler(rest_event("POST", "/privacy-budget/reset", None, headers=headers,
                                           body={"spoke": "hosp-a", "reason": "x"}), LambdaContext())
    assert response["statusCode"] == 401


def test_download_links_are_signed_with_sigv4_for_the_kms_encrypted_bucket(deployed):
    url = deployed.app.state.api_context.services.blobs.presigned_get("generated/x.csv", 60)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=60" in url


def test_settings_fail_fast_on_a_missing_variable(monkeypatch):
    from functions.api_app.settings import ApiSettings

    with pytest.raises(KeyError, match="STATE_MACHINE_ARN"):
        ApiSettings.from_env({"SPOKE_IDS": SPOKE_IDS})
    with pytest.raises(ValueError, match="state machine ARN"):
        ApiSettings.from_env({"SPOKE_IDS": SPOKE_IDS, "STATE_MACHINE_ARN": "round-loop"})
    with pytest.raises(ValueError, match="inline_row_limit"):
        ApiSettings.from_env({"SPOKE_IDS": SPOKE_IDS, "API_INLINE_ROWS": "10", "API_MAX_ROWS": "5",
                              "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:x"})
