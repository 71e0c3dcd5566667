"""An IAM role whose permissions live in customer-managed policies instead of an inline DefaultPolicy.

HIPAA.Security and NIST.800.53.R5 (IAMNoInlinePolicy) reject inline policies, and every CDK grant
(`bucket.grant_read(fn)`, tracing, log delivery...) lands in a role's inline DefaultPolicy. This role
overrides `add_to_principal_policy` so those grants go to a managed policy. Statements on Resource "*"
go to a second managed policy, are allowed only for actions without resource-level permissions, and
that policy alone carries the AwsSolutions-IAM5[Resource::*] acknowledgement.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk import nag


class ManagedPolicyRole(iam.Role):
    """`iam.Role` whose added statements are stored in customer-managed policies (see module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, **role_props: Any) -> None:
        super().__init__(scope, construct_id, **role_props)
        self._scoped: iam.ManagedPolicy | None = None
        self._unscoped: iam.ManagedPolicy | None = None

    @property
    def policies(self) -> list[iam.ManagedPolicy]:
        """The customer-managed policies created so far (scoped first)."""
        return [policy for policy in (self._scoped, self._unscoped) if policy is not None]

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        policy = self._unscoped_policy(statement) if self._is_unscoped(statement) else self._scoped_policy()
        policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=policy)

    def _is_unscoped(self, statement: iam.PolicyStatement) -> bool:
        resources = Stack.of(self).resolve(statement.resources)
        return statement.effect == iam.Effect.ALLOW and "*" in resources

    def _scoped_policy(self) -> iam.ManagedPolicy:
        if self._scoped is None:
            self._scoped = iam.ManagedPolicy(self, "Policy", roles=[self])
        return self._scoped

    def _unscoped_policy(self, statement: iam.PolicyStatement) -> iam.ManagedPolicy:
        resources = Stack.of(self).resolve(statement.resources)
        if resources != ["*"]:
            raise ValueError(f"{self.node.path}: keep Resource '*' in a statement of its own, got {resources}")
        not_allowed = sorted(set(statement.actions) - nag.UNSCOPED_ACTIONS)
        if not_allowed or statement.not_actions:
            raise ValueError(f"{self.node.path}: {not_allowed or statement.not_actions} on Resource '*' would "
                             "widen access; scope them to ARNs or add them to nag.UNSCOPED_ACTIONS with evidence")
        if self._unscoped is None:
            self._unscoped = iam.ManagedPolicy(self, "UnscopedPolicy", roles=[self])
            nag.acknowledge(self._unscoped, nag.Reason.UNSCOPED_ACTIONS, "AwsSolutions-IAM5[Resource::*]")
        return self._unscoped
