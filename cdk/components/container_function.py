"""One Lambda function running a handler from functions/ in the shared container image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk import nag
from cdk.components.encryption import EncryptedLogGroup
from cdk.components.managed_policy_role import ManagedPolicyRole

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_DOCKERFILE = "containers/lambda/Dockerfile"


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between the Lambda functions: the handler module and its sizing."""

    module: str  # functions/<module>.py exposes handler(event, context)
    memory_mib: int
    timeout_seconds: int
    description: str


@dataclass(frozen=True)
class FunctionPlacement:
    """What every function shares: network, dead-letter queue, key for logs, log retention."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    dead_letter_queue: sqs.IQueue
    key: kms.IKey
    log_retention_days: int


class ContainerFunction(Construct):
    """`function` from containers/lambda with CMD functions.<module>.handler; its own `role`, a KMS log
    group with retention, X-Ray tracing, reserved concurrency, a KMS dead-letter queue and VPC placement."""

    def __init__(self, scope: Construct, construct_id: str, *, spec: FunctionSpec, function_name: str,
                 placement: FunctionPlacement, reserved_concurrency: int, environment: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        vpc_access = iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaVPCAccessExecutionRole")
        self.role = ManagedPolicyRole(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), managed_policies=[vpc_access])
        nag.acknowledge_aws_managed_policy(self.role, vpc_access, nag.Reason.AWS_SERVICE_ROLE_POLICY)
        self.log_group = EncryptedLogGroup(
            self, "Logs", key=placement.key, retention_days=placement.log_retention_days)
        self.timeout = Duration.seconds(spec.timeout_seconds)
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            function_name=function_name,
            description=spec.description,
            code=lambda_.DockerImageCode.from_image_asset(
                str(REPO_ROOT),
                file=LAMBDA_DOCKERFILE,
                cmd=[f"functions.{spec.module}.handler"],
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            architecture=lambda_.Architecture.X86_64,
            memory_size=spec.memory_mib,
            timeout=self.timeout,
            role=self.role,
            environment=dict(environment),
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=placement.dead_letter_queue,
            vpc=placement.vpc,
            vpc_subnets=placement.subnets,
            security_groups=[placement.security_group],
        )
        self.log_group.grant_write(self.role)
        # Lambda grants sqs:SendMessage for the dead-letter queue, but not the use of its CMK.
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[placement.key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sqs.{Stack.of(self).region}.amazonaws.com"}},
        ))
