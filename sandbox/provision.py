"""Create the emulated hub and spoke accounts from the synthesized templates.

Each resource the round loop touches is created from its own template properties, in its own
account: IAM roles, KMS keys and aliases, named S3 buckets, DynamoDB tables, the container-image
Lambda functions (with their resolved environment), the state machine (its definition exported by
``cdk.asl_export`` against the created function ARNs), and per spoke its two Batch queues (cpu and
gpu, each on its own compute environment), their job definitions and the hospital's policy parameter
(its epsilon cap and DP opt-out, which the trainer reads with the job role's credentials in the
spoke's account). ``put_spoke_policies`` lets the simulated hospitals replace their policy, as a
hospital's administrator would. Every role gets its identity policies from the template
(``role_policies_for_moto``), and moto's access control checks each request of a function, job or
Task against them. Networking, logging, alarms, backups and the API front
door are not emulated, nor are bucket and key policies (moto ignores resource policies).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cdk.asl_export import export_asl, lambda_handlers, referenced_ids, state_machine_ids
from fedcore.runtime.spoke_policy import SpokePolicy, policy_parameter_name
from sandbox.cfn import Resolver, resources_of_type
from sandbox.emulator import Emulator
from sandbox.cloudformation_templates import StackTemplate, SynthesizedApp

IMAGE_PLACEHOLDER = "{account}.dkr.ecr.{region}.amazonaws.com/fedcore-sandbox:local"  # never pulled
BATCH_SERVICE_ROLE = "fedcore-sandbox-batch-service"
_TRUST_ANYONE_IN_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}


@dataclass(frozen=True)
class HostedFunction:
    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    role_arn: str  # its execution role: the sandbox runs it with this role's credentials


@dataclass(frozen=True)
class HubDeployment:
    account: str
    region: str
    bucket: str
    key_arn: str
    runs_table: str
    ledger_table: str
    audit_table: str
    functions: dict[str, HostedFunction]  # by handler module, e.g. "aggregate"
    state_machine_arn: str
    spokes: list[dict]  # the descriptors the round loop passes to InitRun


@dataclass(frozen=True)
class SpokeDeployment:
    spoke_id: str
    account: str
    data_bucket: str
    data_key: str
    job_queues: dict[str, str]  # compute class ("cpu", "gpu") -> its queue's ARN
    job_definitions: dict[str, str]  # compute class -> its trainer job definition's name
    job_role_arn: str
    launch_role_arn: str


@dataclass(frozen=True)
class Deployment:
    hub: HubDeployment
    spokes: dict[str, SpokeDeployment]


def provision(emulator: Emulator, app: SynthesizedApp,
              policies: Mapping[str, SpokePolicy] | None = None) -> Deployment:
    """Create every stack in its account; ``policies`` (spoke id -> policy) replace the stacks' own."""
    hub_resolver = _create_stack(emulator, app.hub)
    hub = _hub_deployment(app.hub, hub_resolver)
    spokes = {}
    for descriptor in hub.spokes:
        stack = app.spokes[descriptor["spoke_id"]]
        resolver = _create_stack(emulator, stack)
        spokes[descriptor["spoke_id"]] = _spoke_deployment(descriptor, stack, resolver)
    deployment = Deployment(hub, spokes)
    if policies:
        put_spoke_policies(emulator, deployment, policies)
    return deployment


def spoke_policies(spoke_ids: Iterable[str], target_epsilon: float, allow_no_dp: bool = False,
                   epsilon_caps: Mapping[str, float] | None = None) -> dict[str, SpokePolicy]:
    """The simulated hospitals' policies: each one's cap is its entry in ``epsilon_caps``, else the run's
    target epsilon; ``allow_no_dp`` is every hospital's opt-out (the demo's ``--no-dp``)."""
    caps = dict(epsilon_caps or {})
    return {spoke: SpokePolicy(epsilon_cap=float(caps.get(spoke, target_epsilon)), allow_no_dp=allow_no_dp)
            for spoke in spoke_ids}


def put_spoke_policies(emulator: Emulator, deployment: Deployment, policies: Mapping[str, SpokePolicy]) -> None:
    """Each hospital writes its own policy parameter, in its own account (its administrator's credentials)."""
    unknown = sorted(set(policies) - set(deployment.spokes))
    if unknown:
        raise ValueError(f"no such spokes in the sandbox: {unknown}")
    for spoke_id, policy in policies.items():
        ssm = emulator.client("ssm", account=deployment.spokes[spoke_id].account)
        ssm.put_parameter(Name=policy_parameter_name(spoke_id), Type="String", Value=policy.to_json(),
                          Overwrite=True)


def _create_stack(emulator: Emulator, stack: StackTemplate) -> Resolver:
    """Create the stack's emulated resources in its account; return the values they resolve to."""
    resolver = Resolver(stack.account, stack.region)
    template = stack.template

    def client(service: str):
        return emulator.client(service, account=stack.account)

    iam = client("iam")
    for logical_id, props in resources_of_type(template, "AWS::IAM::Role"):
        name = props.get("RoleName") or logical_id[:64]
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(_TRUST_ANYONE_IN_ACCOUNT))["Role"]
        resolver.bind(logical_id, Ref=name, Arn=role["Arn"])
    kms = client("kms")
    for logical_id, props in resources_of_type(template, "AWS::KMS::Key"):
        key = kms.create_key(Description=str(props.get("Description", logical_id)))["KeyMetadata"]
        resolver.bind(logical_id, Ref=key["KeyId"], Arn=key["Arn"])
    for logical_id, props in resources_of_type(template, "AWS::KMS::Alias"):
        kms.create_alias(AliasName=props["AliasName"], TargetKeyId=resolver.resolve(props["TargetKeyId"]))
        resolver.bind(logical_id, Ref=props["AliasName"])
    _create_buckets(client("s3"), template, resolver, stack.region)
    _create_parameters(client("ssm"), template, resolver)
    _create_tables(client("dynamodb"), template, resolver)
    _create_batch(client("batch"), iam, template, resolver, stack)
    _bind_identity(template, resolver, stack)
    _create_functions(client("lambda"), template, resolver, stack)
    _create_state_machines(client("stepfunctions"), template, resolver)
    _put_role_policies(iam, template, resolver)
    return resolver


# moto authorizes some operations under an action name IAM does not use: AWS authorizes a
# TransactWriteItems by the actions inside it (PutItem here), moto by "dynamodb:TransactWriteItems";
# Lambda's Invoke operation is the IAM action lambda:InvokeFunction, moto checks "lambda:Invoke"; Batch
# names its actions by the lower-case URL path ("batch:submitjob"), which IAM would match case-insensitively.
MOTO_ACTION_ALIASES = {"dynamodb:PutItem": ("dynamodb:TransactWriteItems",),
                       "lambda:InvokeFunction": ("lambda:Invoke",)}
_LOWER_CASE_SERVICES = ("batch:",)


def _moto_aliases(action: str) -> tuple[str, ...]:
    lower = (action.lower(),) if action.startswith(_LOWER_CASE_SERVICES) and action != action.lower() else ()
    return MOTO_ACTION_ALIASES.get(action, ()) + lower


def role_policies_for_moto(template: dict, role_id: str, resolver: Resolver) -> list[dict]:
    """The role's identity-policy statements in the form moto can evaluate.

    moto matches S3 requests against bucket and object ARNs and every other service's requests against
    "*" (action only), and evaluates no condition. So S3 statements keep their resolved resources, all
    others get Resource "*", and conditions are dropped: resources outside S3 and every condition are
    checked against the templates by ``tests/cdk/test_role_permissions.py`` instead.
    """
    statements = []
    for document in _role_documents(template, role_id):
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            s3 = [a for a in actions if a.startswith("s3:")]
            other = [a for a in actions if not a.startswith("s3:")]
            other += [alias for a in other for alias in _moto_aliases(a)]
            if s3:
                statements.append({"Effect": statement["Effect"], "Action": s3,
                                   "Resource": resolver.resolve(statement["Resource"])})
            if other:
                statements.append({"Effect": statement["Effect"], "Action": other, "Resource": "*"})
    return statements


def _role_documents(template: dict, role_id: str) -> list[dict]:
    role = template["Resources"][role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        documents += [props["PolicyDocument"] for _, props in resources_of_type(template, kind)
                      if {"Ref": role_id} in props.get("Roles", [])]
    return documents  # AWS managed policies (log delivery, VPC ENIs) serve the platform, not the code


def _put_role_policies(iam, template: dict, resolver: Resolver) -> None:
    for logical_id, _ in resources_of_type(template, "AWS::IAM::Role"):
        statements = role_policies_for_moto(template, logical_id, resolver)
        if statements:
            iam.put_role_policy(RoleName=resolver.value(logical_id), PolicyName="template",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def _create_buckets(s3, template: dict, resolver: Resolver, region: str) -> None:
    for logical_id, props in resources_of_type(template, "AWS::S3::Bucket"):
        name = props.get("BucketName")
        if not name:
            continue  # access-log buckets: not emulated
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        resolver.bind(logical_id, Ref=name, Arn=f"arn:aws:s3:::{name}")


def _create_parameters(ssm, template: dict, resolver: Resolver) -> None:
    for logical_id, props in resources_of_type(template, "AWS::SSM::Parameter"):
        ssm.put_parameter(Name=props["Name"], Type=props["Type"], Value=str(resolver.resolve(props["Value"])),
                          Description=str(props.get("Description", ""))[:1024])
        resolver.bind(logical_id, Ref=props["Name"])


def _create_tables(dynamodb, template: dict, resolver: Resolver) -> None:
    for logical_id, props in resources_of_type(template, "AWS::DynamoDB::Table"):
        table = dynamodb.create_table(
            TableName=props["TableName"], KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"], BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]
        resolver.bind(logical_id, Ref=props["TableName"], Arn=table["TableArn"])


def _create_batch(batch, iam, template: dict, resolver: Resolver, stack: StackTemplate) -> None:
    environments = list(resources_of_type(template, "AWS::Batch::ComputeEnvironment"))
    if not environments:
        return
    service_role = iam.create_role(RoleName=BATCH_SERVICE_ROLE,
                                   AssumeRolePolicyDocument=json.dumps(_TRUST_ANYONE_IN_ACCOUNT))["Role"]["Arn"]
    for logical_id, props in environments:  # the local machine is the compute: UNMANAGED
        name = props.get("ComputeEnvironmentName") or logical_id[:128]
        arn = batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED", state="ENABLED",
                                               serviceRole=service_role)["computeEnvironmentArn"]
        resolver.bind(logical_id, Ref=arn, ComputeEnvironmentArn=arn)
    for logical_id, props in resources_of_type(template, "AWS::Batch::JobQueue"):
        order = [{"order": item["Order"], "computeEnvironment": resolver.resolve(item["ComputeEnvironment"])}
                 for item in props["ComputeEnvironmentOrder"]]
        arn = batch.create_job_queue(jobQueueName=props["JobQueueName"], state=props.get("State", "ENABLED"),
                                     priority=int(props.get("Priority", 1)),
                                     computeEnvironmentOrder=order)["jobQueueArn"]
        resolver.bind(logical_id, Ref=arn, JobQueueArn=arn, JobQueueName=props["JobQueueName"])
    for logical_id, props in resources_of_type(template, "AWS::Batch::JobDefinition"):
        container = props["ContainerProperties"]
        properties = {
            "image": IMAGE_PLACEHOLDER.format(account=stack.account, region=stack.region),
            "environment": [{"name": e["Name"], "value": str(resolver.resolve(e["Value"]))}
                            for e in container.get("Environment", [])],
            "resourceRequirements": [{"type": r["Type"], "value": str(r["Value"])}
                                     for r in container.get("ResourceRequirements", [])],
        }
        if "JobRoleArn" in container:
            properties["jobRoleArn"] = resolver.resolve(container["JobRoleArn"])
        kwargs = {}
        if "Timeout" in props:
            kwargs["timeout"] = {"attemptDurationSeconds": int(props["Timeout"]["AttemptDurationSeconds"])}
        arn = batch.register_job_definition(jobDefinitionName=props["JobDefinitionName"], type="container",
                                            containerProperties=properties, **kwargs)["jobDefinitionArn"]
        resolver.bind(logical_id, Ref=arn)


def _bind_identity(template: dict, resolver: Resolver, stack: StackTemplate) -> None:
    """Cognito is not emulated: the sandbox's API server is its own authorizer (local tokens) and has no hosted
    UI. Its user pools, clients and domains get identifiers of Cognito's shape, so that the functions'
    environment resolves; ``serve_api`` does not pass the hosted UI's settings to the local server."""
    for number, (logical_id, _) in enumerate(resources_of_type(template, "AWS::Cognito::UserPool")):
        pool_id = f"{stack.region}_sandbox{number}"
        resolver.bind(logical_id, Ref=pool_id, ProviderName=f"cognito-idp.{stack.region}.amazonaws.com/{pool_id}",
                      Arn=f"arn:aws:cognito-idp:{stack.region}:{stack.account}:userpool/{pool_id}")
    for number, (logical_id, _) in enumerate(resources_of_type(template, "AWS::Cognito::UserPoolClient")):
        resolver.bind(logical_id, Ref=f"sandboxclient{number}")
    for logical_id, props in resources_of_type(template, "AWS::Cognito::UserPoolDomain"):
        resolver.bind(logical_id, Ref=str(resolver.resolve(props["Domain"])))


def _create_functions(lambda_, template: dict, resolver: Resolver, stack: StackTemplate) -> None:
    for logical_id in lambda_handlers(template):  # container-image functions with a handler CMD
        props = template["Resources"][logical_id]["Properties"]
        variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        created = lambda_.create_function(
            FunctionName=props["FunctionName"], Role=resolver.resolve(props["Role"]), PackageType="Image",
            Code={"ImageUri": IMAGE_PLACEHOLDER.format(account=stack.account, region=stack.region)},
            ImageConfig={"Command": props["ImageConfig"]["Command"]},
            Environment={"Variables": {k: str(v) for k, v in variables.items()}},
            MemorySize=int(props.get("MemorySize", 128)), Timeout=int(props.get("Timeout", 3)),
        )
        resolver.bind(logical_id, Ref=created["FunctionName"], Arn=created["FunctionArn"])


def _create_state_machines(sfn, template: dict, resolver: Resolver) -> None:
    for logical_id in state_machine_ids(template):
        props = template["Resources"][logical_id]["Properties"]
        arns = {ref: _arn_or_ref(resolver, ref) for ref in referenced_ids(template, logical_id) if "::" not in ref}
        definition = export_asl(template, arns, state_machine_id=logical_id)
        arn = sfn.create_state_machine(name=props["StateMachineName"], definition=definition,
                                       roleArn=resolver.resolve(props["RoleArn"]),
                                       type=props.get("StateMachineType", "STANDARD"))["stateMachineArn"]
        resolver.bind(logical_id, Ref=arn, Name=props["StateMachineName"], Definition=definition)


def _arn_or_ref(resolver: Resolver, logical_id: str) -> str:
    try:
        return resolver.value(logical_id, "Arn")
    except ValueError:
        return resolver.value(logical_id)


def _hub_deployment(stack: StackTemplate, resolver: Resolver) -> HubDeployment:
    functions = {}
    for logical_id, handler in lambda_handlers(stack.template).items():
        props = stack.template["Resources"][logical_id]["Properties"]
        variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        environment = {k: str(v) for k, v in variables.items()}
        functions[handler.split(".")[-2]] = HostedFunction(
            resolver.value(logical_id), resolver.value(logical_id, "Arn"), handler, environment,
            resolver.resolve(props["Role"]))
    env = functions["aggregate"].environment
    (machine_id,) = state_machine_ids(stack.template)
    return HubDeployment(
        account=stack.account, region=stack.region, bucket=env["HUB_BUCKET"], key_arn=env["HUB_KMS_KEY_ID"],
        runs_table=env["RUNS_TABLE"], ledger_table=env["LEDGER_TABLE"], audit_table=env["AUDIT_TABLE"],
        functions=functions, state_machine_arn=resolver.value(machine_id),
        spokes=init_run_spokes(json.loads(resolver.value(machine_id, "Definition"))),
    )


def init_run_spokes(definition: dict) -> list[dict]:
    """The deployment's spoke descriptors, as the round loop's definition passes them to InitRun."""
    payload = definition["States"]["InitRun"]["Parameters"]["Payload"]
    return payload["spokes"]


def _spoke_deployment(descriptor: dict, stack: StackTemplate, resolver: Resolver) -> SpokeDeployment:
    # Every class's job definition runs the same image with the same environment and job role.
    container = next(props for _, props in resources_of_type(stack.template, "AWS::Batch::JobDefinition"))[
        "ContainerProperties"]
    env = {e["Name"]: str(resolver.resolve(e["Value"])) for e in container.get("Environment", [])}
    queues = descriptor["queues"]
    return SpokeDeployment(
        spoke_id=descriptor["spoke_id"], account=stack.account, data_bucket=env["DATA_BUCKET"],
        data_key=env["DATA_KEY"], job_queues={name: queue["job_queue_arn"] for name, queue in queues.items()},
        job_definitions={name: queue["job_definition"] for name, queue in queues.items()},
        job_role_arn=resolver.resolve(container["JobRoleArn"]), launch_role_arn=descriptor["launch_role_arn"],
    )
