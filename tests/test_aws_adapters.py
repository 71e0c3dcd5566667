"""The AWS adapters against moto: create-only writes, KMS context binding, conditional updates."""

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from fedcore.audit import AuditLog, verify_chain
from fedcore.aws.dynamo_audit import DynamoAuditStore
from fedcore.aws.dynamo_ledger import DynamoLedgerStore
from fedcore.aws.dynamo_runs import DynamoRunStore
from fedcore.aws.kms_keys import KmsKeyProvider
from fedcore.aws.s3_blobs import S3BlobStore
from fedcore.aws.s3_ledger import S3LedgerStore
from fedcore.privacy import ConcurrentUpdateError, PrivacyLedger, StepRecord
from fedcore.runtime.ports import BlobExistsError, BlobNotFoundError
from fedcore.sealing import ContextMismatchError, KeyUnwrapError, SealContext, open_update, seal_update

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def _table(name: str):
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _bucket(name: str = "hub"):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def test_s3_blobs_are_create_only(aws):
    store = S3BlobStore(_bucket())
    store.put_new("updates/r/0001/a", b"one")
    with pytest.raises(BlobExistsError):
        store.put_new("updates/r/0001/a", b"two")
    assert store.get("updates/r/0001/a") == b"one"
    assert store.list_keys("updates/r/") == ["updates/r/0001/a"]
    with pytest.raises(BlobNotFoundError):
        store.get("missing")
    assert "updates/r/0001/a" in store.presigned_get("updates/r/0001/a", 60)


def test_s3_blobs_exists_answers_for_exactly_the_key(aws):
    # Arrange: "a/b" is a prefix of keys that exist but is not a key itself; "c" exists beside "c/d", "c0"
    store = S3BlobStore(_bucket())
    for key in ("a/bc", "a/b/c", "c", "c/d", "c0"):
        store.put_new(key, b"x")

    # Act / Assert
    assert store.exists("c") and store.exists("a/bc") and store.exists("a/b/c")
    assert not store.exists("a/b")
    assert not store.exists("a/")
    assert not store.exists("missing")


def test_s3_blobs_exists_only_lists_the_key_as_its_prefix():
    """On S3 a HeadObject of a missing key answers 403 to a role whose ListBucket is limited by s3:prefix;
    exists must need nothing but ListBucket with s3:prefix = the key."""
    client = boto3.client("s3", region_name=REGION, aws_access_key_id="k", aws_secret_access_key="s")
    store = S3BlobStore("hub", client=client)
    with Stubber(client) as stub:
        stub.add_response("list_objects_v2", {"Contents": [{"Key": "models/r/plans.jsonx"}]},
                          {"Bucket": "hub", "Prefix": "models/r/plans.json", "MaxKeys": 1})

        assert store.exists("models/r/plans.json") is False
        stub.assert_no_pending_responses()  # any other call (head_object, get_object) fails the stub


def test_kms_data_keys_are_bound_to_their_context(aws):
    key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
    provider = KmsKeyProvider(key_id)
    context = SealContext(run="r", round=1, spoke="a", kind="update")
    blob = seal_update({"w": np.ones(3, np.float32)}, context, provider)
    np.testing.assert_array_equal(open_update(blob, context, provider)["w"], np.ones(3))
    with pytest.raises(ContextMismatchError):
        open_update(blob, SealContext(run="r", round=2, spoke="a", kind="update"), provider)
    data_key = provider.generate_data_key(context.as_kms_context())
    with pytest.raises(KeyUnwrapError):
        provider.decrypt_data_key(data_key.wrapped, {"run": "r", "round": "1", "spoke": "b", "kind": "update"})


def test_dynamo_ledger_charges_once_and_detects_concurrent_writers(aws):
    store = DynamoLedgerStore(_table("ledger"))
    ledger = PrivacyLedger(store, 1e-5)
    ledger.set_limit("a", 3.0)
    record = StepRecord(1.2, 0.2, 10)
    ledger.charge("a", "r", 1, record)
    ledger.charge("a", "r", 1, record)
    assert len(ledger.history("a")) == 1 and ledger.spent("a") > 0
    account = store.get_account("a")
    with pytest.raises(ConcurrentUpdateError):
        store.put_account(account, expected_version=account["version"] - 1)
    assert store.list_spokes() == ["a"]


def test_dynamo_audit_chain_appends_once_per_event(aws):
    log = AuditLog(DynamoAuditStore(_table("audit")))
    for i in range(12):
        log.append("hub", "round.aggregated", f"agg/r/{i}", {"round": i})
    log.append("hub", "round.aggregated", "agg/r/3", {"round": 3})
    entries = list(log.entries())
    assert [e.seq for e in entries] == list(range(1, 13))
    assert verify_chain(entries).ok
    assert [e.seq for e in log.entries(start_seq=11)] == [11, 12]


def test_dynamo_runs_store_rounds_create_only(aws):
    runs = DynamoRunStore(_table("runs"))
    assert runs.create_run("r", {"status": "RUNNING"})
    assert not runs.create_run("r", {"status": "OTHER"})
    runs.update_run("r", {"status": "COMPLETED"})
    assert runs.get_run("r")["status"] == "COMPLETED"
    assert runs.put_round("r", 1, {"loss": 0.5})
    assert not runs.put_round("r", 1, {"loss": 9.9})
    assert runs.list_rounds("r")[0]["loss"] == 0.5
    assert runs.put_model_version({"version": "r-r0001", "created_at": "t"})
    assert [m["version"] for m in runs.list_model_versions()] == ["r-r0001"]
    assert [r["run_id"] for r in runs.list_runs()] == ["r"]


def test_spoke_local_ledger_in_s3(aws):
    ledger = PrivacyLedger(S3LedgerStore(_bucket("spoke-data")), 1e-5)
    ledger.set_limit("a", 2.0)
    ledger.charge("a", "r", 0, StepRecord(5.0, 1.0, 1))
    again = PrivacyLedger(S3LedgerStore("spoke-data"), 1e-5)
    assert again.spent("a") == pytest.approx(ledger.spent("a"))
    assert not again.check("a", [StepRecord(0.5, 1.0, 50)]).allowed
