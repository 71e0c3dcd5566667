"""The hub's KMS key and bucket, and who may touch which prefix under which encryption context.

Bucket layout (DESIGN.md sections 2-5): models/<run>/<round>/..., updates/<run>/<round>/<spoke>,
runs/... . Sealed objects use the encryption context {"run", "round", "spoke", "kind"}.
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk import nag
from cdk.components import hub_keys
from cdk.components.encryption import platform_key
from cdk.components.secure_bucket import SecureBucket
from cdk.naming import Names, SpokeEndpoints


class HubStorage(Construct):
    """`key`: the hub CMK (rotating) for the bucket, tables, logs and sealing. `bucket`: the hub bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, names: Names, log_retention_days: int,
                 update_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self._region = Stack.of(self).region
        # The key policy must not reference the bucket resource (the bucket already references the key).
        self._bucket_arn = names.hub_bucket_arn
        self.key = platform_key(self, "Key", alias=names.hub_key_alias,
                                description=f"{names.prefix} hub: bucket, tables, logs and sealed updates")
        self.bucket = SecureBucket(
            self,
            "Hub",
            key=self.key,
            bucket_name=names.hub_bucket,
            log_retention_days=log_retention_days,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-updates",
                    prefix="updates/",
                    expiration=Duration.days(update_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                s3.LifecycleRule(  # large /generate results; their presigned links expire long before
                    id="expire-generated-tables",
                    prefix="generated/",
                    expiration=Duration.days(1),
                    noncurrent_version_expiration=Duration.days(1),
                ),
            ],
        ).bucket

    # --- spokes (cross-account: the bucket and key policies must allow what the spoke's IAM allows) ---
    def admit_spoke(self, spoke: SpokeEndpoints) -> None:
        """Let one spoke's job role read what a trainer reads (hub_keys.TRAINER_READS), check for what it checks
        for (hub_keys.TRAINER_CHECKS), write its own update objects (updates/<run>/<round>/<spoke>, exactly that
        last segment, so no spoke can pre-write another's create-only key), and seal only updates (kind=update)
        under its own id."""
        sid = "".join(part.capitalize() for part in spoke.spoke_id.split("-"))
        principal = iam.AccountPrincipal(spoke.account)
        job_role = {"aws:PrincipalArn": spoke.job_role_arn}
        reads = [self.bucket.arn_for_objects(key) for key in hub_keys.TRAINER_READS]
        updates = self.bucket.arn_for_objects(hub_keys.own_update(spoke.spoke_id))
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid=f"ReadModels{sid}", principals=[principal], actions=["s3:GetObject"], resources=reads,
            conditions={"ArnEquals": job_role}))
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid=f"CheckModels{sid}", principals=[principal], actions=["s3:ListBucket"],
            resources=[self.bucket.bucket_arn],
            conditions={"ArnEquals": job_role, "StringLike": {"s3:prefix": list(hub_keys.TRAINER_CHECKS)}}))
        self.bucket.add_to_resource_policy(iam.PolicyStatement(
            sid=f"WriteUpdates{sid}", principals=[principal], actions=["s3:PutObject"], resources=[updates],
            conditions={"ArnEquals": job_role}))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid=f"SealOwnUpdates{sid}", principals=[principal], actions=["kms:GenerateDataKey"], resources=["*"],
            conditions={"ArnEquals": job_role,
                        "StringEquals": {"kms:EncryptionContext:spoke": spoke.spoke_id,
                                         "kms:EncryptionContext:kind": "update"}}))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid=f"OpenModels{sid}", principals=[principal], actions=["kms:Decrypt"], resources=["*"],
            conditions={"ArnEquals": job_role, "StringEquals": {"kms:EncryptionContext:kind": "model"}}))
        # S3 calls KMS on the caller's behalf for SSE-KMS, with the object ARN as context.
        via_s3 = {"kms:ViaService": f"s3.{self._region}.amazonaws.com"}
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid=f"ReadObjects{sid}", principals=[principal], actions=["kms:Decrypt"], resources=["*"],
            conditions={"ArnEquals": job_role, "StringEquals": via_s3, "StringLike": {
                "kms:EncryptionContext:aws:s3:arn": [f"{self._bucket_arn}/{key}" for key in hub_keys.TRAINER_READS]}}))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid=f"WriteObjects{sid}", principals=[principal], actions=["kms:GenerateDataKey"], resources=["*"],
            conditions={"ArnEquals": job_role, "StringEquals": via_s3, "StringLike": {
                "kms:EncryptionContext:aws:s3:arn": f"{self._bucket_arn}/{hub_keys.own_update(spoke.spoke_id)}"}}))

    # --- hub functions (same account: their IAM policy alone decides) -------------------------------
    def grant_read(self, grantee: iam.IGrantable, *keys: str) -> None:
        """GetObject on `keys` (IAM patterns, e.g. "models/*/schema.json"). A read of a missing key answers
        403 (a 404 needs ListBucket on the whole bucket): a key that may be missing is checked first, see
        grant_check."""
        objects = [self.bucket.arn_for_objects(key) for key in keys]
        self._add(grantee, iam.PolicyStatement(actions=["s3:GetObject"], resources=objects))
        self._add(grantee, self._via_s3(["kms:Decrypt"], objects))
        nag.acknowledge_wildcard_resources(grantee.grant_principal, objects, nag.Reason.OBJECT_PREFIX)

    def grant_list(self, grantee: iam.IGrantable, *prefixes: str) -> None:
        """ListBucket only with an s3:prefix matching one of `prefixes` (IAM patterns)."""
        self._add(grantee, iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": list(prefixes)}}))

    def grant_check(self, grantee: iam.IGrantable, *keys: str) -> None:
        """Check whether `keys` (IAM patterns) exist: S3BlobStore.exists lists with the key as its prefix."""
        self.grant_list(grantee, *keys)

    def grant_write(self, grantee: iam.IGrantable, *keys: str) -> None:
        """PutObject on `keys` (IAM patterns); single-part puts need only GenerateDataKey from the key."""
        objects = [self.bucket.arn_for_objects(key) for key in keys]
        self._add(grantee, iam.PolicyStatement(actions=["s3:PutObject"], resources=objects))
        self._add(grantee, self._via_s3(["kms:GenerateDataKey"], objects))
        nag.acknowledge_wildcard_resources(grantee.grant_principal, objects, nag.Reason.OBJECT_PREFIX)

    def grant_seal(self, grantee: iam.IGrantable, kinds: Sequence[str]) -> None:
        """Envelope-encrypt (GenerateDataKey) only with an encryption context whose kind is in `kinds`."""
        self._add(grantee, iam.PolicyStatement(
            actions=["kms:GenerateDataKey"], resources=[self.key.key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:kind": list(kinds)}}))

    def grant_open(self, grantee: iam.IGrantable, kinds: Sequence[str]) -> None:
        """Open sealed objects (Decrypt) only with an encryption context whose kind is in `kinds`."""
        self._add(grantee, iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[self.key.key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:kind": list(kinds)}}))

    def _via_s3(self, actions: list[str], objects: list[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=actions, resources=[self.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{self._region}.amazonaws.com"},
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": objects}})

    @staticmethod
    def _add(grantee: iam.IGrantable, statement: iam.PolicyStatement) -> None:
        grantee.grant_principal.add_to_principal_policy(statement)
