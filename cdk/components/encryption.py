"""Customer-managed KMS keys and the KMS-encrypted log groups built on them."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.config import LOG_RETENTION_DAYS

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS, 2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}
if set(_RETENTION) != LOG_RETENTION_DAYS:
    raise RuntimeError("config.LOG_RETENTION_DAYS and the RetentionDays table disagree")


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
            arn_format=ArnFormat.COLON_RESOURCE_NAME)}},
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
            retention=_RETENTION[retention_days],
            removal_policy=RemovalPolicy.RETAIN,
        )

