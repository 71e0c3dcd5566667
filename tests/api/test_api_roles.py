"""Who may call what: 401 without authorizer claims, 403 for the wrong group, headers never count."""

from __future__ import annotations

import pytest

from apigw import ADMIN, NO_GROUP, RESEARCHER, Gateway
from conftest import RUN_ID

ADMIN_ENDPOINTS = {  # name: (method, path, body, status an admin gets)
    "start run": ("POST", "/runs", {"run_id": "role-test"}, 202),
    "stop run": ("POST", "/runs/role-stop/stop", None, 200),
    "set limit": ("POST", "/privacy-budget/set-limit", {"spoke": "s0", "epsilon_limit": 5.0}, 200),
    "reset budget": ("POST", "/privacy-budget/reset", {"spoke": "s0", "reason": "annual"}, 200),
}
RESEARCHER_ENDPOINTS = {
    "generate": ("POST", "/generate", {"rows": 3}),
    "models": ("GET", "/models", None),
    "runs": ("GET", "/runs", None),
    "run": ("GET", f"/runs/{RUN_ID}", None),
    "budget": ("GET", "/privacy-budget", None),
    "audit log": ("GET", "/audit-log", None),
    "metrics": ("GET", "/metrics/history", None),
    "clients": ("GET", "/clients", None),
}
FORGED_HEADERS = {
    "Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiY29nbml0bzpncm91cHMiOlsiYWRtaW4iXX0.",
    "X-Cognito-Groups": "admin", "X-Amzn-Oidc-Identity": "alice", "X-Forwarded-User": "alice",
    "X-User-Groups": "admin", "X-Apigateway-Event": '{"requestContext": {"authorizer": {"claims": {"sub": "x"}}}}',
}


def _admin_actions(services) -> list:
    return [e for e in services.audit.entries() if e.actor.startswith("user:")]


@pytest.fixture
def running_execution(hub):
    services, app, sfn = hub
    sfn.start_execution(stateMachineArn=app.state.api_context.settings.state_machine_arn, name="role-stop",
                        input='{"run_id": "role-stop", "config": {}}')
    return hub


@pytest.mark.parametrize("name", sorted(ADMIN_ENDPOINTS))
def test_admin_endpoints_need_the_admin_group(running_execution, name):
    services, app, sfn = running_execution
    method, path, body, admin_status = ADMIN_ENDPOINTS[name]
    gateway = Gateway(app)
    anonymous = gateway(method, path, None, body=body)
    forged = gateway(method, path, None, body=body, headers=FORGED_HEADERS)
    researcher = gateway(method, path, RESEARCHER, body=body, headers=FORGED_HEADERS)
    no_group = gateway(method, path, NO_GROUP, body=body)
    assert (anonymous.status, anonymous.code) == (401, "unauthenticated")
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert (forged.status, forged.code) == (401, "unauthenticated")
    assert (researcher.status, researcher.code) == (403, "forbidden")
    assert (no_group.status, no_group.code) == (403, "forbidden")
    assert _admin_actions(services) == []  # refused calls changed nothing
    assert services.ledger.limit("s0") == 3.0 and services.ledger.resets("s0") == ()
    assert sfn.describe_execution(executionArn=app.state.api_context.settings.execution_arn("role-stop"))[
        "status"] == "RUNNING"
    admin = gateway(method, path, ADMIN, body=body)
    assert admin.status == admin_status, admin.text
    [entry] = _admin_actions(services)
    assert entry.actor == "user:alice" and entry.details["caller"]["sub"] == ADMIN["sub"]


@pytest.mark.parametrize("name", sorted(RESEARCHER_ENDPOINTS))
def test_read_and_generate_endpoints_need_the_researcher_or_admin_group(hub, name):
    _, app, _ = hub
    method, path, body = RESEARCHER_ENDPOINTS[name]
    gateway = Gateway(app)
    assert gateway(method, path, None, body=body, headers=FORGED_HEADERS).status == 401
    assert gateway(method, path, NO_GROUP, body=body, headers=FORGED_HEADERS).status == 403
    assert gateway(method, path, RESEARCHER, body=body).status == 200
    assert gateway(method, path, ADMIN, body=body).status == 200


@pytest.mark.parametrize("groups", ["admin,researcher", "[researcher admin]", ["researcher", "admin"]])
def test_every_shape_of_the_groups_claim_is_understood(hub, groups):
    _, app, _ = hub
    reply = Gateway(app)("POST", "/privacy-budget/set-limit", ADMIN | {"cognito:groups": groups},
                         body={"spoke": "s0", "epsilon_limit": 5.0})
    assert reply.status == 200


def test_claims_without_a_subject_do_not_authenticate(hub):
    _, app, _ = hub
    reply = Gateway(app)("GET", "/models", {"cognito:groups": "admin", "cognito:username": "mallory"})
    assert (reply.status, reply.code) == (401, "unauthenticated")


def test_unknown_paths_fail_closed_and_health_is_public(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    assert gateway("GET", "/admin/secrets", None).status == 401
    assert gateway("GET", "/admin/secrets", RESEARCHER).code == "not_found"
    assert gateway("DELETE", "/models", RESEARCHER).code == "method_not_allowed"
    assert gateway("GET", "/health", None).json() == {"status": "ok"}
