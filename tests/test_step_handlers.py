"""The hub's step handlers as Lambda invokes them, fast: moto AWS, the deployment's environment.

The whole round loop through these handlers runs in tests/sandbox (slow); here each handler's
wiring (environment, step-scoped adapters, deployment defaults, powertools) is checked in seconds.
"""

from __future__ import annotations

import hashlib
import json

import boto3
import pytest
from moto import mock_aws

REGION = "eu-west-1"
SPOKES = [{"spoke_id": "hosp-a"}, {"spoke_id": "hosp-b"}]


class Context:
    function_name = "fedsynth-test-step"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:fedsynth-test-step"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/fedsynth-test-step"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _table(client, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")


@pytest.fixture
def deployment(monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_METRICS_NAMESPACE": "test"}.items():
        monkeypatch.setenv(name, value)
    from functions.hub_environment import step_services

    for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE"):  # an earlier test's emulator, say
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        boto3.setup_default_session()
        step_services.cache_clear()  # a cold start: adapters built in another test's environment are not reused
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket="hub", CreateBucketConfiguration={"LocationConstraint": REGION})
        key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        dynamo = boto3.client("dynamodb", region_name=REGION)
        for table in ("runs", "ledger", "audit"):
            _table(dynamo, table)
        for name, value in {"HUB_BUCKET": "hub", "HUB_KMS_KEY_ID": key, "RUNS_TABLE": "runs",
                            "LEDGER_TABLE": "ledger", "AUDIT_TABLE": "audit",
                            "SPOKE_IDS": json.dumps([s["spoke_id"] for s in SPOKES]),
                            "DEFAULT_EPSILON": "5.0", "DELTA": "1e-05", "ROUNDS": "4", "QUORUM": "2"}.items():
            monkeypatch.setenv(name, value)
        yield
        step_services.cache_clear()
    boto3.setup_default_session()


def _services(step: str):
    from functions.hub_environment import step_services

    return step_services(step)


def test_init_run_applies_the_deployment_defaults_and_publishes_config_and_schema(deployment):
    from functions import init_run

    answer = init_run.handler({"spokes": SPOKES, "run_id": "r1",
                               "config": {"schema": "actg175", "model": {"family": "marginal"}}},
                              Context())
    assert answer["run_id"] == "r1" and [s["spoke_id"] for s in answer["spokes"]] == ["hosp-a", "hosp-b"]
    record = _services("api").runs.get_run("r1")
    assert record["config"]["privacy"]["delta"] == 1e-5 and record["config"]["quorum"] == 2
    s3 = boto3.client("s3", region_name=REGION)
    assert {o["Key"] for o in s3.list_objects_v2(Bucket="hub")["Contents"]} == {
        "models/r1/config.json", "models/r1/schema.json"}
    assert _services("budget_gate").ledger.limit("hosp-a") == 5.0  # the deployment's default limit


def test_init_run_answers_the_hash_of_the_config_it_recorded_and_published(deployment):
    # The state machine passes the answer's config_sha256 to every spoke job (CONFIG_SHA256)
    from functions import init_run

    answer = init_run.handler({"spokes": SPOKES, "run_id": "r3", "config": {"schema": "actg175", "run_id": "r3"}},
                              Context())
    record = _services("api").runs.get_run("r3")
    copy = boto3.client("s3", region_name=REGION).get_object(Bucket="hub", Key="models/r3/config.json")["Body"].read()
    assert answer["config_sha256"] == record["config_sha256"] == hashlib.sha256(copy).hexdigest()
    assert json.loads(copy) == record["config"] and "run_id" not in record["config"]
    with pytest.raises(ValueError, match="names run 'r3' but belongs to run 'r4'"):
        init_run.handler({"spokes": SPOKES, "run_id": "r4", "config": {"schema": "actg175", "run_id": "r3"}}, Context())


@pytest.mark.parametrize("spokes", [None, "hosp-a", [{"account": "222222222222"}], ["hosp-a"]])
def test_init_run_refuses_a_payload_without_the_deployments_descriptors(deployment, spokes):
    from functions import init_run

    with pytest.raises(ValueError, match="InitRun's spokes must be a list of objects with a spoke_id"):
        init_run.handler({"spokes": spokes, "run_id": "r5", "config": {"schema": "actg175"}}, Context())
    assert _services("api").runs.get_run("r5") is None


def test_init_run_refuses_a_bad_run_before_writing_anything(deployment):
    from functions import init_run

    with pytest.raises(ValueError, match="hidden_dim"):
        init_run.handler({"spokes": SPOKES, "run_id": "bad", "config": {"schema": "actg175",
                                                      "model": {"family": "diffusion", "hidden_dim": 10**9}}},
                         Context())
    assert "Contents" not in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="hub")
    dynamo = boto3.client("dynamodb", region_name=REGION)
    assert [dynamo.scan(TableName=t)["Count"] for t in ("runs", "ledger", "audit")] == [0, 0, 0]


def test_budget_gate_admits_the_spokes_and_finalize_records_a_failed_run(deployment):
    from functions import budget_gate, finalize, init_run

    init_run.handler({"spokes": SPOKES, "run_id": "r2", "config": {"schema": "actg175"}}, Context())
    gate = budget_gate.handler({"run_id": "r2", "round": 0, "spokes": SPOKES}, Context())
    assert [s["spoke_id"] for s in gate["eligible_spokes"]] == ["hosp-a", "hosp-b"] and gate["quorum_met"]
    done = finalize.handler({"run_id": "r2", "status": "FAILED", "detail": {"Error": "States.Timeout"}}, Context())
    assert done == {"run_id": "r2", "status": "FAILED", "rounds_completed": 0, "model_version": None}
    record = _services("api").runs.get_run("r2")
    assert record["status"] == "FAILED" and "States.Timeout" in record["error"]
    actions = [e.action for e in _services("api").audit.entries()]
    assert actions[0] == "run.started" and actions[-1] == "run.finished" and "budget.gate" in actions


def test_setup_merge_and_aggregate_of_an_unknown_run_fail_clearly(deployment):
    from functions import aggregate, setup_merge

    with pytest.raises(Exception, match="nope"):
        setup_merge.handler({"run_id": "nope", "reports": []}, Context())
    with pytest.raises(Exception, match="nope"):
        aggregate.handler({"run_id": "nope", "round": 1, "results": []}, Context())


# The deployment's descriptors as the round loop's definition passes them to InitRun (as_map_item).
QUEUED_SPOKES = [
    {"spoke_id": spoke, "account": account, "launch_role_arn": f"arn:aws:iam::{account}:role/{spoke}-launch",
     "epsilon_limit": 5.0,
     "queues": {c: {"job_queue_arn": f"arn:aws:batch:{REGION}:{account}:job-queue/{spoke}-{c}",
                    "job_definition": f"{spoke}-trainer-{c}"} for c in ("cpu", "gpu")}}
    for spoke, account in (("hosp-a", "222222222222"), ("hosp-b", "333333333333"))]


def _image_schema() -> dict:
    from fedcore.tasks.image.spec import ImageSpec, image_schema

    return image_schema(ImageSpec()).to_dict()


@pytest.mark.parametrize(("task", "compute_class"), [
    ({"name": "image"}, "gpu"),
    ({"name": "risk", "target": "cens"}, "cpu"),
    ({"name": "synthesis"}, "cpu"),
    ({"name": "synthesis", "compute": "gpu"}, "gpu"),  # a run may ask for the other class
])
def test_the_runs_task_picks_the_queue_and_job_definition_every_spoke_job_is_submitted_with(
        deployment, monkeypatch, task, compute_class):
    # Arrange
    from functions import budget_gate, init_run

    schema = _image_schema() if task["name"] == "image" else "actg175"

    # Act: the state machine passes InitRun's spokes ($.run.spokes) to the gate, the gate's to SubmitJob
    answer = init_run.handler({"run_id": "r1", "config": {"schema": schema, "task": task}, "spokes": QUEUED_SPOKES},
                              Context())
    gate = budget_gate.handler({"run_id": "r1", "round": 0, "spokes": answer["spokes"]}, Context())

    # Assert
    assert answer["compute_class"] == compute_class
    assert [(s["spoke_id"], s["compute_class"], s["job_queue_arn"], s["job_definition"])
            for s in gate["eligible_spokes"]] == [
        (d["spoke_id"], compute_class, d["queues"][compute_class]["job_queue_arn"],
         d["queues"][compute_class]["job_definition"]) for d in QUEUED_SPOKES]
    assert all("queues" not in s for s in answer["spokes"])


def test_a_single_queue_descriptor_is_a_gpu_queue_and_a_cpu_run_on_it_is_refused_before_anything_is_written(
        deployment, monkeypatch):
    # Arrange: a descriptor from before each hospital had two queues
    from functions import init_run

    old = [{"spoke_id": s, "job_queue_arn": f"arn:aws:batch:{REGION}:222222222222:job-queue/{s}-gpu",
            "job_definition": f"{s}-trainer"} for s in ("hosp-a", "hosp-b")]

    # Act
    gpu = init_run.handler({"run_id": "g1", "config": {"schema": "actg175", "task": {"compute": "gpu"}}, "spokes": old},
                           Context())
    with pytest.raises(ValueError, match="spoke 'hosp-a' has no cpu queue \\(it offers gpu\\)"):
        init_run.handler({"run_id": "c1", "config": {"schema": "actg175"}, "spokes": old}, Context())

    # Assert
    assert [(s["compute_class"], s["job_queue_arn"], s["job_definition"]) for s in gpu["spokes"]] == [
        ("gpu", d["job_queue_arn"], d["job_definition"]) for d in old]
    assert _services("api").runs.get_run("c1") is None
