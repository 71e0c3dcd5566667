"""What the hub does with releases (fedcore.federation.hub), in memory: budgets, charges, opening,
checking, the round's record and the setup merge (issue 10 item 8)."""

from __future__ import annotations

import numpy as np
import pytest

from fedcore.datasets import load_actg175
from fedcore.families.base import SpokePlan
from fedcore.federation import hub
from fedcore.federation.release import ReleaseMeta, model_context
from fedcore.federation.spoke import release_setup_stats, seal_release
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger, StepRecord
from fedcore.sealing import LocalKeyProvider, open_model
from fedcore.sealing.errors import SealError

RUN = "run-1"
DELTA = 1e-5
ROUND = StepRecord(5.0, 0.1, 10)  # one round of DP-SGD: sigma 5, q 0.1, 10 steps
LARGER = StepRecord(2.0, 0.1, 10)  # less noise for the same steps: a larger spend
WEIGHTS = {"w": np.zeros((2, 3), np.float32), "b": np.zeros(3, np.float32)}


@pytest.fixture(scope="module")
def keys():
    return LocalKeyProvider.generate()


def ledger_with(limits: dict[str, float]) -> PrivacyLedger:
    ledger = PrivacyLedger(InMemoryLedgerStore(), DELTA)
    for spoke, limit in limits.items():
        ledger.set_limit(spoke, limit)
    return ledger


def plan(rows: int) -> SpokePlan:
    return SpokePlan(rows, ((), (ROUND,)))


def release(keys, spoke: str, payload=None, mechanisms=(ROUND,), round_: int = 1, loss: float | None = None):
    return seal_release(spoke, RUN, round_, WEIGHTS if payload is None else payload,
                        ReleaseMeta(100, mechanisms, loss), keys)


def stream(keys, releases, plans, admitted, private=True, validate=lambda payload, plan: None):
    """open_round over ``releases``; (accepted, tally, charged spokes)."""
    tally, charged = hub.ReleaseTally(1), []
    accepted = list(hub.open_round(RUN, 1, releases, keys, plans, admitted, private, validate,
                                   lambda spoke, meta: charged.append(spoke), tally))
    return accepted, tally, charged


def test_the_budget_check_drops_a_hospital_whose_release_would_cross_its_limit():
    # Arrange
    ledger = ledger_with({"a": 10.0, "b": 0.01})
    planned = {"a": (ROUND,), "b": (ROUND,)}

    # Act
    one, two = hub.spokes_within_budget(ledger, planned, 1), hub.spokes_within_budget(ledger, planned, 2)

    # Assert
    assert one.eligible == ("a",) and one.quorum_met
    assert one.decisions["a"].allowed and not one.decisions["b"].allowed
    assert one.decisions["b"].epsilon_after > one.decisions["b"].limit == 0.01
    assert not two.quorum_met


@pytest.mark.parametrize(("claimed", "expected"), [
    (None, (ROUND,)),  # nothing authenticated: the plan
    ((), (ROUND,)),  # a claim of no spend in a DP run: still the plan
    ((StepRecord(50.0, 0.1, 10),), (ROUND,)),  # a smaller claimed spend: the plan
    ((LARGER,), (LARGER,)),  # a larger one: the claim
])
def test_a_release_is_charged_at_least_its_planned_spend(claimed, expected):
    assert hub.spend_to_charge((ROUND,), claimed, DELTA, "rdp") == expected


def test_the_charger_charges_each_release_once_under_its_run_and_round():
    # Arrange
    ledger = ledger_with({"a": 10.0, "b": 10.0})
    charge = hub.release_charger(ledger, RUN, 1, {"a": (ROUND,), "b": ()}, DELTA, "rdp")

    # Act
    charge("a", None)
    charge("b", None)  # no DP planned and nothing claimed: nothing to charge

    # Assert
    [charged] = ledger.history("a")
    assert (charged.run, charged.round, charged.records) == (RUN, 1, (ROUND,))
    assert ledger.history("b") == ()


def test_a_release_opens_only_under_its_own_context(keys):
    # Arrange
    sealed = release(keys, "a")

    # Act
    payload, meta = hub.open_release(RUN, 1, sealed, keys)

    # Assert
    assert set(payload) == set(WEIGHTS) and meta.mechanisms == (ROUND,) and meta.num_examples == 100
    with pytest.raises(SealError):
        hub.open_release(RUN, 2, sealed, keys)  # replayed into another round


def test_a_dp_run_requires_the_planned_dp_record():
    hub.check_dp_record(ReleaseMeta(10, (ROUND,)), (ROUND,), private_run=True)
    hub.check_dp_record(ReleaseMeta(10, ()), (), private_run=False)
    with pytest.raises(ValueError, match="no DP record"):
        hub.check_dp_record(ReleaseMeta(10, ()), (ROUND,), private_run=True)
    with pytest.raises(ValueError, match="its plan is"):
        hub.check_dp_record(ReleaseMeta(10, (LARGER,)), (ROUND,), private_run=True)


def test_a_round_streams_the_valid_releases_and_records_and_charges_every_one(keys):
    # Arrange: a valid release, one from a hospital the gate did not admit, one without its DP
    # record, one the family finds invalid, and one sealed for another round
    def validate(payload, plan):
        if "w" not in payload:
            raise ValueError("no 'w'")

    releases = [release(keys, "ok"), release(keys, "late"), release(keys, "nodp", mechanisms=()),
                release(keys, "odd", payload={"b": WEIGHTS["b"]}), release(keys, "replay", round_=2)]
    plans = {spoke: plan(rows) for spoke, rows in
             {"ok": 40, "late": 50, "nodp": 60, "odd": 70, "replay": 80}.items()}

    # Act
    accepted, tally, charged = stream(keys, releases, plans, {"ok", "nodp", "odd", "replay"}, validate=validate)

    # Assert
    [only] = accepted
    assert (only.spoke, only.rows, only.mechanisms, only.mean_loss) == ("ok", 40, (ROUND,), None)
    assert tally.accepted == ["ok"]
    assert sorted(tally.rejected) == ["late", "nodp", "odd", "replay"]
    assert "did not admit" in tally.rejected["late"] and "no DP record" in tally.rejected["nodp"]
    assert tally.rejected["odd"] == "ValueError: no 'w'"
    assert tally.rejected["replay"].startswith("ContextMismatchError")
    assert charged == ["ok", "late", "nodp", "odd", "replay"]  # every released object is charged
    assert tally.bytes_in == sum(len(r.blob) for r in releases)


def test_a_loss_reaches_the_hub_only_in_a_run_without_dp(keys):
    # Arrange
    releases = [release(keys, "a", mechanisms=(), loss=0.25)]

    # Act
    [public] = stream(keys, releases, {"a": SpokePlan(10, ((), ()))}, {"a"}, private=False)[0]
    [private] = stream(keys, [release(keys, "a", loss=0.25)], {"a": plan(10)}, {"a"}, private=True)[0]

    # Assert
    assert public.mean_loss == 0.25 and private.mean_loss is None


def test_a_release_found_invalid_while_aggregating_is_taken_back_and_quorum_counts_what_is_left():
    # Arrange
    tally = hub.ReleaseTally(3, accepted=["a", "b"])

    # Act
    tally.reject("b", ValueError("not finite"))

    # Assert
    assert tally.accepted == ["a"] and tally.rejected == {"b": "ValueError: not finite"}
    hub.require_quorum(3, tally, 1)
    with pytest.raises(hub.QuorumNotMetError, match="round 3: 1 valid releases"):
        hub.require_quorum(3, tally, 2)


def test_setup_statistics_are_merged_and_a_hospital_with_too_few_rows_is_dropped(keys):
    # Arrange: three hospitals' round-0 statistics without DP; one has a single row
    dataset = load_actg175()
    rng = np.random.default_rng(0)
    frames = {"a": dataset.frame.iloc[:300], "b": dataset.frame.iloc[300:500], "tiny": dataset.frame.iloc[500:501]}
    releases = [release_setup_stats(spoke, RUN, frame, dataset.schema, (), 8, keys, rng)
                for spoke, frame in frames.items()]
    charged = []

    # Act
    merged, rejected, metas = hub.merge_setup_stats(RUN, releases, dataset.schema, keys, 2, (),
                                                    lambda spoke, meta: charged.append(spoke))

    # Assert
    assert sorted(metas) == ["a", "b"] and metas["a"].num_examples == 300
    assert "at least 2 rows" in rejected["tiny"]
    column = dataset.schema.columns[0].name
    assert merged.counts[column].sum() == pytest.approx(500)
    assert charged == ["a", "b", "tiny"]
    with pytest.raises(hub.QuorumNotMetError):
        hub.merge_setup_stats(RUN, releases, dataset.schema, keys, 3, (), lambda spoke, meta: None)


def test_the_global_model_is_sealed_for_its_round(keys):
    # Act
    sealed = hub.seal_global_model(RUN, 2, WEIGHTS, keys)

    # Assert
    opened = open_model(sealed, model_context(RUN, 2), keys)
    assert set(opened) == set(WEIGHTS) and all(np.array_equal(opened[k], WEIGHTS[k]) for k in WEIGHTS)
    with pytest.raises(SealError):
        open_model(sealed, model_context(RUN, 1), keys)
