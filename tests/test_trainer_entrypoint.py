"""The trainer entrypoint against moto: the hospital's policy decides, the job environment never does
(trust-boundaries issue, item A).

Each test runs ``containers.trainer.__main__.main`` in-process with a job environment as the hub could
set it through a SubmitJob override, against the hospital's account (data bucket, ledger, policy
parameter) and the hub's bucket and key, all emulated, and checks the exit status, the reason logged
last, and what was (not) released or charged.
"""

from __future__ import annotations

import json
import logging
import os

import boto3
import pytest
from moto import mock_aws

from containers.trainer import (EXIT_BAD_INPUT, EXIT_DP_REQUIRED, EXIT_FOREIGN_RELEASE, EXIT_LOCAL_CAP, EXIT_NO_POLICY,
                                EXIT_RELEASED)
from containers.trainer.__main__ import main
from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.aws.kms_keys import KmsKeyProvider
from fedcore.aws.s3_blobs import S3BlobStore
from fedcore.datasets import load_actg175
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime import layout
from fedcore.runtime.init_run import init_run
from fedcore.runtime.memory_stores import InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.runtime.spoke_policy import SpokePolicy, policy_parameter_name

REGION = "eu-west-1"
HUB_BUCKET, DATA_BUCKET, DATA_KEY, SPOKE = "hub-bucket", "hosp-a-data", "patients/table.csv", "hosp-a"
LEDGER_KEY = f"privacy-ledger/{SPOKE}.json"
TINY = {"rounds": 1, "quorum": 1, "epochs_per_round": 1, "batch_size": 128,
        "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}}
# What a curious or compromised hub would put in the job's environment to weaken the hospital's privacy.
HUB_OVERRIDES = {"SPOKE_EPSILON_LIMIT": "1000", "EPSILON_CAP": "1000", "DP_DELTA": "0.5", "ALLOW_NO_DP": "true",
                 "LOCAL_EPSILON_CAP": "1000"}


@pytest.fixture
def restored_environment():
    """``main`` replaces ``os.environ`` with its allow-listed part; give the test process its own back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def accounts(restored_environment, monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (HUB_BUCKET, DATA_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
        s3.put_object(Bucket=DATA_BUCKET, Key=DATA_KEY, Body=load_actg175().frame.head(300).to_csv(index=False))
        yield key_id


PUBLISHED_SHA256: dict[str, str] = {}


def _publish_run(key_id: str, run_id: str, **config) -> None:
    """What the hub's InitRun writes for the spokes: the run config and schema under models/<run>/."""
    delta = config.get("privacy", {}).get("delta", 1e-5)  # a hub whose ledger accounts at the run's delta
    services = HubServices(blobs=S3BlobStore(HUB_BUCKET), keys=KmsKeyProvider(key_id),
                           ledger=PrivacyLedger(InMemoryLedgerStore(), delta), audit=AuditLog(InMemoryAuditStore()),
                           runs=InMemoryRunStore())
    started = init_run(services, run_id, {**TINY, **config}, load_actg175().schema, [{"spoke_id": SPOKE}], 3.0)
    PUBLISHED_SHA256[run_id] = started["config_sha256"]  # what the state machine passes to the run's jobs


def _write_policy(policy: SpokePolicy) -> None:
    boto3.client("ssm", region_name=REGION).put_parameter(Name=policy_parameter_name(SPOKE), Type="String",
                                                          Value=policy.to_json(), Overwrite=True)


def _job_environment(key_id: str, run_id: str, **extra: str) -> None:
    os.environ.update({"RUN_ID": run_id, "ROUND": "0", "SPOKE_ID": SPOKE, "TRAINER_MODE": "stats",
                       "HUB_BUCKET": HUB_BUCKET, "HUB_KMS_KEY_ID": key_id, "DATA_BUCKET": DATA_BUCKET,
                       "DATA_KEY": DATA_KEY, "CONFIG_SHA256": PUBLISHED_SHA256.get(run_id, "0" * 64), **extra})


def _exists(bucket: str, key: str) -> bool:
    return "Contents" in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket, Prefix=key)


def _last_error(caplog) -> str:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][-1]


def test_overrides_cannot_raise_the_hospitals_cap(accounts, caplog):
    # Arrange: the hospital allows epsilon 0.01; the hub's overrides claim 1000 and a weaker delta.
    _publish_run(accounts, "r1")
    _write_policy(SpokePolicy(epsilon_cap=0.01))
    _job_environment(accounts, "r1", **HUB_OVERRIDES)

    # Act
    status = main([])

    # Assert
    assert status == EXIT_LOCAL_CAP
    assert "its own epsilon cap" in _last_error(caplog) and "0.010" in _last_error(caplog)
    assert not _exists(HUB_BUCKET, layout.update_key("r1", 0, SPOKE))
    assert not any(name in os.environ for name in HUB_OVERRIDES)


def test_a_run_without_dp_is_refused_unless_the_hospital_itself_opted_out(accounts, caplog):
    # Arrange: the hub publishes a run without DP and claims the hospital's opt-out in the environment.
    _publish_run(accounts, "nodp", privacy={"enabled": False})
    _write_policy(SpokePolicy(epsilon_cap=3.0, allow_no_dp=False))
    _job_environment(accounts, "nodp", **HUB_OVERRIDES)

    # Act
    refused = main([])
    _write_policy(SpokePolicy(epsilon_cap=3.0, allow_no_dp=True))  # the hospital opts out, in its own account
    released = main([])

    # Assert
    assert refused == EXIT_DP_REQUIRED
    assert released == EXIT_RELEASED and _exists(HUB_BUCKET, layout.update_key("nodp", 0, SPOKE))


def test_a_run_asking_for_a_larger_delta_than_the_hospital_accepts_is_refused(accounts, caplog):
    # Arrange
    _publish_run(accounts, "r2", privacy={"target_epsilon": 3.0, "delta": 1e-3})
    _write_policy(SpokePolicy(epsilon_cap=3.0, max_delta=1e-5))
    _job_environment(accounts, "r2", DP_DELTA="1e-3")

    # Act
    status = main([])

    # Assert
    assert status == EXIT_DP_REQUIRED and "weaker privacy" in _last_error(caplog)
    assert not _exists(HUB_BUCKET, layout.update_key("r2", 0, SPOKE))


def test_the_hospitals_ledger_accounts_at_its_own_delta_not_the_jobs(accounts):
    # Arrange
    _publish_run(accounts, "r3", privacy={"target_epsilon": 3.0, "delta": 1e-6})
    _write_policy(SpokePolicy(epsilon_cap=3.0, max_delta=1e-6))
    _job_environment(accounts, "r3", DP_DELTA="0.5")

    # Act
    status = main([])

    # Assert
    ledger = json.loads(boto3.client("s3", region_name=REGION).get_object(Bucket=DATA_BUCKET, Key=LEDGER_KEY)
                        ["Body"].read())
    assert status == EXIT_RELEASED
    assert ledger["delta"] == 1e-6 and ledger["limit"] == 3.0 and ledger["epsilon_spent"] > 0


def test_without_its_policy_the_hospital_releases_and_charges_nothing(accounts, caplog):
    # Arrange: no policy parameter in the hospital's account; the environment offers a cap.
    _publish_run(accounts, "r4")
    _job_environment(accounts, "r4", **HUB_OVERRIDES)

    # Act
    status = main([])

    # Assert
    assert status == EXIT_NO_POLICY and "no usable privacy policy" in _last_error(caplog)
    assert not _exists(HUB_BUCKET, layout.update_key("r4", 0, SPOKE)) and not _exists(DATA_BUCKET, LEDGER_KEY)


def test_a_malformed_policy_stops_the_job(accounts, caplog):
    # Arrange
    _publish_run(accounts, "r5")
    boto3.client("ssm", region_name=REGION).put_parameter(Name=policy_parameter_name(SPOKE), Type="String",
                                                          Value='{"epsilon_cap": 1000, "trust_hub": true}')
    _job_environment(accounts, "r5")

    # Act / Assert
    assert main([]) == EXIT_NO_POLICY


def test_an_object_the_hospital_never_released_at_its_key_is_refused(accounts, caplog):
    # Arrange: someone else wrote the hospital's create-only release key first.
    _publish_run(accounts, "r6")
    _write_policy(SpokePolicy(epsilon_cap=3.0))
    S3BlobStore(HUB_BUCKET).put_new(layout.update_key("r6", 0, SPOKE), b"not this hospital's")
    _job_environment(accounts, "r6")

    # Act / Assert
    assert main([]) == EXIT_FOREIGN_RELEASE


@pytest.mark.parametrize(("environment", "argv", "message"), [
    ({"TRAINER_MODE": "debug"}, [], "TRAINER_MODE must be"),
    ({"ROUND": "one"}, [], "ROUND must be an integer"),
    ({"DATA_KEY": ""}, [], "missing setting DATA_KEY"),
    ({}, ["sh", "-c", "id"], "takes no arguments"),
])
def test_bad_settings_or_a_command_stop_the_job_before_anything_is_read(accounts, caplog, environment, argv,
                                                                        message):
    # Arrange
    _job_environment(accounts, "r7", **environment)

    # Act
    status = main(argv)

    # Assert
    assert status == EXIT_BAD_INPUT and message in _last_error(caplog)
    assert not _exists(DATA_BUCKET, LEDGER_KEY)


def test_a_table_that_is_not_the_runs_schema_is_bad_input(accounts, caplog):
    # Arrange
    _publish_run(accounts, "r8")
    _write_policy(SpokePolicy(epsilon_cap=3.0))
    boto3.client("s3", region_name=REGION).put_object(Bucket=DATA_BUCKET, Key=DATA_KEY, Body=b"a,b\n1,2\n")
    _job_environment(accounts, "r8")

    # Act / Assert
    assert main([]) == EXIT_BAD_INPUT and "cannot take part" in _last_error(caplog)
