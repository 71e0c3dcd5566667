"""The serverless round steps, driven in memory exactly as the state machine drives them."""

import numpy as np
import pytest

from fedcore.audit import verify_chain
from fedcore.model.config import SamplingConfig
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime import layout
from fedcore.runtime.aggregate import aggregate
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.finalize import finalize
from fedcore.runtime.generate import NoPublishedModelError, find_model_version, generate_from_version
from fedcore.runtime.init_run import RunConflictError, init_run
from fedcore.runtime.setup_merge import setup_merge
from fedcore.privacy import StepRecord
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.privacy import UnknownSpokeError
from fedcore.runtime.spoke_release import BadSpokeDataError, ReleaseSettings, make_release

TINY = {"rounds": 2, "epochs_per_round": 1, "batch_size": 128,
        "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}}
POLICY = SpokePolicy(epsilon_cap=3.0)

SPOKES = [{"spoke_id": s} for s in ("s0", "s1", "s2")]


def _release_settings(services, run, round_, spoke, mode):
    """A job's settings with the config hash the hub recorded (the state machine passes it to the job)."""
    return ReleaseSettings(run, round_, spoke, mode, services.runs.get_run(run)["config_sha256"])


def _locals():
    return {s["spoke_id"]: PrivacyLedger(InMemoryLedgerStore(), 1e-5) for s in SPOKES}


def _setup(services, schema, data, local, config=TINY, run="r1"):
    init_run(services, run, config, schema, SPOKES, 3.0)
    gate = budget_gate(services, run, 0, SPOKES)
    for spoke in gate["eligible_spokes"]:
        sid = spoke["spoke_id"]
        make_release(_release_settings(services, run, 0, sid, "stats"), services.blobs, data[sid], services.keys,
                     local[sid], POLICY)
    return setup_merge(services, run, [])


def _train(services, data, local, round_, run="r1", spokes=None):
    for sid in spokes or data:
        make_release(_release_settings(services, run, round_, sid, "train"), services.blobs, data[sid], services.keys,
                    local[sid], POLICY)


@pytest.mark.slow  # a whole diffusion run through every step (about 8 s)
def test_full_run_publishes_a_model_and_an_intact_audit_chain(services, actg_parts):
    schema, data = actg_parts
    local = _locals()
    merged = _setup(services, schema, data, local)
    assert merged["quorum_met"] and merged["spokes"] == ["s0", "s1", "s2"]
    for round_ in (1, 2):
        gate = budget_gate(services, "r1", round_, SPOKES)
        assert gate["quorum_met"]
        _train(services, data, local, round_)
        result = aggregate(services, "r1", round_, [])
        assert result["quorum_met"] and result["more_rounds"] == (round_ < 2)
    final = finalize(services, "r1", "COMPLETED")
    assert final["model_version"] == "r1-r0002"
    record = find_model_version(services)
    rows = generate_from_version(services, record, 50, SamplingConfig(steps=5), seed=0, conditions={"arms": 1})
    assert len(rows) == 50 and set(rows["arms"]) == {1}
    for spoke in data:  # hub and hospital ledgers agree, and nobody passed the target
        assert services.ledger.spent(spoke) == pytest.approx(local[spoke].spent(spoke))
        assert services.ledger.spent(spoke) <= 3.0 + 1e-9
    entries = list(services.audit.entries())
    assert verify_chain(entries).ok
    assert [e.action for e in entries].count("round.aggregated") == 2


def test_aggregating_a_round_twice_writes_once(services, actg_parts):
    schema, data = actg_parts
    local = _locals()
    _setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _train(services, data, local, 1)
    first = aggregate(services, "r1", 1, [])
    model = services.blobs.get(layout.model_key("r1", 1))
    charges = {s: len(services.ledger.history(s)) for s in data}
    audit_count = len(list(services.audit.entries()))
    second = aggregate(services, "r1", 1, [])
    assert second == first
    assert services.blobs.get(layout.model_key("r1", 1)) == model
    assert {s: len(services.ledger.history(s)) for s in data} == charges
    assert len(list(services.audit.entries())) == audit_count


def test_a_swapped_update_is_rejected_and_still_charged_as_planned(services, actg_parts):
    schema, data = actg_parts
    local = _locals()
    _setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _train(services, data, local, 1, spokes=["s0", "s1"])
    services.blobs.put_new(layout.update_key("r1", 1, "s2"), services.blobs.get(layout.update_key("r1", 1, "s0")))
    result = aggregate(services, "r1", 1, [])
    assert result["quorum_met"] and result["spokes"] == ["s0", "s1"]
    rejected = [e for e in services.audit.entries() if e.action == "update.rejected"]
    assert [e.details["spoke"] for e in rejected] == ["s2"]
    assert "ContextMismatch" in rejected[0].details["reason"]
    assert len(services.ledger.history("s2")) == 2  # setup + the released (if bogus) round-1 object


def test_quorum_lost_and_failed_jobs_are_recorded(services, actg_parts):
    schema, data = actg_parts
    local = _locals()
    _setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _train(services, data, local, 1, spokes=["s0"])
    reports = [{"spoke_id": "s1", "status": "FAILED", "error": {"Error": "States.TaskFailed"}},
               {"spoke_id": "s2", "status": "FAILED", "error": {"Error": "States.TaskFailed"}}]
    result = aggregate(services, "r1", 1, reports)
    assert not result["quorum_met"]
    assert not services.blobs.exists(layout.model_key("r1", 1))
    finalize(services, "r1", "QUORUM_LOST", "round 1")
    run = services.runs.get_run("r1")
    assert run["status"] == "FAILED" and "quorum" in run["error"]
    actions = [e.action for e in services.audit.entries()]
    assert actions.count("spoke.failed") == 2 and "round.quorum_not_met" in actions
    with pytest.raises(NoPublishedModelError):
        find_model_version(services)


def test_budget_gate_drops_a_spoke_before_training(services, actg_parts):
    schema, data = actg_parts
    local = _locals()
    _setup(services, schema, data, local)
    services.ledger.set_limit("s1", services.ledger.spent("s1") + 0.01)
    gate = budget_gate(services, "r1", 1, SPOKES)
    assert [s["spoke_id"] for s in gate["eligible_spokes"]] == ["s0", "s2"] and gate["quorum_met"]
    services.ledger.set_limit("s2", services.ledger.spent("s2") + 0.01)
    assert not budget_gate(services, "r1", 1, SPOKES)["quorum_met"]


def test_init_run_is_idempotent_but_refuses_a_different_config(services, actg_parts):
    schema, _ = actg_parts
    first = init_run(services, "r1", TINY, schema, SPOKES, 3.0)
    assert init_run(services, "r1", TINY, schema, SPOKES, 3.0) == first
    with pytest.raises(RunConflictError):
        init_run(services, "r1", TINY | {"rounds": 3}, schema, SPOKES, 3.0)


def test_trainer_refuses_bad_data_and_its_local_cap(services, actg_parts):
    schema, data = actg_parts
    local = _locals()
    init_run(services, "r1", TINY, schema, SPOKES, 3.0)
    with pytest.raises(BadSpokeDataError, match="schema"):
        make_release(_release_settings(services, "r1", 0, "s0", "stats"), services.blobs, b"a,b\n1,2\n", services.keys,
                    local["s0"], POLICY)
    repeated = data["s0"].replace(b"age", b"wtkg", 1)  # a header naming one column twice
    with pytest.raises(BadSpokeDataError, match="repeats column name"):
        make_release(_release_settings(services, "r1", 0, "s0", "stats"), services.blobs, repeated, services.keys,
                    local["s0"], POLICY)
    assert not services.blobs.list_keys("updates/")  # nothing sent
    with pytest.raises(UnknownSpokeError):  # and nothing charged: the local account was never opened
        local["s0"].spent("s0")
    from fedcore.federation.spoke import LocalCapExceededError

    with pytest.raises(LocalCapExceededError):
        make_release(_release_settings(services, "r1", 0, "s0", "stats"), services.blobs, data["s0"], services.keys,
                    local["s0"], SpokePolicy(epsilon_cap=0.01))
    assert not services.blobs.exists(layout.update_key("r1", 0, "s0"))


def test_a_hub_publishing_too_little_noise_is_stopped_by_the_spokes_own_cap(services, actg_parts):
    import json

    from fedcore.federation.spoke import LocalCapExceededError

    schema, data = actg_parts
    local = _locals()
    _setup(services, schema, data, local)
    plans = json.loads(services.blobs.get(layout.plans_key("r1")))
    weak = StepRecord(0.3, plans["s0"]["training"]["sample_rate"], plans["s0"]["training"]["steps_per_round"])
    plans["s0"]["training"]["noise_multiplier"] = 0.3  # a consistent plan with far too little noise
    plans["s0"]["releases"][1:] = [[weak.to_dict()]] * (len(plans["s0"]["releases"]) - 1)
    plans["s1"]["rows"] += 1  # inconsistent with s1's data: s1 plans locally instead
    services.blobs.put(layout.plans_key("r1"), json.dumps(plans).encode())
    budget_gate(services, "r1", 1, SPOKES)
    with pytest.raises(LocalCapExceededError):
        _train(services, data, local, 1, spokes=["s0"])
    assert not services.blobs.exists(layout.update_key("r1", 1, "s0"))
    _train(services, data, local, 1, spokes=["s1"])
    assert local["s1"].spent("s1") <= 3.0


def _release(services, spoke, payload, meta, run="r1", round_=1):
    """A release sealed under ``spoke``'s context, as its job would write it."""
    from fedcore.federation.spoke import seal_release

    services.blobs.put_new(layout.update_key(run, round_, spoke),
                           seal_release(spoke, run, round_, payload, meta, services.keys).blob)


def _model(services, round_, run="r1"):
    from fedcore.federation.release import model_context
    from fedcore.sealing import open_model

    return open_model(services.blobs.get(layout.model_key(run, round_)), model_context(run, round_), services.keys)


def test_an_update_with_a_non_finite_tensor_is_rejected_charged_and_the_round_goes_on(services, actg_parts):
    # Arrange: s0 and s1 train; s2 releases model 0 with one NaN, sealed and recorded as its plan says
    from fedcore.federation.release import ReleaseMeta
    from fedcore.runtime.run_state import load_run, spoke_plans

    schema, data = actg_parts
    local = _locals()
    _setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _train(services, data, local, 1, spokes=["s0", "s1"])
    plan = spoke_plans(load_run(services, "r1"))["s2"]
    poisoned = {name: tensor.copy() for name, tensor in _model(services, 0).items()}
    name = sorted(poisoned)[0]
    poisoned[name].flat[0] = np.nan
    _release(services, "s2", poisoned, ReleaseMeta(plan.rows, plan.mechanisms(1)))

    # Act
    result = aggregate(services, "r1", 1, [])

    # Assert
    assert result["quorum_met"] and result["spokes"] == ["s0", "s1"]
    assert result["metrics"]["rejected"] == {"s2": f"InvalidUpdateError: update tensor {name!r} contains NaN or "
                                                   "infinite values"}
    [rejected] = [e for e in services.audit.entries() if e.action == "update.rejected"]
    assert rejected.details["spoke"] == "s2"
    assert len(services.ledger.history("s2")) == 2  # setup + the released (if invalid) round-1 object
    assert all(np.isfinite(tensor).all() for tensor in _model(services, 1).values())


def test_the_round_loss_is_the_rows_weighted_mean_of_the_accepted_releases(services, actg_parts):
    # Arrange: a run without DP (the hospitals opted out), so releases carry their loss; s2's is not finite
    from fedcore.federation.release import ReleaseMeta
    from fedcore.runtime.run_state import load_run, spoke_plans

    schema, data = actg_parts
    local = _locals()
    opted_out = SpokePolicy(epsilon_cap=3.0, allow_no_dp=True)
    init_run(services, "r1", TINY | {"privacy": {"enabled": False}}, schema, SPOKES, 3.0)
    budget_gate(services, "r1", 0, SPOKES)
    for sid in data:
        make_release(_release_settings(services, "r1", 0, sid, "stats"), services.blobs, data[sid], services.keys,
                     local[sid], opted_out)
    setup_merge(services, "r1", [])
    budget_gate(services, "r1", 1, SPOKES)
    plans = spoke_plans(load_run(services, "r1"))
    model0 = _model(services, 0)
    losses = {"s0": 0.5, "s1": 2.0}
    for sid, loss in losses.items():
        _release(services, sid, model0, ReleaseMeta(plans[sid].rows, (), loss))
    broken = {name: np.full_like(tensor, np.inf) for name, tensor in model0.items()}
    _release(services, "s2", broken, ReleaseMeta(plans["s2"].rows, (), 9.0))

    # Act
    result = aggregate(services, "r1", 1, [])

    # Assert: s2 is left out of the model and of the mean
    rows = {sid: plans[sid].rows for sid in losses}
    expected = sum(losses[s] * rows[s] for s in losses) / sum(rows.values())
    assert result["spokes"] == ["s0", "s1"] and "s2" in result["metrics"]["rejected"]
    assert result["loss"] == pytest.approx(expected, rel=1e-12)
    assert result["metrics"]["total_examples"] == sum(rows.values())
