"""One hospital's stack, deployed in its own account: private data, private network, CPU and GPU training."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk.config import EnvironmentConfig, Spoke
from cdk.components.batch_training import SpokeTraining
from cdk.components.container_function import REPO_ROOT
from cdk.components.encryption import platform_key
from cdk.components.private_network import PrivateNetwork
from cdk.components.secure_bucket import SecureBucket
from cdk.components.spoke_roles import launch_role, trainer_job_role
from cdk.naming import Names
from cdk.stacks.platform_stack import PlatformStack

TRAINER_DOCKERFILE = "containers/trainer/Dockerfile"
_ENDPOINTS = (
    ec2.InterfaceVpcEndpointAwsService.ECR,
    ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    ec2.InterfaceVpcEndpointAwsService.STS,
    ec2.InterfaceVpcEndpointAwsService.KMS,
    # The ECS agent on Batch instances registers and reports through these.
    ec2.InterfaceVpcEndpointAwsService.ECS,
    ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
    ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
)


class SpokeStack(PlatformStack):
    """The hub can never read this spoke's data: its bucket and key deny the hub account outright.
    The hospital's privacy policy (its epsilon cap and DP opt-out) is a parameter in this account that
    only the trainer's job role may read and nothing the hub holds may write."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, spoke: Spoke) -> None:
        ops = config.operations
        super().__init__(scope, construct_id, account=spoke.account, region=spoke.region, max_azs=ops.max_azs,
                         termination_protection=ops.termination_protection,
                         description=f"{config.prefix}: federated learning spoke {spoke.id}")
        names = Names(config, partition=self.partition)
        hub_account = iam.AccountPrincipal(config.hub_account)

        key = platform_key(self, "Key", alias=f"alias/{config.prefix}-{spoke.id}",
                           description=f"{config.prefix} spoke {spoke.id}: patient data and logs")
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="HubNeverUsesSpokeKey", effect=iam.Effect.DENY, principals=[hub_account],
            actions=["kms:*"], resources=["*"]))
        data = SecureBucket(self, "Data", key=key, bucket_name=names.data_bucket(spoke),
                            log_retention_days=ops.log_retention_days).bucket
        data.add_to_resource_policy(iam.PolicyStatement(
            sid="HubNeverReadsPatientData", effect=iam.Effect.DENY, principals=[hub_account],
            actions=["s3:*"], resources=[data.bucket_arn, data.arn_for_objects("*")]))

        network = PrivateNetwork(
            self, "Network", key=key, max_azs=ops.max_azs, log_retention_days=ops.log_retention_days,
            gateway_endpoints=[ec2.GatewayVpcEndpointAwsService.S3], interface_endpoints=_ENDPOINTS)
        ssm.StringParameter(
            self, "Policy", parameter_name=names.spoke_policy_parameter(spoke), tier=ssm.ParameterTier.STANDARD,
            description=f"{config.prefix} spoke {spoke.id}: the hospital's own epsilon cap, DP opt-out and delta",
            # The JSON form of fedcore.runtime.spoke_policy.SpokePolicy (a test checks that it parses).
            string_value=json.dumps({"epsilon_cap": spoke.epsilon_limit, "allow_no_dp": spoke.allow_no_dp,
                                     "max_delta": spoke.max_delta}, sort_keys=True))
        job_role = trainer_job_role(self, "JobRole", names=names, spoke=spoke, data_bucket=data,
                                    data_key=config.batch.data_key, spoke_key=key)
        training = SpokeTraining(
            self, "Training", settings=config.batch, names=names, spoke=spoke, vpc=network.vpc,
            subnets=network.subnets,
            image=ecs.ContainerImage.from_asset(str(REPO_ROOT), file=TRAINER_DOCKERFILE,
                                                platform=ecr_assets.Platform.LINUX_AMD64),
            job_role=job_role, key=key, log_retention_days=ops.log_retention_days,
            # Locations only: a SubmitJob override can replace any of them, so none may carry privacy settings
            # (those are in the policy parameter); the job role's IAM bounds what an overridden location reaches.
            environment={
                "HUB_BUCKET": names.hub_bucket,
                "HUB_KMS_KEY_ID": names.hub_key_alias_arn,
                "DATA_BUCKET": data.bucket_name,
                "DATA_KEY": config.batch.data_key,
                "AWS_DEFAULT_REGION": spoke.region,
            })
        # The hospital owns both queues; the hub's launch role may submit to either, and to nothing else.
        launch_role(self, "LaunchRole", names=names, spoke=spoke,
                    job_queue_arns=[c.job_queue.job_queue_arn for c in training.classes.values()],
                    job_definition_names=[names.job_definition(spoke, name) for name in training.classes])

        CfnOutput(self, "DataBucketName", value=data.bucket_name)
        for name, compute in training.classes.items():
            CfnOutput(self, f"{name.capitalize()}JobQueueArn", value=compute.job_queue.job_queue_arn,
                      description=f"The {name} trainer queue")
