"""One owner for each privacy setting: the hospital's ledger account (issue 9, item 9).

The account keeps the accountant and delta it was created with; charges use them; a run that
plans with other settings is refused at InitRun and at the budget gate, before anything is spent.
"""

from __future__ import annotations

import os

import pytest

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.datasets import load_actg175
from fedcore.deployment_defaults import DeploymentDefaults
from fedcore.federation.privacy_plan import plan_spoke, setup_record
from fedcore.privacy import InMemoryLedgerStore, LedgerSettingsError, PrivacyLedger, StepRecord, compute_epsilon
from fedcore.run_config import RunConfig
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.init_run import init_run
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.sealing import LocalKeyProvider

SPOKES = [{"spoke_id": s} for s in ("s0", "s1", "s2")]
DIFFUSION = {"family": "diffusion", "hidden_dim": 32}


def _services(ledger: PrivacyLedger) -> HubServices:
    return HubServices(InMemoryBlobStore(), LocalKeyProvider(os.urandom(32)), ledger, AuditLog(InMemoryAuditStore()),
                       InMemoryRunStore())


def _stored(services: HubServices) -> tuple:
    store = services.ledger._store
    return (services.runs.list_runs(), services.blobs.list_keys(""), list(services.audit.entries()),
            {s: store.get_account(s) for s in store.list_spokes()})


@pytest.mark.slow  # PRV composition of a whole run's charges (about 5 s)
def test_a_prv_account_is_charged_with_prv_by_a_ledger_built_with_the_rdp_default():
    # Arrange: a 700-row hospital planned to epsilon 3 under PRV (RDP states this history as ~3.25)
    config = RunConfig(rounds=3, privacy={"target_epsilon": 3.0, "accountant": "prv"}, model=DIFFUSION)
    plan = plan_spoke(config, 700)
    store = InMemoryLedgerStore()
    PrivacyLedger(store, 1e-5, "prv").set_limit("h700", 3.0)  # the account is created under PRV
    hub_ledger = PrivacyLedger(store, 1e-5)  # a Lambda that builds its ledger with the default accountant

    # Act
    hub_ledger.charge("h700", "run-1", 0, setup_record(config))
    results = [hub_ledger.charge("h700", "run-1", r, plan.round_record) for r in (1, 2, 3)]

    # Assert
    history = [setup_record(config), *[plan.round_record] * 3]
    assert hub_ledger.settings("h700") == ("prv", 1e-5)
    assert results[-1].epsilon_spent == compute_epsilon(history, 1e-5, "prv")
    assert not results[-1].over_limit
    assert compute_epsilon(history, 1e-5, "rdp") > 3.0  # what the account would have been charged before


def test_an_account_keeps_the_settings_it_was_created_with():
    store = InMemoryLedgerStore()
    PrivacyLedger(store, 1e-6).set_limit("a", 2.0)
    later = PrivacyLedger(store, 1e-5, "prv")

    later.set_limit("a", 4.0)  # a new limit keeps the account's settings
    with pytest.raises(LedgerSettingsError):
        later.set_limit("a", 4.0, accountant="prv")

    assert later.settings("a") == ("rdp", 1e-6) and later.limit("a") == 4.0
    later.charge("a", "r", 0, StepRecord(2.0, 1.0, 1))
    assert later.spent("a") == compute_epsilon([StepRecord(2.0, 1.0, 1)], 1e-6, "rdp")


def test_an_account_written_before_it_kept_settings_uses_the_ledgers():
    store = InMemoryLedgerStore()
    store.put_account({"schema": 1, "spoke": "old", "limit": 3.0, "period": 0, "charges": [], "resets": []}, None)

    assert PrivacyLedger(store, 1e-5).settings("old") == ("rdp", 1e-5)


@pytest.mark.parametrize("privacy, message", [
    ({"accountant": "prv"}, "accountant 'prv'"),
    ({"delta": 1e-6}, "delta 1e-06"),
])
def test_init_run_refuses_a_run_that_disagrees_with_the_accounts_and_stores_nothing(privacy, message):
    # Arrange: a deployment whose accounts account with RDP at 1e-5; s1 already has an account
    services = _services(PrivacyLedger(InMemoryLedgerStore(), 1e-5, "rdp"))
    services.ledger.set_limit("s1", 3.0)
    before = _stored(services)

    # Act
    with pytest.raises(LedgerSettingsError, match=message):
        init_run(services, "run-prv", {"privacy": privacy, "model": DIFFUSION}, load_actg175().schema, SPOKES, 3.0)

    # Assert
    assert _stored(services) == before


def test_the_budget_gate_refuses_when_an_account_disagrees_before_anything_is_spent():
    # Arrange: the run was accepted; then s2's account appeared with another delta (e.g. created by hand)
    store = InMemoryLedgerStore()
    services = _services(PrivacyLedger(store, 1e-5))
    init_run(services, "run-1", {"model": DIFFUSION, "rounds": 1}, load_actg175().schema, SPOKES[:2], 3.0)
    PrivacyLedger(store, 1e-6).set_limit("s2", 3.0)
    services.runs.update_run("run-1", {"spokes": ["s0", "s1", "s2"]})
    before = _stored(services)

    # Act
    with pytest.raises(LedgerSettingsError, match="s2"):
        budget_gate(services, "run-1", 0, SPOKES)

    # Assert
    assert _stored(services) == before


def test_a_run_config_cannot_set_the_ledger_limit():
    with pytest.raises(ValueError, match="epsilon_limit is not a run setting"):
        RunConfig(privacy={"epsilon_limit": 10.0})
    assert "epsilon_limit" not in RunConfig.model_validate({"privacy": {"epsilon_limit": None}}).privacy.model_dump()


def test_deployment_defaults_fill_only_what_a_run_leaves_out():
    defaults = DeploymentDefaults(delta=1e-6, accountant="prv", rounds=4, quorum=3)

    filled = defaults.apply({"rounds": 2, "privacy": {"target_epsilon": 2.0}})

    assert filled == {"rounds": 2, "quorum": 3, "privacy": {"target_epsilon": 2.0, "delta": 1e-6, "accountant": "prv"}}
    assert DeploymentDefaults.from_env({"DELTA": "1e-6", "ROUNDS": "4"}) == DeploymentDefaults(1e-6, "rdp", 4, None)
    with pytest.raises(KeyError):
        DeploymentDefaults.from_env({})  # DELTA is required: it fixes every new account's delta


def test_a_hospitals_own_ledger_follows_its_policys_delta_after_the_hospital_lowers_it():
    # Arrange: the trainer builds the hospital's ledger from its policy (settings_owner): max_delta 1e-5, then 1e-6
    store = InMemoryLedgerStore()
    before = PrivacyLedger(store, 1e-5, settings_owner=True)
    before.set_limit("h", 3.0)
    before.charge("h", "r1", 0, StepRecord(2.0, 1.0, 1))

    # Act
    after = PrivacyLedger(store, 1e-6, settings_owner=True)
    after.charge("h", "r1", 1, StepRecord(2.0, 1.0, 1))

    # Assert: the cap is checked at the stricter delta the hospital now holds
    assert after.spent("h") == compute_epsilon([StepRecord(2.0, 1.0, 2)], 1e-6, "rdp")
    assert store.get_account("h")["delta"] == 1e-6
