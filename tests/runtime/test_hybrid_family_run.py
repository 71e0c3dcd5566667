"""The hybrid family: marginal rounds, hub pretraining (free), DP-SGD fine-tuning, one budget."""

import pytest

from fedcore.families import get_family
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger, compute_epsilon
from fedcore.run_config import RunConfig
from fedcore.runtime.driver import LocalHospital, drive_run
from fedcore.runtime.generate import find_model_version, generate_from_version
from fedcore.runtime.spoke_policy import SpokePolicy

TINY_HYBRID = {"rounds": 1, "epochs_per_round": 1,
               "model": {"family": "hybrid", "marginal": {"fit_iterations": 100},
                         "pretrain": {"rows": 500, "epochs": 2}}}


def _hospitals(data, cap=3.0):
    return [LocalHospital(s, table, SpokePolicy(epsilon_cap=cap), PrivacyLedger(InMemoryLedgerStore(), 1e-5))
            for s, table in data.items()]


@pytest.mark.parametrize("accountant,share", [
    ("rdp", 0.3), ("rdp", 0.5), ("rdp", 0.8), pytest.param("prv", 0.5, marks=pytest.mark.slow),
    pytest.param("prv", 0.3, marks=pytest.mark.slow), pytest.param("prv", 0.8, marks=pytest.mark.slow),
])  # PRV planning takes ~15 s a case here
def test_marginal_releases_and_dp_sgd_compose_to_the_target(accountant, share):
    config = RunConfig(rounds=4, privacy={"target_epsilon": 3.0, "accountant": accountant,
                                          "measurement_share": share}, model={"family": "hybrid"})
    family = get_family("hybrid")
    assert family.round_kinds(config) == ("select", "measure", "train", "train", "train", "train")
    for rows in (215, 700, 2000):
        plan = family.plan_spoke(config, rows)
        history = [m for round_ in plan.releases for m in round_]
        assert len(history) == 3 + 4 and history[:3] == list(family.marginal_mechanisms(config))
        marginal_only = compute_epsilon(history[:3], 1e-5, accountant)
        assert marginal_only == pytest.approx(3.0 * share, rel=0.01)  # the measurements spend their share
        total = compute_epsilon(history, 1e-5, accountant)
        assert total <= 3.0 + 1e-6 and total == pytest.approx(3.0, rel=0.01)  # and the whole run lands on target


def test_all_of_the_budget_on_measurements_means_no_training_rounds():
    config = RunConfig(privacy={"measurement_share": 1.0}, model={"family": "hybrid"})
    family = get_family("hybrid")
    assert family.round_kinds(config) == ("select", "measure")
    assert compute_epsilon([m for r in family.plan_spoke(config, 500).releases for m in r], 1e-5) <= 3.0 + 1e-6


def test_pretrain_settings_are_validated_and_only_for_hybrid():
    with pytest.raises(ValueError, match="pretrain"):
        RunConfig(model={"family": "marginal", "pretrain": {"rows": 1000}})
    with pytest.raises(ValueError):
        RunConfig(model={"family": "hybrid", "pretrain": {"rows": 5}})
    with pytest.raises(ValueError):
        RunConfig(model={"family": "hybrid", "pretrain": {"learning_rate": 1.0}})


@pytest.mark.slow
def test_a_hybrid_run_pretrains_at_the_hub_fine_tunes_and_lands_on_the_target(services, actg_parts):
    schema, data = actg_parts
    final = drive_run(services, "h1", TINY_HYBRID, schema, _hospitals(data), 3.0, seed=0)
    assert final["status"] == "COMPLETED" and final["model_version"] == "h1-r0003"
    assert [step["kind"] for step in final["steps"]] == ["setup", "select", "measure", "train"]
    assert all(step["loss"] is None for step in final["steps"][1:])  # DP: no hospital releases an exact loss
    record = find_model_version(services)
    assert record["family"] == "hybrid"
    for spoke in data:
        assert record["epsilon"][spoke] == pytest.approx(3.0, abs=0.03) and record["epsilon"][spoke] <= 3.0 + 1e-9
        assert [len(c.records) for c in services.ledger.history(spoke)] == [1, 1, 1, 1]
    rows = generate_from_version(services, record, 100, {}, seed=1, conditions={"arms": 1})
    assert len(rows) == 100 and set(rows["arms"]) == {1} and list(rows.columns) == schema.names
