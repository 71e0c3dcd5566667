"""A published version as a directory (simulate's DIR/model) and `fedcore generate` over it."""

import json
import os

import pandas as pd
import pytest

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.cli.generate_cmd import parse_conditions
from fedcore.cli.main import main
from fedcore.datasets import load_actg175
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime.driver import LocalHospital, drive_run
from fedcore.runtime.generate import find_model_version, generate_from_version
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.model_directory import (
    CARD, WEIGHTS, ModelDirectoryError, generate_from_directory, load_model_directory, write_model_directory,
)
from fedcore.runtime.ports import HubServices
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.sealing import LocalKeyProvider

MARGINAL = {"rounds": 1, "model": {"family": "marginal", "marginal": {"fit_iterations": 200}}}


@pytest.fixture(scope="module")
def published(actg_parts):
    """One marginal run at epsilon 3, published: (services, version record)."""
    schema, data = actg_parts
    services = HubServices(blobs=InMemoryBlobStore(), keys=LocalKeyProvider(os.urandom(32)),
                           ledger=PrivacyLedger(InMemoryLedgerStore(), 1e-5), audit=AuditLog(InMemoryAuditStore()),
                           runs=InMemoryRunStore())
    hospitals = [LocalHospital(s, table, SpokePolicy(epsilon_cap=3.0), PrivacyLedger(InMemoryLedgerStore(), 1e-5))
                 for s, table in data.items()]
    final = drive_run(services, "md1", MARGINAL, schema, hospitals, 3.0, seed=0)
    assert final["status"] == "COMPLETED"
    return services, find_model_version(services)


@pytest.mark.slow  # one marginal run (about 15 s), shared by the module
def test_the_directory_generates_the_same_rows_as_the_hub(published, tmp_path):
    services, record = published
    write_model_directory(tmp_path / "model", services, record)
    model = load_model_directory(tmp_path / "model")
    from_directory = generate_from_directory(model, 300, seed=4, conditions={"arms": 1})
    from_hub = generate_from_version(services, record, 300, {}, seed=4, conditions={"arms": 1})
    pd.testing.assert_frame_equal(from_directory, from_hub)
    assert set(from_directory["arms"]) == {1}
    card = json.loads((tmp_path / "model" / CARD).read_text())
    assert card["version"]["family"] == "marginal" and card["version"]["version"] == record["version"]
    assert card["privacy"]["epsilon_per_hospital"] == record["epsilon"] and card["privacy"]["dp"] is True
    assert "model_key" not in card["version"]  # hub storage details stay at the hub


@pytest.mark.slow
def test_a_changed_or_missing_file_is_refused(published, tmp_path):
    services, record = published
    out = write_model_directory(tmp_path / "model", services, record)
    weights = (out / WEIGHTS).read_bytes()
    (out / WEIGHTS).write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))
    with pytest.raises(ModelDirectoryError, match="SHA-256"):
        load_model_directory(out)
    (out / WEIGHTS).unlink()
    with pytest.raises(ModelDirectoryError, match="missing"):
        load_model_directory(out)
    with pytest.raises(ModelDirectoryError, match="model_card.json"):
        load_model_directory(tmp_path)


@pytest.mark.slow
def test_generate_command_writes_conditioned_rows(published, tmp_path, capsys):
    services, record = published
    model = write_model_directory(tmp_path / "model", services, record)
    out = tmp_path / "rows.csv"
    code = main(["generate", "--model", str(model), "--rows", "250", "--seed", "2", "--condition", "arms=3",
                 "--condition", "gender=0", "--out", str(out)])
    assert code == 0
    rows = pd.read_csv(out)
    assert len(rows) == 250 and set(rows["arms"]) == {3} and set(rows["gender"]) == {0}
    assert list(rows.columns) == load_actg175().schema.names
    assert main(["generate", "--model", str(model), "--rows", "10", "--condition", "arms=9",
                 "--out", str(out)]) == 2
    assert "not a category of 'arms'" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("arms", "COL=VALUE"), ("=1", "COL=VALUE"), ("nope=1", "not a column"), ("age=30", "numeric"),
    ("arms=7", "not a category"),
])
def test_conditions_are_checked_against_the_schema(text, message):
    with pytest.raises(ValueError, match=message):
        parse_conditions([text], load_actg175().schema)


def test_conditions_take_the_schemas_own_values():
    schema = load_actg175().schema
    assert parse_conditions(["arms=2", "race=1"], schema) == {"arms": 2, "race": 1}
    with pytest.raises(ValueError, match="twice"):
        parse_conditions(["arms=2", "arms=1"], schema)


def test_rows_out_of_range_is_a_clear_error(tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path), "--rows", "0", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--rows must be between" in capsys.readouterr().err
