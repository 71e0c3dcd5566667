"""An S3 bucket for sensitive data, with its own server access log bucket."""

from __future__ import annotations

from typing import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk import nag


class SecureBucket(Construct):
    """`bucket`: KMS (CMK), versioned, TLS-only, public access blocked, access-logged into
    `access_logs` (same key; CDK lets logging.s3.amazonaws.com use it), both retained on stack deletion."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        bucket_name: str,
        log_retention_days: int,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            # Bucket keys would make S3's KMS context the bucket ARN and defeat per-prefix key conditions.
            bucket_key_enabled=False,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3-access/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
                *lifecycle_rules,
            ],
        )
        for bucket in (self.access_logs, self.bucket):
            nag.acknowledge(bucket, nag.Reason.NO_REPLICATION, "HIPAA.Security-S3BucketReplicationEnabled",
                            "NIST.800.53.R5-S3BucketReplicationEnabled")
