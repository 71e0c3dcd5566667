"""DynamoDB tables for runs, the privacy ledger and the audit log (DESIGN.md section 6), with backups.

Every table has a string partition key `pk` and a string sort key `sk`; fedcore's DynamoDB adapter
chooses what goes in them. Item mutations of the audit table are denied to every principal by the
table's resource policy: the audit log is append-only (create-only writes; the hash chain makes any
overwrite through PutItem detectable).
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk import nag
from cdk.naming import Names

# Item mutations nobody may perform on the audit table.
AUDIT_FORBIDDEN_ACTIONS = (
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)


class HubTables(Construct):
    """`runs`, `ledger`, `audit`: on-demand, KMS (CMK), point-in-time recovery, deletion protection,
    and an AWS Backup plan (daily for 35 days, monthly for a year) in a KMS-encrypted vault."""

    def __init__(self, scope: Construct, construct_id: str, *, names: Names, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self.runs = self._table("Runs", names.table("runs"))
        self.ledger = self._table("Ledger", names.table("ledger"))
        self.audit = self._table("Audit", names.table("audit"), resource_policy=iam.PolicyDocument(statements=[
            iam.PolicyStatement(
                sid="AuditLogIsAppendOnly",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(AUDIT_FORBIDDEN_ACTIONS),
                resources=["*"],
            ),
        ]))

        vault = backup.BackupVault(self, "Vault", encryption_key=key, removal_policy=RemovalPolicy.RETAIN)
        plan = backup.BackupPlan(self, "Plan", backup_vault=vault, backup_plan_rules=[
            backup.BackupPlanRule.daily(), backup.BackupPlanRule.monthly1_year()])
        selection = plan.add_selection("Tables", resources=[
            backup.BackupResource.from_dynamo_db_table(table) for table in (self.runs, self.ledger, self.audit)])
        nag.acknowledge_aws_managed_policy(
            selection,
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSBackupServiceRolePolicyForBackup"),
            nag.Reason.AWS_SERVICE_ROLE_POLICY)

    def _table(self, construct_id: str, table_name: str, **extra: object) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            table_name=table_name,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self._key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            **extra,
        )

    # --- grants: explicit actions only; the audit table never gets an update or delete action -------
    def grant(self, grantee: iam.IGrantable, table: str, actions: Sequence[str]) -> None:
        """`actions` ("dynamodb:GetItem", ...) on the `table` ("runs", "ledger" or "audit") and the key use
        DynamoDB makes for the caller."""
        forbidden = sorted(set(actions) & set(AUDIT_FORBIDDEN_ACTIONS)) if table == "audit" else []
        if forbidden:
            raise ValueError(f"the audit log is append-only: {forbidden} may not be granted")
        self._grant(grantee, {"runs": self.runs, "ledger": self.ledger, "audit": self.audit}[table], list(actions))

    def _grant(self, grantee: iam.IGrantable, table: dynamodb.Table, actions: list[str]) -> None:
        principal = grantee.grant_principal
        principal.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[table.table_arn]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[self._key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"}}))
