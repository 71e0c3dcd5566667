"""A VPC with isolated subnets only: AWS services through VPC endpoints, no route to the internet."""

from __future__ import annotations

from typing import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk.components.encryption import EncryptedLogGroup
from cdk.components.managed_policy_role import ManagedPolicyRole

CIDR = "10.0.0.0/16"


class PrivateNetwork(Construct):
    """Isolated subnets (no internet or NAT gateway), flow logs, a closed default security group,
    and the given gateway and interface endpoints. `vpc` and `subnets` are what workloads attach to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        max_azs: int,
        log_retention_days: int,
        gateway_endpoints: Sequence[ec2.GatewayVpcEndpointAwsService],
        interface_endpoints: Sequence[ec2.InterfaceVpcEndpointAwsService],
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(CIDR),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20),
            ],
            restrict_default_security_group=True,
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        flow_log_role = ManagedPolicyRole(
            self, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"))
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                EncryptedLogGroup(self, "FlowLogs", key=key, retention_days=log_retention_days), flow_log_role),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        for service in gateway_endpoints:
            self.vpc.add_gateway_endpoint(_endpoint_id(service.name), service=service, subnets=[self.subnets])
        for service in interface_endpoints:
            endpoint = self.vpc.add_interface_endpoint(
                _endpoint_id(service.short_name), service=service, subnets=self.subnets, private_dns_enabled=True,
                open=False)
            # A literal CIDR rather than the VPC's CidrBlock attribute, so that rule checks can read it.
            endpoint.connections.allow_from(ec2.Peer.ipv4(CIDR), ec2.Port.tcp(443), "HTTPS from inside the VPC")


def _endpoint_id(service_name: str) -> str:
    """A construct id from an endpoint service name, e.g. "com.amazonaws.eu-west-1.s3" -> "S3Endpoint"."""
    short = service_name.rsplit(".", 1)[-1] if service_name.startswith("com.amazonaws") else service_name
    return "".join(part.capitalize() for part in short.replace(".", "-").split("-")) + "Endpoint"
