"""The two spoke roles the hub depends on: the trainer's job role and the hub's launch role.

Both have fixed names (naming.Names) because the hub refers to them from another account.
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk import nag
from cdk.config import Spoke
from cdk.components import hub_keys
from cdk.components.managed_policy_role import ManagedPolicyRole
from cdk.naming import Names


def trainer_job_role(scope: Construct, construct_id: str, *, names: Names, spoke: Spoke, data_bucket: s3.IBucket,
                     data_key: str, spoke_key: kms.IKey) -> ManagedPolicyRole:
    """Reads its own data object (or the objects under its data prefix) and its own policy parameter; reads and writes its own ledger object;
    reads the hub keys a trainer reads (hub_keys.TRAINER_READS) and lists only the keys it checks for
    (hub_keys.TRAINER_CHECKS, s3:prefix = the key); writes only updates/*/*/<spoke> (the exact
    last segment); seals with the hub key only under encryption context spoke=<spoke>, kind=update and
    opens only kind=model."""
    role = ManagedPolicyRole(scope, construct_id, role_name=names.job_role(spoke),
                             assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    region = Stack.of(scope).region
    via_s3 = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
    # a data key ending in "/" is a prefix (an image folder class_name/*.png, or .npz shards): every object under it
    data_object = data_bucket.arn_for_objects(data_key + "*" if data_key.endswith("/") else data_key)
    ledger_object = data_bucket.arn_for_objects(names.local_ledger_key(spoke))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[data_object, ledger_object]))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[ledger_object]))
    # Without ListBucket S3 answers 403 instead of 404 for the ledger's first read (it does not exist yet).
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[data_bucket.bucket_arn]))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:Decrypt"], resources=[spoke_key.key_arn],
        conditions={"StringEquals": via_s3,  # StringLike: the data object's ARN ends in "*" when the key is a prefix
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [data_object, ledger_object]}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:GenerateDataKey"], resources=[spoke_key.key_arn],
        conditions={"StringEquals": {**via_s3, "kms:EncryptionContext:aws:s3:arn": ledger_object}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["ssm:GetParameter"], resources=[names.spoke_policy_parameter_arn(spoke)]))

    reads = [f"{names.hub_bucket_arn}/{key}" for key in hub_keys.TRAINER_READS]
    updates = f"{names.hub_bucket_arn}/{hub_keys.own_update(spoke.id)}"
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=reads))
    role.add_to_principal_policy(iam.PolicyStatement(  # S3BlobStore.exists: a listing with the key as prefix
        actions=["s3:ListBucket"], resources=[names.hub_bucket_arn],
        conditions={"StringLike": {"s3:prefix": list(hub_keys.TRAINER_CHECKS)}}))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[updates]))

    hub_key = [names.hub_key_arn_pattern]
    is_hub_key = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": names.hub_key_alias}}
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:GenerateDataKey"], resources=hub_key,
        conditions={**is_hub_key, "StringEquals": {"kms:EncryptionContext:spoke": spoke.id,
                                                   "kms:EncryptionContext:kind": "update"}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:Decrypt"], resources=hub_key,
        conditions={**is_hub_key, "StringEquals": {"kms:EncryptionContext:kind": "model"}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:Decrypt"], resources=hub_key,
        conditions={**is_hub_key, "StringEquals": via_s3, "StringLike": {"kms:EncryptionContext:aws:s3:arn": reads}}))
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["kms:GenerateDataKey"], resources=hub_key,
        conditions={**is_hub_key, "StringEquals": via_s3, "StringLike": {"kms:EncryptionContext:aws:s3:arn": updates}}))

    nag.acknowledge_wildcard_resources(role, [*reads, updates], nag.Reason.OBJECT_PREFIX)
    nag.acknowledge_wildcard_resources(role, hub_key, nag.Reason.HUB_KEY_BY_ALIAS)
    return role


def launch_role(scope: Construct, construct_id: str, *, names: Names, spoke: Spoke, job_queue_arns: Sequence[str],
                job_definition_names: Sequence[str]) -> ManagedPolicyRole:
    """Trusted only by the hub state machine's role (with the state machine ARN as external id); may only
    submit this spoke's job definitions (any revision) to this spoke's queues, one of each per compute class
    (SubmitJob authorizes both resources), describe jobs and terminate jobs. It holds no SSM, IAM, S3 or KMS
    permission, so the hub can never change the hospital's policy parameter; what it can still send, job
    environment and command overrides, the trainer's image and allow-list neutralize (README.md, "Security")."""
    partition = Stack.of(scope).partition
    batch_arn = f"arn:{partition}:batch:{spoke.region}:{spoke.account}"
    role = ManagedPolicyRole(
        scope, construct_id,
        role_name=names.launch_role(spoke),
        # The hub role may not exist yet when this stack deploys, so trust the hub account and pin the
        # caller with aws:PrincipalArn; Step Functions passes the state machine ARN as external id.
        assumed_by=iam.AccountPrincipal(names.config.hub_account).with_conditions({
            "ArnEquals": {"aws:PrincipalArn": names.state_machine_role_arn},
            "StringEquals": {"sts:ExternalId": names.state_machine_arn},
        }),
    )
    definitions = [arn for name in job_definition_names
                   for arn in (f"{batch_arn}:job-definition/{name}", f"{batch_arn}:job-definition/{name}:*")]
    jobs = f"{batch_arn}:job/*"
    role.add_to_principal_policy(iam.PolicyStatement(
        actions=["batch:SubmitJob"], resources=[*job_queue_arns, *definitions]))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["batch:TerminateJob"], resources=[jobs]))
    role.add_to_principal_policy(iam.PolicyStatement(actions=["batch:DescribeJobs"], resources=["*"]))
    nag.acknowledge_wildcard_resources(role, [*definitions, jobs], nag.Reason.RUNTIME_IDS)
    return role
