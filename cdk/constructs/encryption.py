"""Customer-managed KMS keys and the KMS-encrypted log groups built on them."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


def platform_key(scope: Construct, construct_id: str, *, alias: str, description: str) -> kms.Key:
    """A rotating CMK that CloudWatch Logs in this account and region may use for its log groups."""
    stack = Stack.of(scope)
    key = kms.Key(
        scope,
        construct_id,
        alias=alias,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    # CloudWatch Logs encrypts with the log group's ARN as encryption context (Logs User Guide,
    # "Encrypt log data in CloudWatch Logs using AWS KMS").
    key.add_to_resource_policy(iam.PolicyStatement(
        sid="CloudWatchLogsEncryption",
        principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
        actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        resources=["*"],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack.format_arn(
            service="logs", resource="log-group", resource_name="*",
            arn_format=_colon_resource_name())}},
    ))
    return key


class EncryptedLogGroup(logs.LogGroup):
    """A log group encrypted with `key`, with a fixed retention, kept when the stack is deleted."""

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, retention_days: int,
                 log_group_name: str | None = None) -> None:
        super().__init__(
            scope,
            construct_id,
            log_group_name=log_group_name,
            encryption_key=key,
            retention=logs.RetentionDays(_retention(retention_days)),
            removal_policy=RemovalPolicy.RETAIN,
        )


def _retention(days: int) -> str:
    """The RetentionDays enum member for `days` (config has already checked it is a valid value)."""
    for member in logs.RetentionDays:
        if member.value == days:
            return member.value
    raise ValueError(f"{days} is not a CloudWatch Logs retention period")


def _colon_resource_name():
    from aws_cdk import ArnFormat

    return ArnFormat.COLON_RESOURCE_NAME
