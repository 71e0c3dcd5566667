"""The local server behind ``demo --serve``: random tokens, a local authorizer, and no way to run deployed."""

from __future__ import annotations

import re

import pytest
import uvicorn

from apigw import Gateway
from conftest import api_settings
from functions.api_app import create_app
from functions.api_app.local_server import (
    DeployedEnvironmentError, LocalTokenAuthorizer, local_tokens, refuse_if_deployed, serve_local,
)


@pytest.mark.parametrize("marker", ["AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4",
                                    "AWS_BATCH_JOB_ID"])
def test_a_deployed_environment_is_refused(marker):
    with pytest.raises(DeployedEnvironmentError, match=marker):
        refuse_if_deployed("127.0.0.1", {marker: "x"})
    with pytest.raises(DeployedEnvironmentError):
        LocalTokenAuthorizer(local_tokens(), env={marker: "x"})


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "api.example.org"])
def test_only_loopback_addresses_are_served(host):
    with pytest.raises(DeployedEnvironmentError, match="loopback"):
        refuse_if_deployed(host, {})


def test_loopback_addresses_are_allowed():
    for host in ("127.0.0.1", "::1", "localhost"):
        refuse_if_deployed(host, {})


def test_serve_local_refuses_inside_a_lambda_before_serving(empty_hub, monkeypatch):
    services, _, client = empty_hub
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fedcore-dev-api")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn must not start"))
    with pytest.raises(DeployedEnvironmentError):
        serve_local(services, "arn:aws:states:eu-west-1:123456789012:stateMachine:x", 8080,
                    client, spokes=["s0"])


def test_serve_local_prints_two_tokens_that_its_authorizer_accepts(empty_hub, monkeypatch, capsys):
    services, app, client = empty_hub
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **k: served.update(app=app, host=host, port=port))
    serve_local(services, app.state.api_context.settings.state_machine_arn, 8765, client, spokes=["s0", "s1"])
    printed = capsys.readouterr().out
    admin = re.search(r"admin token:\s+(\S+)", printed).group(1)
    researcher = re.search(r"researcher token:\s+(\S+)", printed).group(1)
    assert (served["host"], served["port"]) == ("127.0.0.1", 8765) and admin != researcher
    gateway = Gateway(served["app"])
    as_admin = {"Authorization": f"Bearer {admin}"}
    as_researcher = {"Authorization": f"Bearer {researcher}"}
    assert gateway("GET", "/clients", None, headers=as_researcher).status == 200
    assert gateway("GET", "/clients", None, headers={"Authorization": f"Bearer {researcher}x"}).status == 401
    assert gateway("GET", "/clients", None, headers={"Authorization": researcher}).status == 401
    reset = {"spoke": "s0", "reason": "x"}
    assert gateway("POST", "/privacy-budget/set-limit", None, headers=as_researcher,
                   body={"spoke": "s0", "epsilon_limit": 2.0}).status == 403
    assert gateway("POST", "/privacy-budget/set-limit", None, headers=as_admin,
                   body={"spoke": "s0", "epsilon_limit": 2.0}).status == 200
    assert gateway("POST", "/privacy-budget/reset", None, headers=as_admin, body=reset).status == 200
    [_, entry] = [e for e in services.audit.entries()]
    assert entry.actor == "user:local-admin" and entry.action == "budget.reset"


def test_the_local_authorizer_ignores_cognito_claims_it_did_not_issue(empty_hub):
    services, _, client = empty_hub
    settings = api_settings("arn:aws:states:eu-west-1:123456789012:stateMachine:x", max_rows=1000)
    app = create_app(services, settings, sfn_client=client, authorizer=LocalTokenAuthorizer(local_tokens(), env={}))
    reply = Gateway(app)("GET", "/clients", {"sub": "x", "cognito:groups": "admin"})
    assert reply.status == 401


def test_short_tokens_are_refused():
    with pytest.raises(ValueError, match="32"):
        LocalTokenAuthorizer({"short": {"sub": "x"}}, env={})
