"""The sandbox's parts that need no emulator server: template resolution, environments, ASL name
mapping, the hospitals' policy parameters (in-process moto), progress and timing from history
events, the audit CLI, and where moto internals may be used."""

from __future__ import annotations

import ast
import datetime
import json
import pathlib

import pytest

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.cli.main import main
from sandbox import moto_dispatch
from fedcore.runtime.spoke_policy import SpokePolicy, SpokePolicyError, policy_parameter_name
from sandbox.cfn import Resolver, UnresolvedError
from sandbox.progress import snapshot
from sandbox.cloudformation_templates import cdk_context
from sandbox.timings import round_timings

SANDBOX = pathlib.Path(__file__).resolve().parents[2] / "sandbox"


def test_the_resolver_substitutes_refs_attributes_joins_and_subs():
    # Arrange
    resolver = Resolver("111111111111", "eu-west-1")
    resolver.bind("Bucket", Ref="hub-bucket", Arn="arn:aws:s3:::hub-bucket")

    # Act
    value = resolver.resolve({"A": {"Ref": "Bucket"}, "B": [{"Fn::GetAtt": ["Bucket", "Arn"]}],
                              "C": {"Fn::Join": ["/", [{"Ref": "AWS::Region"}, "x"]]},
                              "D": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${Bucket}"}})

    # Assert
    assert value == {"A": "hub-bucket", "B": ["arn:aws:s3:::hub-bucket"], "C": "eu-west-1/x",
                     "D": "111111111111.dkr.ecr.eu-west-1.amazonaws.com/hub-bucket"}
    with pytest.raises(UnresolvedError):
        resolver.resolve({"Ref": "NotCreated"})


class _InProcessAccounts:
    """``Emulator.client`` over in-process moto: each account's administrator, or a role, by STS."""

    def client(self, service: str, *, account: str | None = None, role_arn: str | None = None):
        import boto3

        role_arn = role_arn or f"arn:aws:iam::{account}:role/admin"
        issued = boto3.client("sts", region_name="eu-west-1").assume_role(
            RoleArn=role_arn, RoleSessionName="test")["Credentials"]
        return boto3.client(service, region_name="eu-west-1", aws_access_key_id=issued["AccessKeyId"],
                            aws_secret_access_key=issued["SecretAccessKey"], aws_session_token=issued["SessionToken"])


@pytest.fixture
def accounts(monkeypatch):
    from moto import mock_aws

    for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield _InProcessAccounts()


def test_each_spokes_policy_parameter_is_created_from_its_template_in_its_own_account(accounts):
    # Arrange: the parameter as the spoke stack synthesizes it (tests/cdk checks the template's side).
    from fedcore.aws.ssm_policy import SsmSpokePolicySource
    from sandbox.provision import _create_parameters

    written = SpokePolicy(epsilon_cap=6.0, allow_no_dp=False, max_delta=1e-5)
    template = {"Resources": {"Policy": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": policy_parameter_name("hosp-b"), "Type": "String", "Value": written.to_json(),
        "Description": "hosp-b's own policy"}}}}
    resolver = Resolver("333333333333", "eu-west-1")

    # Act
    _create_parameters(accounts.client("ssm", account="333333333333"), template, resolver)

    # Assert: the job role reads it in the spoke's account; the hub's account has no such parameter.
    job_role = accounts.client("ssm", role_arn="arn:aws:iam::333333333333:role/fedsynth-dev-hosp-b-job")
    assert SsmSpokePolicySource(client=job_role).load("hosp-b") == written
    assert resolver.value("Policy") == policy_parameter_name("hosp-b")
    with pytest.raises(SpokePolicyError, match="does not exist"):
        SsmSpokePolicySource(client=accounts.client("ssm", account="111111111111")).load("hosp-b")


def test_the_demos_hospitals_cap_at_the_target_unless_given_their_own_and_opt_out_only_with_no_dp():
    # Arrange
    from sandbox.provision import spoke_policies

    # Act
    default = spoke_policies(["hosp-a", "hosp-b"], 3.0)
    chosen = spoke_policies(["hosp-a", "hosp-b"], 3.0, allow_no_dp=True, epsilon_caps={"hosp-b": 1.5})

    # Assert
    assert default == {"hosp-a": SpokePolicy(3.0), "hosp-b": SpokePolicy(3.0)}
    assert chosen == {"hosp-a": SpokePolicy(3.0, allow_no_dp=True), "hosp-b": SpokePolicy(1.5, allow_no_dp=True)}


def test_a_hospital_replaces_its_policy_in_its_own_account_only(accounts):
    # Arrange: two provisioned spokes with their stacks' policies.
    from fedcore.aws.ssm_policy import SsmSpokePolicySource
    from sandbox.provision import Deployment, SpokeDeployment, put_spoke_policies, spoke_policies

    spokes = {sid: SpokeDeployment(sid, account, f"{sid}-data", "t.csv", "queue", "definition",
                                   f"arn:aws:iam::{account}:role/{sid}-job",
                                   f"arn:aws:iam::{account}:role/{sid}-launch")
              for sid, account in (("hosp-a", "222222222222"), ("hosp-b", "333333333333"))}
    deployment = Deployment(hub=None, spokes=spokes)
    put_spoke_policies(accounts, deployment, {sid: SpokePolicy(8.0) for sid in spokes})

    # Act: the demo's --no-dp
    put_spoke_policies(accounts, deployment, spoke_policies(["hosp-a"], 3.0, allow_no_dp=True))

    # Assert
    def read(sid: str) -> SpokePolicy:
        return SsmSpokePolicySource(client=accounts.client("ssm", role_arn=spokes[sid].job_role_arn)).load(sid)

    assert read("hosp-a") == SpokePolicy(3.0, allow_no_dp=True)
    assert read("hosp-b") == SpokePolicy(8.0)
    with pytest.raises(ValueError, match="no such spokes"):
        put_spoke_policies(accounts, deployment, {"hosp-z": SpokePolicy(1.0)})


def test_the_dev_context_serves_three_hospitals_and_other_counts_get_a_derived_environment():
    # Act
    three, five, one = cdk_context(3), cdk_context(5), cdk_context(1)

    # Assert
    assert three == {"env": "dev"}
    spokes = five["environments"]["sandbox"]["spokes"]
    assert [s["id"] for s in spokes] == ["hosp-a", "hosp-b", "hosp-c", "hosp-d", "hosp-e"]
    assert [s["account"] for s in spokes][:3] == ["222222222222", "333333333333", "444444444444"]
    assert len({s["account"] for s in spokes}) == 5 and spokes[1]["epsilon_limit"] == 6.0
    assert one["environments"]["sandbox"]["training"]["quorum"] == 1
    with pytest.raises(ValueError):
        cdk_context(0)


def test_asl_batch_parameters_become_api_names_and_responses_pascal_case_in_place():
    # Arrange
    parameters = {"JobName": "train-r1-a", "JobQueue": "q", "JobDefinition": "d",
                  "ContainerOverrides": {"Environment": [{"Name": "ROUND", "Value": "1"}]}}
    job = {"jobId": "j", "status": "FAILED", "statusReason": "exit 2", "container": {"exitCode": 2}}
    response = {"jobs": [job]}

    # Act
    moto_dispatch._rename_members(parameters, moto_dispatch._operation("submitJob").input_shape, lambda m, _: m)
    moto_dispatch._rename_members(response, moto_dispatch._operation("describe_jobs").output_shape,
                                  lambda m, _: m[:1].upper() + m[1:])

    # Assert
    assert parameters == {"jobName": "train-r1-a", "jobQueue": "q", "jobDefinition": "d",
                          "containerOverrides": {"environment": [{"name": "ROUND", "value": "1"}]}}
    assert job == {"JobId": "j", "Status": "FAILED", "StatusReason": "exit 2", "Container": {"ExitCode": 2}}


def test_only_the_dispatch_module_imports_moto_internals():
    # Arrange
    allowed = {"moto_dispatch.py": None, "emulator.py": {"moto.server"}}

    # Act
    found = {}
    for path in SANDBOX.glob("*.py"):
        modules = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "moto":
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules.update(a.name for a in node.names if a.name.split(".")[0] == "moto")
        found[path.name] = modules

    # Assert
    for name, modules in found.items():
        if name in allowed and allowed[name] is None:
            continue
        assert modules <= (allowed.get(name) or set()), f"{name} imports {modules}"


def test_a_second_dispatcher_cannot_be_installed_while_one_is_active():
    # Arrange
    moto_dispatch.install(object())
    try:
        # Act / Assert
        with pytest.raises(RuntimeError, match="already running"):
            moto_dispatch.install(object())
    finally:
        moto_dispatch.uninstall()


def _event(event_id: int, kind: str, seconds: float, **details) -> dict:
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return {"id": event_id, "previousEventId": event_id - 1, "type": kind, "timestamp": at, **details}


def _history() -> list[dict]:
    entered = lambda i, name, t: _event(i, "TaskStateEntered", t, stateEnteredEventDetails={"name": name})  # noqa: E731
    exited = lambda i, name, t: _event(i, "TaskStateExited", t, stateExitedEventDetails={"name": name})  # noqa: E731
    scheduled = {"taskScheduledEventDetails": {"resourceType": "batch", "parameters": json.dumps(
        {"JobName": "train-r1-hosp-a"})}}
    return [entered(1, "BudgetGate", 0.0), exited(2, "BudgetGate", 1.0),
            _event(3, "MapStateEntered", 1.2, stateEnteredEventDetails={"name": "TrainRound"}),
            _event(4, "TaskScheduled", 1.5, **scheduled), _event(5, "TaskStarted", 1.6),
            _event(6, "TaskSucceeded", 9.0),
            _event(7, "MapStateExited", 9.2, stateExitedEventDetails={"name": "TrainRound"}),
            entered(8, "Aggregate", 9.5), exited(9, "Aggregate", 10.0)]


def test_progress_follows_jobs_and_rounds_from_the_history():
    # Act
    progress = snapshot(_history()[:5], {"config": {"rounds": 3}, "status": "RUNNING"}, [])
    done = snapshot(_history(), {"config": {"rounds": 3}}, [{"round": 1, "loss": 0.5, "epsilon": {"hosp-a": 1.0}}])

    # Assert
    assert (progress.round, progress.jobs, progress.rounds) == (1, {"hosp-a": "RUNNING"}, 3)
    assert (done.state, done.jobs, done.loss, done.epsilon, done.rounds_done) == (
        "Aggregate", {"hosp-a": "SUCCEEDED"}, 0.5, {"hosp-a": 1.0}, 1)


def test_round_timings_split_the_window_into_training_aggregation_and_overhead(tmp_path):
    # Arrange
    from sandbox.batch_runtime import JobRun

    log = tmp_path / "train.log"
    log.write_text("x INFO fedcore.training.local_training: local training: 10 rows, 2 steps, mean loss 0.5, 4.0 s, "
                   "dp=True\n")
    jobs = [JobRun("r", "hosp-a", "train-r1-hosp-a", 0.0, 7.0, 0, log),
            JobRun("other-run", "hosp-a", "train-r1-hosp-a", 0.0, 99.0, 0, log)]

    # Act
    (timing,) = round_timings(_history(), jobs, "r", [{"round": 1, "aggregate_seconds": 0.5}])

    # Assert
    assert (timing["seconds"], timing["training_seconds"], timing["aggregation_seconds"]) == (10.0, 4.0, 0.5)
    assert timing["overhead_seconds"] == 5.5 and timing["overhead_fraction"] == 0.55
    assert timing["overhead_parts"] == {"trainer_process": 3.0, "job_submit_and_poll": 1.0, "lambda_steps": 1.0,
                                        "transitions": 0.5}
    assert timing["job_process_seconds"] == {"hosp-a": 7.0}


def test_audit_verify_reports_ok_or_the_first_bad_entry(tmp_path, capsys):
    # Arrange
    log = AuditLog(InMemoryAuditStore())
    for i in range(4):
        log.append("hub", "round.aggregated", f"e{i}", {"round": i})
    good = tmp_path / "good.jsonl"
    log.export_jsonl(good)
    lines = good.read_text().splitlines(keepends=True)
    reordered = tmp_path / "reordered.jsonl"
    reordered.write_text("".join([lines[0], lines[2], lines[1], lines[3]]))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "{not json\n")

    # Act
    codes = [main(["audit", "verify", str(p)]) for p in (good, reordered, broken)]
    captured = capsys.readouterr()

    # Assert
    assert codes == [0, 1, 1]
    assert captured.out.strip() == "ok 4 entries"
    assert "FAILED at entry 2" in captured.err and "line 2 is not an audit entry" in captured.err
