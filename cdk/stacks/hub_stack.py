"""The consortium hub: storage, round-loop functions and state machine, research API, monitoring."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, CfnOutput, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk import nag
from cdk.config import EnvironmentConfig
from cdk.components.hub_functions import HubFunctions
from cdk.components.hub_storage import HubStorage
from cdk.components.hub_tables import HubTables
from cdk.components.monitoring import Monitoring
from cdk.components.private_network import PrivateNetwork
from cdk.components.research_api import ResearchApi
from cdk.components.round_loop import RoundLoop
from cdk.naming import Names
from cdk.stacks.hub_grants import grant_api_data, grant_round_loop
from cdk.stacks.platform_stack import PlatformStack


class HubStack(PlatformStack):
    """Wires the hub constructs together and grants each function exactly what its step needs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        ops = config.operations
        super().__init__(scope, construct_id, account=config.hub_account, region=config.hub_region,
                         max_azs=ops.max_azs, termination_protection=ops.termination_protection,
                         description=f"{config.prefix}: federated learning hub")
        names = Names(config, partition=self.partition)
        spokes = names.all_spoke_endpoints()
        retention = ops.log_retention_days

        storage = HubStorage(self, "Storage", names=names, log_retention_days=retention,
                             update_retention_days=ops.update_retention_days)
        for spoke in spokes:
            storage.admit_spoke(spoke)
        tables = HubTables(self, "Tables", names=names, key=storage.key)
        network = PrivateNetwork(
            self, "Network", key=storage.key, max_azs=ops.max_azs, log_retention_days=retention,
            gateway_endpoints=[ec2.GatewayVpcEndpointAwsService.S3, ec2.GatewayVpcEndpointAwsService.DYNAMODB],
            interface_endpoints=[ec2.InterfaceVpcEndpointAwsService.KMS,
                                 ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
                                 ec2.InterfaceVpcEndpointAwsService.XRAY])
        namespace = f"{config.project}/{config.name}"
        functions = HubFunctions(
            self, "Functions", names=names, vpc=network.vpc, subnets=network.subnets, key=storage.key,
            log_retention_days=retention, round_concurrency=ops.function_concurrency,
            api_concurrency=config.api.reserved_concurrency, state_machine_arn=names.state_machine_arn,
            environment={
                "ENVIRONMENT": config.name,
                "HUB_BUCKET": storage.bucket.bucket_name,
                "HUB_KMS_KEY_ID": storage.key.key_arn,
                "RUNS_TABLE": tables.runs.table_name,
                "LEDGER_TABLE": tables.ledger.table_name,
                "AUDIT_TABLE": tables.audit.table_name,
                # the hospitals' ids only; their descriptors travel in the state machine's InitRun payload
                # (RoundLoop): ~500 bytes each would reach Lambda's 4 KB environment limit at about 7 hospitals
                "SPOKE_IDS": json.dumps([spoke.spoke_id for spoke in spokes]),
                "ROUNDS": str(config.training.rounds),
                "QUORUM": str(config.training.quorum),
                "DEFAULT_EPSILON": str(config.training.default_epsilon),
                "DELTA": str(config.training.delta),
                "METRICS_NAMESPACE": namespace,
            })
        grant_round_loop(storage, tables, functions)

        loop = RoundLoop(
            self, "RoundLoop", names=names, init_run=functions.init_run, setup_merge=functions.setup_merge,
            budget_gate=functions.budget_gate, aggregate=functions.aggregate, finalize=functions.finalize,
            spokes=spokes, key=storage.key, log_retention_days=retention,
            job_timeout=Duration.minutes(config.batch.job_timeout_minutes + config.batch.queue_wait_minutes),
            run_timeout=Duration.hours(ops.run_timeout_hours))

        api_role = functions.api.role
        grant_api_data(storage, tables, functions)
        api_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["states:StartExecution"], resources=[loop.state_machine.state_machine_arn]))
        executions = self.format_arn(service="states", resource="execution",
                                     resource_name=f"{names.state_machine}:*",
                                     arn_format=ArnFormat.COLON_RESOURCE_NAME)
        api_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["states:DescribeExecution", "states:StopExecution"], resources=[executions]))
        nag.acknowledge_wildcard_resources(api_role, [executions], nag.Reason.RUNTIME_IDS)

        api = ResearchApi(
            self, "Api", name=f"{config.prefix}-research", handler=functions.api.function, key=storage.key,
            log_retention_days=retention, throttle_rate=config.api.throttle_rate,
            throttle_burst=config.api.throttle_burst, waf_rate_limit=config.api.waf_rate_limit,
            domain_prefix=f"{config.prefix}-{config.hub_account}")
        Monitoring(
            self, "Monitoring", name=f"{config.prefix}-training", namespace=namespace,
            spoke_ids=[spoke.spoke_id for spoke in spokes], state_machine=loop.state_machine,
            aggregate=functions.aggregate.function, key=storage.key, alarm_email=ops.alarm_email)

        CfnOutput(self, "ApiUrl", value=api.rest_api.url)
        CfnOutput(self, "UserPoolId", value=api.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=api.client.user_pool_client_id)
        CfnOutput(self, "DashboardUrl", value=api.dashboard_url)
        CfnOutput(self, "HostedUiDomain", value=api.domain.base_url())
        CfnOutput(self, "StateMachineArn", value=loop.state_machine.state_machine_arn)
        CfnOutput(self, "HubBucketName", value=storage.bucket.bucket_name)
