"""cdk-nag 3.x rule packs for the whole app, and the project's acknowledgements with their reasons.

Findings are fixed where the rule can be met. The few that cannot be met are acknowledged with
`Validations.of(construct).acknowledge(...)` on the narrowest construct, using one of the reasons
below, so a reviewer can check each reason once and see every place it is used by searching for it.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks
from constructs import IConstruct

RULE_PACKS = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5")

# Actions that AWS documents as not supporting resource-level permissions (Service Authorization
# Reference). ManagedPolicyRole only accepts these with Resource "*".
UNSCOPED_ACTIONS = frozenset({
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "ecr:GetAuthorizationToken",
    "batch:DescribeJobs",
})


class Reason:
    """Acknowledgement reasons, one sentence each."""

    UNSCOPED_ACTIONS = (
        "Every action in this policy is one that AWS documents as not supporting resource-level permissions "
        "(nag.UNSCOPED_ACTIONS); ManagedPolicyRole refuses any other action on Resource '*'.")
    OBJECT_PREFIX = (
        "The wildcard is the object key below a fixed prefix (run, round and spoke are chosen at run time), "
        "so the prefix is the narrowest boundary that can be written down.")
    RUNTIME_IDS = (
        "The resource ids (Batch jobs, job-definition revisions, state machine executions) are created at run time; "
        "the statement is pinned to this environment's named resources by the fixed part of the ARN.")
    HUB_KEY_BY_ALIAS = (
        "The hub key lives in another account and its key id is unknown at synth time; the statement is pinned "
        "to it by kms:ResourceAliases and to this spoke by its encryption-context condition.")
    NO_REPLICATION = (
        "Versioning keeps every deleted or overwritten object recoverable and the contents can be rebuilt "
        "(patient tables are copies of hospital records, models and updates are re-trained), so a replica would "
        "only add another copy of sensitive data to protect.")
    AWS_SERVICE_ROLE_POLICY = (
        "This is the AWS-managed policy that the service documents for this role and keeps current as its API "
        "changes; only that service's principal can assume the role.")
    NO_API_CACHE = (
        "Responses depend on the caller's Cognito identity and group, and API Gateway's cache key ignores the "
        "Authorization header, so a stage cache could serve one user's data to another.")
    NO_CLIENT_CERTIFICATE = (
        "Client certificates authenticate API Gateway to HTTP backends; the only integration here is a Lambda "
        "proxy, which does not use them.")
    PUBLIC_PAGE = (
        "A browser's page navigation carries no bearer token, so this GET route serves only a page shell, docs "
        "or static files that hold no data (research_api.PUBLIC_PAGES), and every data route keeps the authorizer.")


def apply_rule_packs(app: App) -> None:
    """Run AwsSolutions, HIPAA.Security and NIST.800.53.R5 on every stack as validation plugins."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), HIPAASecurityChecks(app), NIST80053R5Checks(app))


def acknowledge(scope: IConstruct, reason: str, *rule_ids: str) -> None:
    """Acknowledge findings (full ids, e.g. "HIPAA.Security-S3BucketLoggingEnabled") on `scope`."""
    for rule_id in rule_ids:
        Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_wildcard_resources(scope: IConstruct, resources: Iterable[str], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these resource patterns (tokens allowed)."""
    stack = Stack.of(scope)
    for resource in resources:
        flat = flatten_reference(stack.resolve(resource))
        if "*" in flat:
            acknowledge(scope, reason, f"AwsSolutions-IAM5[Resource::{flat}]")


def acknowledge_aws_managed_policy(scope: IConstruct, policy: iam.IManagedPolicy, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM4 for one AWS-managed policy attached under `scope`."""
    flat = flatten_reference(Stack.of(scope).resolve(policy.managed_policy_arn))
    acknowledge(scope, reason, f"AwsSolutions-IAM4[Policy::{flat}]")


def flatten_reference(node: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names findings (`<LogicalId.Attr>`)."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))
