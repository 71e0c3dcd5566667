"""Research API edge (Cognito, validation, throttling, logs, WAF) and monitoring (dashboard, alarms)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Capture, Match

pytestmark = pytest.mark.cdk


def test_user_pool_requires_mfa_and_strong_passwords_and_has_both_groups(hub_template):
    hub_template.has_resource_properties("AWS::Cognito::UserPool", {
        "MfaConfiguration": "ON",
        "Policies": {"PasswordPolicy": Match.object_like({"MinimumLength": 14, "RequireSymbols": True})},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
    })
    for group in ("researcher", "admin"):
        hub_template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": group})


def test_the_dashboard_signs_in_through_the_hosted_ui_with_the_code_grant_only(synthesized, q):
    template = synthesized.hub
    domains = list(q.resources(template, "AWS::Cognito::UserPoolDomain").values())
    clients = q.resources(template, "AWS::Cognito::UserPoolClient")
    (rest_api,) = q.resources(template, "AWS::ApiGateway::RestApi")
    dashboard = {lid: c["Properties"] for lid, c in clients.items() if "AllowedOAuthFlows" in c["Properties"]}

    assert len(domains) == 1 and domains[0]["Properties"]["Domain"] == "fedsynth-dev-111111111111"
    others = [c["Properties"] for lid, c in clients.items() if lid not in dashboard]
    assert others and all(not c.get("AllowedOAuthFlowsUserPoolClient") and "CallbackURLs" not in c for c in others)
    (client_id, props), = dashboard.items()
    assert props["AllowedOAuthFlows"] == ["code"]  # no implicit grant: tokens never travel in a URL
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(props["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert props["GenerateSecret"] is False and props["SupportedIdentityProviders"] == ["COGNITO"]
    assert props["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]  # no password flows for the page
    for urls in (props["CallbackURLs"], props["LogoutURLs"]):  # the dashboard's own address, nothing else
        (url,) = urls
        text = json.dumps(url)
        assert q.refers_to(url, rest_api) and text.endswith('"/v1/dashboard"]]}')
        assert "Stage" not in text and "Deployment" not in text  # the stage would close a dependency cycle
    functions = [f["Properties"] for f in q.resources(template, "AWS::Lambda::Function").values()
                 if "DASHBOARD_CLIENT_ID" in f["Properties"].get("Environment", {}).get("Variables", {})]
    (api_function,) = functions
    variables = api_function["Environment"]["Variables"]
    assert q.refers_to(variables["DASHBOARD_CLIENT_ID"], client_id)
    (domain_id,) = q.resources(template, "AWS::Cognito::UserPoolDomain")
    assert q.refers_to(variables["DASHBOARD_AUTH_DOMAIN"], domain_id)
    assert "STATE_MACHINE_ARN" in variables  # the API function, not another


@pytest.mark.parametrize("prefix", ["Fedsynth-dev-1", "fedsynth-aws-1", "-fedsynth", "a" * 64, "fed_synth"])
def test_a_domain_prefix_cognito_would_refuse_fails_the_synth_by_name(prefix):
    from cdk.components.research_api import hosted_ui_prefix

    with pytest.raises(ValueError, match="hosted UI domain prefix"):
        hosted_ui_prefix(prefix)
    assert hosted_ui_prefix("fedsynth-dev-123456789012") == "fedsynth-dev-123456789012"


def _resource_paths(template: dict, q) -> dict[str, str]:
    """API Gateway resource logical id -> its full path ("/dashboard/{proxy+}"), walking up ParentId."""
    resources = q.resources(template, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        props = resources[logical_id]["Properties"]
        parent = props["ParentId"]
        above = path(parent["Ref"]) if isinstance(parent, dict) and "Ref" in parent else ""
        return f"{above}/{props['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in resources}


def test_only_the_public_pages_skip_the_cognito_authorizer_and_only_for_get(hub_template, synthesized, q):
    hub_template.has_resource_properties("AWS::ApiGateway::Authorizer", {"Type": "COGNITO_USER_POOLS"})
    hub_template.has_resource_properties("AWS::ApiGateway::RequestValidator", {
        "ValidateRequestBody": True, "ValidateRequestParameters": True})
    paths = _resource_paths(synthesized.hub, q)
    methods = list(q.resources(synthesized.hub, "AWS::ApiGateway::Method").values())
    public, protected = [], []
    for method in methods:
        props = method["Properties"]
        resource = props["ResourceId"]
        path = paths[resource["Ref"]] if "Ref" in resource else "/"  # the root's id is a GetAtt on the RestApi
        (public if props["AuthorizationType"] == "NONE" else protected).append((path, props))

    assert sorted(path for path, _ in public) == sorted(
        ["/dashboard", "/dashboard/{proxy+}", "/docs", "/redoc", "/openapi.json", "/static/{proxy+}"])
    for path, props in public:
        assert props["HttpMethod"] == "GET", path
        assert "AuthorizerId" not in props and "RequestValidatorId" in props, path
    assert sorted(path for path, _ in protected) == ["/", "/{proxy+}"]
    for path, props in protected:
        assert props["AuthorizationType"] == "COGNITO_USER_POOLS", path
        assert "AuthorizerId" in props and "RequestValidatorId" in props, path
        assert props["RequestParameters"] == {"method.request.header.Authorization": True}, path


def test_stage_throttles_logs_and_traces(hub_template, synthesized):
    api = synthesized.config.api
    hub_template.has_resource_properties("AWS::ApiGateway::Stage", {
        "TracingEnabled": True,
        "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
        "MethodSettings": Match.array_with([Match.object_like({
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "ThrottlingRateLimit": api.throttle_rate,
            "ThrottlingBurstLimit": api.throttle_burst,
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,
        })]),
    })


def test_waf_rate_limits_per_ip_and_is_associated_with_the_stage(hub_template, synthesized, q):
    hub_template.has_resource_properties("AWS::WAFv2::WebACL", {
        "Scope": "REGIONAL",
        "Rules": Match.array_with([Match.object_like({
            "Action": {"Block": {}},
            "Statement": {"RateBasedStatement": Match.object_like({
                "Limit": synthesized.config.api.waf_rate_limit, "AggregateKeyType": "IP"})},
        })]),
    })
    (stage_id,) = q.resources(synthesized.hub, "AWS::ApiGateway::Stage")
    (association,) = q.resources(synthesized.hub, "AWS::WAFv2::WebACLAssociation").values()
    assert q.refers_to(association["Properties"]["ResourceArn"], stage_id)
    hub_template.has_resource_properties("AWS::WAFv2::LoggingConfiguration", {
        "RedactedFields": [{"SingleHeader": {"Name": "authorization"}}]})


def test_alarm_topic_is_kms_encrypted_and_mailed(hub_template, synthesized):
    hub_template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    hub_template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": synthesized.config.operations.alarm_email})


def _alarm_metrics(alarm: dict) -> list[dict]:
    """The metrics an alarm reads, whether written as a single metric or as a metric-math list."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{"MetricName": props["MetricName"], "Dimensions": props.get("Dimensions", [])}]
    return [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]


def test_alarms_cover_failed_runs_dropouts_budgets_and_aggregation_errors(synthesized, q):
    alarms = list(q.resources(synthesized.hub, "AWS::CloudWatch::Alarm").values())
    (topic_id,) = q.resources(synthesized.hub, "AWS::SNS::Topic")
    read = [{m["MetricName"] for m in _alarm_metrics(a)} for a in alarms]
    budget = [a["Properties"] for a in alarms if {"BudgetUsedPercent"} == {m["MetricName"] for m in _alarm_metrics(a)}]

    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)
    assert {"ExecutionsFailed", "ExecutionsTimedOut"} <= set().union(*read)
    assert any(names == {"SpokeDropouts"} for names in read)
    assert any({"AggregationErrors", "Errors"} <= names for names in read)
    assert sorted(_alarm_metrics({"Properties": b})[0]["Dimensions"][0]["Value"] for b in budget) == sorted(
        spoke.id for spoke in synthesized.config.spokes)
    assert all(b["Threshold"] == 90 and b["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" for b in budget)


def test_dashboard_shows_loss_epsilon_participation_duration_and_errors(hub_template):
    body = Capture()
    hub_template.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardBody": body})
    text = json.dumps(body.as_object())
    for metric in ("RoundLoss", "SpokeEpsilon", "ParticipatingSpokes", "RoundDurationSeconds", "AggregationErrors"):
        assert metric in text
