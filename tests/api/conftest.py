"""A hub that has trained and published a tiny model (once per session), cloned fresh for each test."""

from __future__ import annotations

import os
from dataclasses import dataclass

import boto3
from botocore.config import Config
import pytest
from moto import mock_aws

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.aws.s3_blobs import S3BlobStore
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime.aggregate import aggregate
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.finalize import finalize
from fedcore.runtime.init_run import init_run
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.runtime.setup_merge import setup_merge
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.runtime.spoke_release import ReleaseSettings, make_release
from fedcore.sealing import LocalKeyProvider
from functions.api_app import ApiSettings, create_app

REGION = "eu-west-1"
SPOKES = ("s0", "s1", "s2")
RUN_ID = "r1"
TINY_RUN = {"model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}, "rounds": 1, "epochs_per_round": 1}
STATE_MACHINE_NAME = "fedcore-dev-round-loop"


@dataclass
class HubSnapshot:
    """The raw stores of a trained hub; ``services()`` copies them so each test starts from the same state."""

    blobs: InMemoryBlobStore
    keys: LocalKeyProvider
    ledger_store: InMemoryLedgerStore
    audit_store: InMemoryAuditStore
    runs: InMemoryRunStore

    def services(self, blobs=None) -> HubServices:
        blobs = blobs if blobs is not None else InMemoryBlobStore()
        for key in self.blobs.list_keys(""):
            blobs.put(key, self.blobs.get(key))
        runs = InMemoryRunStore()
        for run in self.runs.list_runs():
            runs.create_run(run["run_id"], run)
            for metrics in self.runs.list_rounds(run["run_id"]):
                runs.put_round(run["run_id"], metrics["round"], metrics)
        for version in self.runs.list_model_versions():
            runs.put_model_version(version)
        ledger_store = InMemoryLedgerStore()
        for spoke in self.ledger_store.list_spokes():
            ledger_store.put_account(self.ledger_store.get_account(spoke), None)
        audit_store = InMemoryAuditStore()
        for entry in self.audit_store.iter_entries():
            audit_store.put_entry(entry)
        return HubServices(blobs, self.keys, PrivacyLedger(ledger_store, 1e-5), AuditLog(audit_store), runs)


def _release_settings(services, run, round_, spoke, mode):
    """A job's settings with the config hash the hub recorded (the state machine passes it to the job)."""
    return ReleaseSettings(run, round_, spoke, mode, services.runs.get_run(run)["config_sha256"])


def train_tiny_hub() -> HubSnapshot:
    """The round loop of /tmp/rt_smoke.py in memory: setup round, one training round, publish."""
    snapshot = HubSnapshot(InMemoryBlobStore(), LocalKeyProvider(os.urandom(32)), InMemoryLedgerStore(),
                           InMemoryAuditStore(), InMemoryRunStore())
    services = HubServices(snapshot.blobs, snapshot.keys, PrivacyLedger(snapshot.ledger_store, 1e-5),
                           AuditLog(snapshot.audit_store), snapshot.runs)
    dataset = load_actg175()
    parts = partition_dirichlet(dataset.frame, len(SPOKES), "arms", 0)
    data = {s: p.to_csv(index=False).encode() for s, p in zip(SPOKES, parts)}
    spokes = [{"spoke_id": s} for s in SPOKES]
    local = {s: PrivacyLedger(InMemoryLedgerStore(), 1e-5) for s in SPOKES}
    init_run(services, RUN_ID, TINY_RUN, dataset.schema, spokes, 3.0)
    for spoke in SPOKES:
        make_release(_release_settings(services, RUN_ID, 0, spoke, "stats"), services.blobs, data[spoke], snapshot.keys,
                    local[spoke], SpokePolicy(epsilon_cap=3.0))
    setup_merge(services, RUN_ID, [])
    gate = budget_gate(services, RUN_ID, 1, spokes)
    for spoke in gate["eligible_spokes"]:
        make_release(_release_settings(services, RUN_ID, 1, spoke["spoke_id"], "train"), services.blobs,
                    data[spoke["spoke_id"]], snapshot.keys, local[spoke["spoke_id"]], SpokePolicy(epsilon_cap=3.0))
    aggregate(services, RUN_ID, 1, [])
    finalize(services, RUN_ID, "COMPLETED")
    return snapshot


@pytest.fixture(scope="session")
def trained_hub() -> HubSnapshot:
    return train_tiny_hub()


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def sfn(aws):
    """moto Step Functions with the round loop's state machine (a stand-in definition; moto does not run it)."""
    client = boto3.client("stepfunctions", region_name=REGION)
    definition = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'
    arn = client.create_state_machine(name=STATE_MACHINE_NAME, definition=definition,
                                      roleArn="arn:aws:iam::123456789012:role/round-loop")["stateMachineArn"]
    return client, arn


@pytest.fixture
def bucket(aws) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="hub-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    return "hub-bucket"


def api_settings(state_machine_arn: str, **overrides) -> ApiSettings:
    return ApiSettings(state_machine_arn=state_machine_arn, spokes=SPOKES, **overrides)


@pytest.fixture
def hub(trained_hub, sfn, bucket):
    """A trained hub over S3 (moto), its app and the Step Functions client."""
    client, arn = sfn
    s3 = boto3.client("s3", region_name=REGION, config=Config(signature_version="s3v4"))  # as functions.api
    services = trained_hub.services(blobs=S3BlobStore(bucket, s3))
    app = create_app(services, api_settings(arn, inline_row_limit=100, max_rows=2000), sfn_client=client)
    return services, app, client


@pytest.fixture
def empty_hub(sfn):
    """A hub that has published nothing, with in-memory stores."""
    client, arn = sfn
    services = HubServices(InMemoryBlobStore(), LocalKeyProvider(os.urandom(32)),
                           PrivacyLedger(InMemoryLedgerStore(), 1e-5), AuditLog(InMemoryAuditStore()),
                           InMemoryRunStore())
    app = create_app(services, api_settings(arn, inline_row_limit=100, max_rows=100), sfn_client=client)
    return services, app, client
