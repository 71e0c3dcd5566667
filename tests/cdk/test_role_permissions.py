"""Each synthesized role allows what its step's code does (fedcore.runtime.resource_access), and nothing more.

moto checks S3 resources but evaluates no condition and checks other services by action alone, so the
sandbox cannot see a missing prefix, table action or encryption-context condition: this test can. It
resolves every role's policies from the templates, asks for each access the declaration lists (with the
condition keys AWS would send: kms:ViaService, the S3 object ARN, the sealing context, s3:prefix) and
then reads each granted statement back against the declaration, so an over-grant fails too.

S3 decides whether a GetObject or HeadObject of a missing key answers 404 or 403 by asking for ListBucket
with that request's context, which has no s3:prefix: a prefix-limited ListBucket grant never turns a miss
into a 404. So a key that may be missing is declared under ``exists`` (S3BlobStore.exists lists it as a
prefix) and its request here is ListBucket with s3:prefix = the key; a read asks for no ListBucket at all.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from cdk.asl_export import lambda_handlers
from cdk.config import COMPUTE_CLASSES
from cdk.naming import Names
from fedcore.runtime.resource_access import HUB_FUNCTIONS, LOCAL_LEDGER, SPOKE, STEPS, StepAccess
from iam_policy import Request, StackResolver, actions_of, allowed, contained, resources_of

pytestmark = pytest.mark.cdk  # synthesizes the CDK app

# Granted by the Lambda and Batch platforms for themselves (logs, tracing, dead letters, VPC ENIs), not by the code
PLATFORM_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
                    "sqs:SendMessage"}
PLATFORM_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"}
SAMPLE = "x1"  # stands for a run id, a round or a request id in a key pattern


def _key(pattern: str, spoke: str | None = None) -> str:
    return pattern.replace(SPOKE, spoke or "").replace("*", SAMPLE)


class Deployed:
    """One role of one stack with the names its step's requests use."""

    def __init__(self, resolver: StackResolver, role_id: str, *, bucket: str, key_arn: str,
                 tables: dict[str, str] | None = None, spoke: str | None = None, extra_context: dict | None = None,
                 whole_bucket_listable: bool = False):
        self.resolver, self.role_id = resolver, role_id
        self.statements = resolver.role_statements(role_id)
        self.bucket_arn, self.key_arn = f"arn:aws:s3:::{bucket}", key_arn
        self.tables = tables or {}
        self.spoke = spoke
        self.extra_context = extra_context or {}  # e.g. kms:ResourceAliases of the hub key
        self.whole_bucket_listable = whole_bucket_listable
        self.via = lambda service: f"{service}.{resolver.region}.amazonaws.com"

    def object_arn(self, pattern: str) -> str:
        return f"{self.bucket_arn}/{_key(pattern, self.spoke)}"


def hub_requests(step: StepAccess, role: Deployed, state_machine: str) -> list[Request]:
    via_s3 = {"kms:ViaService": role.via("s3"), **role.extra_context}
    requests = []
    for pattern in step.read:
        arn = role.object_arn(pattern)
        requests.append(Request.of("s3:GetObject", arn))
        requests.append(Request.of("kms:Decrypt", role.key_arn, **via_s3, **{"kms:EncryptionContext:aws:s3:arn": arn}))
    for pattern in (*step.list, *step.exists):
        requests.append(Request.of("s3:ListBucket", role.bucket_arn, **{"s3:prefix": _key(pattern, role.spoke)}))
    if role.whole_bucket_listable and step.read:  # a read that may miss: 404 needs ListBucket without s3:prefix
        requests.append(Request.of("s3:ListBucket", role.bucket_arn))
    for pattern in step.write:
        arn = role.object_arn(pattern)
        requests.append(Request.of("s3:PutObject", arn))
        requests.append(Request.of("kms:GenerateDataKey", role.key_arn, **via_s3,
                                   **{"kms:EncryptionContext:aws:s3:arn": arn}))
    sealing = {"kms:EncryptionContext:spoke": role.spoke or "hub", **role.extra_context}
    requests += [Request.of("kms:GenerateDataKey", role.key_arn, **sealing, **{"kms:EncryptionContext:kind": kind})
                 for kind in step.seal]
    requests += [Request.of("kms:Decrypt", role.key_arn, **sealing, **{"kms:EncryptionContext:kind": kind})
                 for kind in step.open]
    for table, actions in step.tables.items():
        requests += [Request.of(action, role.tables[table]) for action in actions]
    if step.tables:
        requests += [Request.of(action, role.key_arn, **{"kms:ViaService": role.via("dynamodb")})
                     for action in ("kms:Decrypt", "kms:GenerateDataKey")]
    region, account = role.resolver.region, role.resolver.account
    for action in step.states:
        states = f"arn:aws:states:{region}:{account}"
        resource = (f"{states}:stateMachine:{state_machine}" if action == "states:StartExecution"
                    else f"{states}:execution:{state_machine}:{SAMPLE}")
        requests.append(Request.of(action, resource))
    return requests


def over_grants(step: StepAccess, role: Deployed) -> list[str]:
    """Every granted (action, resource, condition) the declaration does not explain."""
    found = []
    hub_objects = {"s3:GetObject": step.read, "s3:PutObject": step.write}
    for statement in role.statements:
        if statement["Effect"] != "Allow":
            continue
        conditions = {k: v for op in statement.get("Condition", {}).values() for k, v in op.items()}
        for action in actions_of(statement):
            for resource in resources_of(statement):
                if not _explained(step, role, action, resource, conditions, hub_objects):
                    found.append(f"{action} on {resource} if {conditions or 'always'}")
    return found


def _explained(step, role, action, resource, conditions, hub_objects) -> bool:
    listed = lambda v: v if isinstance(v, list) else [v]  # noqa: E731
    if action in PLATFORM_ACTIONS:
        return True
    if action in hub_objects:
        key = resource.removeprefix(role.bucket_arn + "/")
        own = [p.replace(SPOKE, role.spoke or SPOKE) for p in hub_objects[action]]
        return key != resource and any(contained(key, p) for p in own)
    if action == "s3:ListBucket":
        prefixes = listed(conditions.get("s3:prefix", []))
        if resource == role.bucket_arn and not prefixes and role.whole_bucket_listable:
            return bool(step.read)
        return resource == role.bucket_arn and bool(prefixes) and all(
            any(contained(p, d) for d in (*step.list, *step.exists)) for p in prefixes)
    if action.startswith("dynamodb:"):
        return any(resource == arn and action in step.tables.get(t, ()) for t, arn in role.tables.items())
    if action.startswith("states:"):
        return action in step.states
    if action.startswith("kms:"):
        if not fnmatchcase(role.key_arn, resource):
            return False
        via = conditions.get("kms:ViaService")
        if via == role.via("sqs"):
            return action in ("kms:Decrypt", "kms:GenerateDataKey")  # the dead-letter queue (platform)
        if via == role.via("dynamodb"):
            return bool(step.tables)
        if via == role.via("s3"):
            declared = step.write if action == "kms:GenerateDataKey" else step.read
            arns = listed(conditions.get("kms:EncryptionContext:aws:s3:arn", []))
            return bool(arns) and all(any(contained(a, role.object_arn(d).replace(SAMPLE, "*")) for d in declared)
                                      for a in arns)
        kinds = listed(conditions.get("kms:EncryptionContext:kind", []))
        declared = step.seal if action == "kms:GenerateDataKey" else step.open
        own = role.spoke is None or action != "kms:GenerateDataKey" or \
            conditions.get("kms:EncryptionContext:spoke") == role.spoke
        return bool(kinds) and set(kinds) <= set(declared) and own
    return False


@pytest.fixture(scope="module")
def hub(synthesized):
    config = synthesized.config
    resolver = StackResolver(synthesized.hub, config.hub_account, config.hub_region)
    roles = {}
    for logical_id, handler in lambda_handlers(synthesized.hub).items():
        props = synthesized.hub["Resources"][logical_id]["Properties"]
        env = resolver.resolve(props["Environment"]["Variables"])
        tables = {t: f"arn:aws:dynamodb:{resolver.region}:{resolver.account}:table/{env[f'{t.upper()}_TABLE']}"
                  for t in ("runs", "ledger", "audit")}
        roles[handler.split(".")[-2]] = Deployed(resolver, props["Role"]["Fn::GetAtt"][0], bucket=env["HUB_BUCKET"],
                                                 key_arn=env["HUB_KMS_KEY_ID"], tables=tables)
    return roles, Names(config, partition="aws").state_machine


@pytest.mark.parametrize("step", HUB_FUNCTIONS)
def test_each_hub_function_role_grants_what_its_step_declares(hub, step):
    roles, state_machine = hub
    role = roles[step]
    missing = [r for r in hub_requests(STEPS[step], role, state_machine) if not allowed(role.statements, r)]
    assert missing == [], f"{step}'s role lacks what its code does: {missing}"


@pytest.mark.parametrize("step", HUB_FUNCTIONS)
def test_each_hub_function_role_grants_nothing_beyond_its_declaration(hub, step):
    roles, _ = hub
    role = roles[step]
    assert over_grants(STEPS[step], role) == []
    assert set(role.resolver.managed_policy_arns(role.role_id)) <= PLATFORM_MANAGED_POLICIES


def _spoke_views(synthesized, spoke):
    """The trainer's role seen twice: against the hub's bucket and key, and against its own account's."""
    config = synthesized.config
    names = Names(config, partition="aws")
    resolver = StackResolver(synthesized.spokes[spoke.id], spoke.account, spoke.region)
    by_name = {r["Properties"].get("RoleName"): lid for lid, r in resolver.resources.items()
               if r["Type"] == "AWS::IAM::Role"}
    job_role = by_name[names.job_role(spoke)]
    hub_view = Deployed(resolver, job_role, bucket=names.hub_bucket, spoke=spoke.id,
                        key_arn=f"arn:aws:kms:{config.hub_region}:{config.hub_account}:key/{SAMPLE}",
                        extra_context={"kms:ResourceAliases": [names.hub_key_alias]})
    (spoke_key,) = [resolver.arn(lid) for lid, r in resolver.resources.items() if r["Type"] == "AWS::KMS::Key"]
    own_view = Deployed(resolver, job_role, bucket=names.data_bucket(spoke), key_arn=spoke_key, spoke=spoke.id,
                        whole_bucket_listable=True)  # the hospital's own bucket: a first ledger read answers 404
    step = STEPS["trainer"]
    keys = {"{data_key}": config.batch.data_key, LOCAL_LEDGER: names.local_ledger_key(spoke)}
    own_step = StepAccess("trainer (own account)", read=tuple(keys[p] for p in step.spoke_read),
                          write=tuple(keys[p] for p in step.spoke_write))
    return names, resolver, (step, hub_view), (own_step, own_view), by_name[names.launch_role(spoke)]


def test_each_trainer_role_grants_its_declaration_and_nothing_more(synthesized):
    for spoke in synthesized.config.spokes:
        names, _, hub_side, own_side, _ = _spoke_views(synthesized, spoke)
        (step, hub_view), (own_step, own_view) = hub_side, own_side
        parameter = names.spoke_policy_parameter_arn(spoke)
        requests = hub_requests(step, hub_view, "") + hub_requests(own_step, own_view, "")
        requests += [Request.of(action, parameter) for action in step.spoke_parameters]
        missing = [r for r in requests if not allowed(hub_view.statements, r)]
        assert missing == [], f"{spoke.id}'s job role lacks what the trainer does: {missing}"

        unexplained = set(over_grants(step, hub_view)) & set(over_grants(own_step, own_view))
        unexplained -= {f"{action} on {parameter} if always" for action in step.spoke_parameters}
        assert unexplained == set(), f"{spoke.id}'s job role grants more than the trainer does"


def test_each_launch_role_may_only_run_its_spokes_job(synthesized):
    step = STEPS["launch"]
    for spoke in synthesized.config.spokes:
        names, resolver, _, _, launch_id = _spoke_views(synthesized, spoke)
        statements = resolver.role_statements(launch_id)
        batch = f"arn:aws:batch:{spoke.region}:{spoke.account}"
        foreign = f"arn:aws:batch:{spoke.region}:000000000000"
        submit = lambda resource: Request.of("batch:SubmitJob", resource)  # noqa: E731
        assert {a for s in statements for a in actions_of(s)} == set(step.batch)
        for compute_class in COMPUTE_CLASSES:  # the hospital's queues, one per class, and their job definitions
            assert allowed(statements, submit(names.job_queue_arn(spoke, compute_class)))
            assert allowed(statements, submit(f"{names.job_definition_arn(spoke, compute_class)}:3"))
        assert not allowed(statements, submit(f"{batch}:job-definition/other:1"))
        assert not allowed(statements, submit(f"{batch}:job-queue/other"))
        assert not allowed(statements, submit(f"{foreign}:job-queue/{names.job_queue(spoke, 'gpu')}"))
        assert allowed(statements, Request.of("batch:TerminateJob", f"{batch}:job/{SAMPLE}"))
        assert not allowed(statements, Request.of("batch:TerminateJob", f"{foreign}:job/{SAMPLE}"))


def test_the_hub_bucket_and_key_policies_admit_what_each_trainer_does(synthesized):
    """Cross-account: the hub's resource policies must allow the trainer's requests as well as its role does."""
    config = synthesized.config
    hub = StackResolver(synthesized.hub, config.hub_account, config.hub_region)
    (bucket_policy,) = [hub.resolve(r["Properties"]["PolicyDocument"]) for r in hub.resources.values()
                        if r["Type"] == "AWS::S3::BucketPolicy"
                        and hub.resolve(r["Properties"]["Bucket"]) == Names(config, partition="aws").hub_bucket]
    key_policies = [hub.resolve(r["Properties"]["KeyPolicy"]) for r in hub.resources.values()
                    if r["Type"] == "AWS::KMS::Key"]
    for spoke in config.spokes:
        names, _, (step, hub_view), _, _ = _spoke_views(synthesized, spoke)
        job_role_arn = f"arn:aws:iam::{spoke.account}:role/{names.job_role(spoke)}"
        for_spoke = lambda document: [s for s in document["Statement"]  # noqa: E731
                                      if _principal_accounts(s) & {spoke.account, "*"}]
        statements = for_spoke(bucket_policy) + [s for policy in key_policies for s in for_spoke(policy)]
        requests = [Request(r.action, r.resource, r.context + (("aws:PrincipalArn", job_role_arn),))
                    for r in hub_requests(step, hub_view, "")]
        missing = [r for r in requests if not allowed(statements, r)]
        assert missing == [], f"the hub's bucket or key policy refuses {spoke.id}'s trainer: {missing}"
        other = Request.of("s3:PutObject", f"arn:aws:s3:::{names.hub_bucket}/updates/{SAMPLE}/{SAMPLE}/{spoke.id}x",
                           **{"aws:PrincipalArn": job_role_arn})
        assert not allowed(statements, other)


def _principal_accounts(statement: dict) -> set[str]:
    principal = statement.get("Principal", {})
    values = [principal] if principal == "*" else principal.get("AWS", []) if isinstance(principal, dict) else []
    values = values if isinstance(values, list) else [values]
    return {"*" if v == "*" else v.split(":")[4] for v in values}
