"""A run's one spec (id, schema, config); the runs table holds the config, models/<run>/config.json its checked copy."""

import hashlib
import json
import os

import pytest
from pydantic import ValidationError

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.datasets import load_actg175
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger, UnknownSpokeError
from fedcore.run_config import RunConfig
from fedcore.run_spec import ConfigCopyMismatchError, RunIdMismatchError, RunSpec, config_bytes, config_of
from fedcore.runtime import layout
from fedcore.runtime.init_run import init_run
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.runtime.run_state import load_run, published_config, run_config
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.runtime.spoke_release import ReleaseSettings, make_release
from fedcore.sealing import LocalKeyProvider

SCHEMA = load_actg175().schema
CONFIG = {"rounds": 2, "quorum": 2, "model": {"family": "marginal"}}
SPOKES = [{"spoke_id": s} for s in ("s0", "s1")]


@pytest.fixture
def services():
    return HubServices(InMemoryBlobStore(), LocalKeyProvider(os.urandom(32)), PrivacyLedger(InMemoryLedgerStore(), 1e-5),
                       AuditLog(InMemoryAuditStore()), InMemoryRunStore())


def test_a_spec_holds_the_id_the_schema_and_the_settings_apart():
    # Act
    spec = RunSpec(run_id="r1", schema=SCHEMA.to_dict(), config=CONFIG)

    # Assert
    assert spec.run_id == "r1" and spec.schema == SCHEMA and spec.config == RunConfig(**CONFIG)
    assert "run_id" not in RunConfig.model_fields and "run_id" not in spec.config.model_dump()
    assert RunSpec.model_validate(spec.model_dump(mode="json", by_alias=True)) == spec  # its JSON form round trips
    with pytest.raises(ValidationError, match="run_id"):
        RunSpec(run_id="no spaces", schema=SCHEMA, config=CONFIG)
    with pytest.raises(ValidationError, match="Extra inputs"):
        RunSpec(run_id="r1", schema=SCHEMA, config=CONFIG, rounds=3)


def test_a_config_still_carrying_its_run_id_is_accepted_only_for_its_own_run():
    # Arrange: configs stored and sent before RunSpec carry the run id among the settings
    stored = CONFIG | {"run_id": "r1"}

    # Act
    spec = RunSpec(run_id="r1", schema=SCHEMA, config=stored)

    # Assert
    assert spec.config == RunConfig(**CONFIG) and config_of("r1", stored) == spec.config
    with pytest.raises(ValidationError, match="names run 'r2' but belongs to run 'r1'"):
        RunSpec(run_id="r1", schema=SCHEMA, config=CONFIG | {"run_id": "r2"})
    with pytest.raises(RunIdMismatchError):
        config_of("r1", CONFIG | {"run_id": "r2"})
    with pytest.raises(ValidationError, match="run_id is not a run setting"):
        RunConfig.model_validate(stored)  # the settings alone never take an id


def test_init_run_records_the_config_as_the_source_and_publishes_its_hashed_copy(services):
    # Act
    answer = init_run(services, "r1", CONFIG | {"run_id": "r1"}, SCHEMA, SPOKES, 3.0)

    # Assert
    record = load_run(services, "r1")
    copy = services.blobs.get(layout.config_key("r1"))
    assert record["config"] == RunConfig(**CONFIG).model_dump(mode="json") and "run_id" not in record["config"]
    assert record["config_sha256"] == hashlib.sha256(copy).hexdigest() == answer["config_sha256"]
    assert copy == config_bytes(run_config(record)) and json.loads(copy) == record["config"]
    assert published_config(services, record) == run_config(record)


def test_a_tampered_copy_is_refused_by_the_hub_and_by_the_spoke(services):
    # Arrange: someone with write access to models/ turns the run's privacy off in the published copy
    init_run(services, "r1", CONFIG, SCHEMA, SPOKES, 3.0)
    table = load_actg175().frame.head(300).to_csv(index=False).encode()
    record = load_run(services, "r1")
    tampered = json.loads(services.blobs.get(layout.config_key("r1")))
    tampered["privacy"]["enabled"] = False
    services.blobs.put(layout.config_key("r1"), json.dumps(tampered, sort_keys=True).encode())
    settings = ReleaseSettings("r1", 0, "s0", "stats", record["config_sha256"])
    ledger = PrivacyLedger(InMemoryLedgerStore(), 1e-5)

    # Act / Assert
    with pytest.raises(ConfigCopyMismatchError, match="not the run's"):
        published_config(services, record)
    with pytest.raises(ConfigCopyMismatchError, match="refusing it"):
        make_release(settings, services.blobs, table, services.keys, ledger,
                     SpokePolicy(epsilon_cap=3.0, allow_no_dp=True))
    assert not services.blobs.list_keys("updates/")  # nothing released, and the local account never opened
    with pytest.raises(UnknownSpokeError):
        ledger.spent("s0")


def test_records_stored_before_the_spec_still_read_and_their_copy_is_checked_by_content(services):
    # Arrange: a record and copy as InitRun wrote them before: run_id in the config, no config_sha256
    earlier = RunConfig(**CONFIG).model_dump(mode="json") | {"run_id": "old"}
    services.runs.create_run("old", {"status": "RUNNING", "config": earlier, "spokes": ["s0", "s1"],
                                     "current_round": 0})
    services.blobs.put_new(layout.config_key("old"), json.dumps(earlier, sort_keys=True).encode())
    record = load_run(services, "old")

    # Act
    config = run_config(record)

    # Assert
    assert config == RunConfig(**CONFIG) and published_config(services, record) == config
    services.blobs.put(layout.config_key("old"), json.dumps(earlier | {"rounds": 9}).encode())
    with pytest.raises(ConfigCopyMismatchError):
        published_config(services, record)
