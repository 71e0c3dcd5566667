"""AWS Batch in a spoke account: one queue per compute class ("cpu", "gpu"), each on its own compute
environment that scales to zero, with a trainer job definition sized for it. Both classes run the same
image with the same job role, environment, log group, timeout and retries; a run picks one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from aws_cdk import Duration, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk import nag
from cdk.config import COMPUTE_CLASSES, BatchSettings, ComputeSettings, Spoke
from cdk.components.encryption import EncryptedLogGroup
from cdk.components.managed_policy_role import ManagedPolicyRole
from cdk.naming import Names

# The ECS-optimized AMI of each class: NVIDIA drivers and the container toolkit only where there are GPUs.
MACHINE_IMAGES = {
    "gpu": batch.EcsMachineImageType.ECS_AL2023_NVIDIA,
    "cpu": batch.EcsMachineImageType.ECS_AL2023,
}


@dataclass(frozen=True)
class TrainerRuntime:
    """What every class's instances and trainer jobs share."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup  # HTTPS out only
    image: ecs.ContainerImage
    job_role: iam.IRole
    execution_role: iam.IRole
    logs: logs.ILogGroup
    environment: Mapping[str, str]
    job_timeout: Duration


class BatchTraining(Construct):
    """One compute class: `compute_environment` (its instance types, 0 vCPUs when idle, IMDSv2, encrypted
    disks), `job_queue` and `job_definition` (trainer image, GPUs on the gpu class only, timeout, retries
    on host failures)."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: ComputeSettings, runtime: TrainerRuntime,
                 queue_name: str, job_definition_name: str) -> None:
        super().__init__(scope, construct_id)
        self.compute_class = settings.compute_class
        launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            require_imdsv2=True,
            http_put_response_hop_limit=1,  # containers cannot reach the instance role through IMDS
            block_devices=[ec2.BlockDevice(device_name="/dev/xvda", volume=ec2.BlockDeviceVolume.ebs(
                settings.volume_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3,
                delete_on_termination=True))],
        )
        self.compute_environment = batch.ManagedEc2EcsComputeEnvironment(
            self,
            "ComputeEnvironment",
            vpc=runtime.vpc,
            vpc_subnets=runtime.subnets,
            security_groups=[runtime.security_group],
            instance_types=[ec2.InstanceType(name) for name in settings.instance_types],
            use_optimal_instance_classes=False,
            images=[batch.EcsMachineImage(image_type=MACHINE_IMAGES[settings.compute_class])],
            launch_template=launch_template,
            minv_cpus=0,
            maxv_cpus=settings.max_vcpus,
            spot=False,
            update_to_latest_image_version=True,
        )
        nag.acknowledge_aws_managed_policy(
            self.compute_environment,
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonEC2ContainerServiceforEC2Role"),
            nag.Reason.AWS_SERVICE_ROLE_POLICY)
        self.job_queue = batch.JobQueue(
            self, "Queue", job_queue_name=queue_name, priority=1,
            compute_environments=[batch.OrderedComputeEnvironment(
                compute_environment=self.compute_environment, order=1)])

        container = batch.EcsEc2ContainerDefinition(
            self,
            "Trainer",
            image=runtime.image,
            cpu=settings.job_vcpus,
            memory=Size.mebibytes(settings.job_memory_mib),
            gpu=settings.job_gpus or None,  # a GPU requirement would leave a job on CPU instances RUNNABLE forever
            environment=dict(runtime.environment),
            job_role=runtime.job_role,
            execution_role=runtime.execution_role,
            logging=ecs.LogDriver.aws_logs(stream_prefix=f"trainer-{settings.compute_class}",
                                           log_group=runtime.logs),
        )
        self.job_definition = batch.EcsJobDefinition(
            self,
            "JobDefinition",
            job_definition_name=job_definition_name,
            container=container,
            timeout=runtime.job_timeout,
            retry_attempts=2,
            retry_strategies=[
                # Retry only when the instance went away; a failing trainer exits at once.
                batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom(on_status_reason="Host EC2*")),
                batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
            ],
            propagate_tags=True,
        )


class SpokeTraining(Construct):
    """The hospital's trainer queues: `classes` maps each compute class to its BatchTraining, all sharing one
    instance security group (HTTPS out only), one execution role and one encrypted log group."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: BatchSettings, names: Names, spoke: Spoke,
                 vpc: ec2.IVpc, subnets: ec2.SubnetSelection, image: ecs.ContainerImage, job_role: iam.IRole,
                 key: kms.IKey, log_retention_days: int, environment: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        security_group = ec2.SecurityGroup(
            self, "Instances", vpc=vpc, allow_all_outbound=False,
            description="Trainer instances: HTTPS to VPC endpoints only")
        # No internet route exists; 443 reaches the interface endpoints and the S3 gateway prefixes.
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS endpoints")
        runtime = TrainerRuntime(
            vpc=vpc, subnets=subnets, security_group=security_group, image=image, job_role=job_role,
            execution_role=ManagedPolicyRole(self, "ExecutionRole",
                                             assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")),
            logs=EncryptedLogGroup(self, "Logs", key=key, retention_days=log_retention_days),
            environment=environment, job_timeout=Duration.minutes(settings.job_timeout_minutes))
        self.classes = {
            name: BatchTraining(self, name.capitalize(), settings=settings.compute(name), runtime=runtime,
                                queue_name=names.job_queue(spoke, name),
                                job_definition_name=names.job_definition(spoke, name))
            for name in COMPUTE_CLASSES
        }
