"""The hub's Lambda functions: five round-loop steps and the research API.

Contract with functions/ (written separately): each module exposes `handler(event, context)` and
reads its settings from these environment variables, set on every function:
HUB_BUCKET, HUB_KMS_KEY_ID, RUNS_TABLE, LEDGER_TABLE, AUDIT_TABLE, SPOKE_IDS (JSON list of the
hospitals' ids; InitRun gets their descriptors, naming.SpokeEndpoints.as_map_item, in its payload from the
state machine), ROUNDS, QUORUM, DEFAULT_EPSILON, DELTA,
ENVIRONMENT, METRICS_NAMESPACE; the API also gets STATE_MACHINE_ARN. POWERTOOLS_SERVICE_NAME is
left unset on purpose: Powertools would add it as a metric dimension the dashboard does not use.
"""

from __future__ import annotations

from typing import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.components.container_function import ContainerFunction, FunctionPlacement, FunctionSpec
from cdk.naming import Names

INIT_RUN = FunctionSpec("init_run", 512, 60, "Create the run record; return the spokes and run settings")
SETUP_MERGE = FunctionSpec("setup_merge", 3008, 600, "Merge DP statistics into the global preprocessor and model")
BUDGET_GATE = FunctionSpec("budget_gate", 1024, 120, "Drop spokes whose epsilon would pass their budget")
AGGREGATE = FunctionSpec("aggregate", 4096, 900, "Open, check and aggregate one round's sealed updates")
FINALIZE = FunctionSpec("finalize", 1024, 300, "Publish the model version and record the run's final status")
API = FunctionSpec("api", 3008, 29, "Research API: generate, runs, budget, audit (FastAPI via Mangum)")


class HubFunctions(Construct):
    """`init_run`, `setup_merge`, `budget_gate`, `aggregate`, `finalize`, `api` (ContainerFunction each),
    sharing one security group (HTTPS out only) and one KMS-encrypted dead-letter queue."""

    def __init__(self, scope: Construct, construct_id: str, *, names: Names, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection, key: kms.IKey, log_retention_days: int, round_concurrency: int,
                 api_concurrency: int, environment: Mapping[str, str], state_machine_arn: str) -> None:
        super().__init__(scope, construct_id)
        security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Hub functions: HTTPS to VPC endpoints only")
        # The VPC has no internet or NAT gateway, so 443 reaches only VPC endpoints and the S3 and
        # DynamoDB gateway prefixes (whose prefix-list ids cannot be looked up without credentials).
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS endpoints")
        dead_letters = sqs.Queue(
            self, "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.dead_letter_queue = dead_letters
        placement = FunctionPlacement(vpc=vpc, subnets=subnets, security_group=security_group,
                                      dead_letter_queue=dead_letters, key=key,
                                      log_retention_days=log_retention_days)

        def build(construct_id: str, spec: FunctionSpec, concurrency: int, extra: Mapping[str, str]):
            return ContainerFunction(
                self, construct_id, spec=spec, function_name=names.function(spec.module), placement=placement,
                reserved_concurrency=concurrency,
                environment={**environment, **extra})

        self.init_run = build("InitRun", INIT_RUN, round_concurrency, {})
        self.setup_merge = build("SetupMerge", SETUP_MERGE, round_concurrency, {})
        self.budget_gate = build("BudgetGate", BUDGET_GATE, round_concurrency, {})
        self.aggregate = build("Aggregate", AGGREGATE, round_concurrency, {})
        self.finalize = build("Finalize", FINALIZE, round_concurrency, {})
        self.api = build("Api", API, api_concurrency, {"STATE_MACHINE_ARN": state_machine_arn})

    @property
    def round_loop(self) -> tuple[ContainerFunction, ...]:
        return (self.init_run, self.setup_merge, self.budget_gate, self.aggregate, self.finalize)
