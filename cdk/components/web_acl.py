"""A regional WAF web ACL with a per-IP rate-based rule and AWS managed rule groups, logged to KMS logs."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk.components.encryption import EncryptedLogGroup

_MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True)


class RateLimitedWebAcl(Construct):
    """`web_acl` associated with `resource_arn`: blocks an IP above `rate_limit` requests per 5 minutes,
    applies AWS managed rule groups, and logs to `aws-waf-logs-<name>` with the Authorization header redacted."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, resource_arn: str, rate_limit: int,
                 key: kms.IKey, log_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        rules = [wafv2.CfnWebACL.RuleProperty(
            name="RateLimitPerIp",
            priority=0,
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300)),
            visibility_config=_visibility(f"{name}-rate-limit"),
        )]
        for priority, group in enumerate(_MANAGED_RULE_GROUPS, start=1):
            rules.append(wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group)),
                visibility_config=_visibility(f"{name}-{group}"),
            ))
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(name),
            rules=rules,
        )
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=resource_arn, web_acl_arn=self.web_acl.attr_arn)

        # WAF requires the log group name to start with aws-waf-logs- and its ARN without ":*".
        log_group_name = f"aws-waf-logs-{name}"
        logs = EncryptedLogGroup(self, "Logs", key=key, retention_days=log_retention_days,
                                 log_group_name=log_group_name)
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[Stack.of(self).format_arn(
                service="logs", resource="log-group", resource_name=log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME)],
            redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                single_header={"Name": "authorization"})],
        )
        logging.node.add_dependency(logs)
