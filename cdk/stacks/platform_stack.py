"""Base class of the hub and spoke stacks."""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, Fn, Stack
from constructs import Construct


class PlatformStack(Stack):
    """A stack pinned to an account and region that still synthesizes offline.

    A Stack with an explicit environment would look its availability zones up in the account
    (needing credentials at synth time). Returning `Fn::GetAZs` selections keeps the template
    independent of any lookup and of hard-coded zone names.
    """

    def __init__(self, scope: Construct, construct_id: str, *, account: str, region: str, max_azs: int,
                 **stack_props: Any) -> None:
        self._max_azs = max_azs
        super().__init__(scope, construct_id, env=Environment(account=account, region=region), **stack_props)
        # CDK makes Lambda functions and custom-resource providers DependsOn their role while also
        # referencing it with GetAtt; cfn-lint W3005 reports that harmless redundancy.
        self.template_options.metadata = {"cfn-lint": {"config": {"ignore_checks": ["W3005"]}}}

    @property
    def availability_zones(self) -> list[str]:
        return [Fn.select(index, Fn.get_azs()) for index in range(self._max_azs)]
