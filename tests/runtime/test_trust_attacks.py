"""Attacks on a hospital's privacy and on the model, performed against the round steps.

Each test performs the attack and asserts the stored state afterwards (trust-boundaries issue,
items 1, 2b, 3, 4, 5 and 6).
"""

import json

import numpy as np
import pytest

from fedcore.federation.release import ReleaseMeta, attach_meta, model_context, update_context
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime import layout
from fedcore.runtime.aggregate import aggregate
from fedcore.runtime.budget_gate import budget_gate
from fedcore.runtime.init_run import init_run
from fedcore.runtime.run_state import load_run, spoke_plans
from fedcore.runtime.setup_merge import setup_merge
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.runtime.spoke_release import (
    BadSpokeDataError, DpRequiredError, ForeignReleaseError, ReleaseSettings, make_release,
)
from fedcore.sealing import open_model, open_update, seal_update

TINY = {"rounds": 1, "epochs_per_round": 1, "batch_size": 128,
        "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}}
SPOKES = [{"spoke_id": s} for s in ("s0", "s1", "s2")]
POLICY = SpokePolicy(epsilon_cap=3.0)


def _release_settings(services, run, round_, spoke, mode):
    """A job's settings with the config hash the hub recorded (the state machine passes it to the job)."""
    return ReleaseSettings(run, round_, spoke, mode, services.runs.get_run(run)["config_sha256"])


def _ledgers():
    return {s["spoke_id"]: PrivacyLedger(InMemoryLedgerStore(), 1e-5) for s in SPOKES}


def _job(services, data, local, round_, sid, policy=POLICY, run="r1"):
    mode = "stats" if round_ == 0 else "train"
    return make_release(_release_settings(services, run, round_, sid, mode), services.blobs, data[sid], services.keys,
                       local[sid], policy)


def _through_setup(services, schema, data, local, config=TINY):
    init_run(services, "r1", config, schema, SPOKES, 3.0)
    budget_gate(services, "r1", 0, SPOKES)
    for spoke in SPOKES:
        _job(services, data, local, 0, spoke["spoke_id"])
    return setup_merge(services, "r1", [])


def test_hub_asking_for_no_dp_is_refused_unless_the_hospital_opted_out(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    init_run(services, "r1", TINY | {"privacy": {"enabled": False}}, schema, SPOKES, 3.0)
    with pytest.raises(DpRequiredError):
        _job(services, data, local, 0, "s0")
    assert not services.blobs.exists(layout.update_key("r1", 0, "s0"))  # nothing exact left the hospital
    _job(services, data, local, 0, "s1", SpokePolicy(epsilon_cap=3.0, allow_no_dp=True))  # its own opt-out
    assert services.blobs.exists(layout.update_key("r1", 0, "s1"))


def test_hub_raising_delta_is_refused(services, actg_parts):
    schema, data = actg_parts
    services.ledger = PrivacyLedger(InMemoryLedgerStore(), 0.2)  # the hub's own ledger agrees (else InitRun refuses)
    init_run(services, "r1", TINY | {"privacy": {"delta": 0.2}}, schema, SPOKES, 3.0)
    with pytest.raises(DpRequiredError, match="delta"):
        _job(services, data, _ledgers(), 0, "s0")
    assert not services.blobs.exists(layout.update_key("r1", 0, "s0"))


def test_the_hospitals_own_policy_sets_its_ledger_limit(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    init_run(services, "r1", TINY | {"privacy": {"target_epsilon": 8.0}}, schema, SPOKES, 8.0)
    _job(services, data, local, 0, "s0", SpokePolicy(epsilon_cap=1.5))
    assert local["s0"].limit("s0") == 1.5  # not the hub's target of 8


def test_a_prefix_hospital_prewriting_anothers_key_is_not_taken_for_its_release(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    init_run(services, "r1", TINY, schema, SPOKES, 3.0)
    services.blobs.put_new(layout.update_key("r1", 0, "s1"), b"written by another hospital")
    with pytest.raises(ForeignReleaseError):
        _job(services, data, local, 0, "s1")
    assert services.blobs.get(layout.update_key("r1", 0, "s1")) == b"written by another hospital"


def test_a_retried_job_after_its_own_release_is_recognised(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    init_run(services, "r1", TINY, schema, SPOKES, 3.0)
    first = _job(services, data, local, 0, "s0")
    again = _job(services, data, local, 0, "s0")
    assert first["status"] == "RELEASED" and again["status"] == "ALREADY_RELEASED"
    assert len(local["s0"].history("s0")) == 1


def _global_model(services, round_):
    return open_model(services.blobs.get(layout.model_key("r1", round_)), model_context("r1", round_), services.keys)


def _forged_update(services, spoke, weights, meta):
    blob = seal_update(attach_meta(weights, meta), update_context("r1", 1, spoke), services.keys)
    services.blobs.put_new(layout.update_key("r1", 1, spoke), blob)


def test_a_huge_row_claim_without_a_dp_record_cannot_take_over_the_model(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    _through_setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _job(services, data, local, 1, "s0")
    _job(services, data, local, 1, "s1")
    model0 = _global_model(services, 0)
    huge = {k: np.full_like(v, 1000.0) for k, v in model0.items()}
    _forged_update(services, "s2", huge, ReleaseMeta(num_examples=10**12))  # no DP record
    result = aggregate(services, "r1", 1, [])
    assert result["quorum_met"] and result["spokes"] == ["s0", "s1"]
    assert "no DP record" in result["metrics"]["rejected"]["s2"]
    model1 = _global_model(services, 1)
    assert max(float(np.abs(v).max()) for v in model1.values()) < 100  # the forged weights did not land
    plan = spoke_plans(load_run(services, "r1"))["s2"]
    charged = [c for c in services.ledger.history("s2") if c.round == 1]
    assert len(charged) == 1 and charged[0].records == plan.mechanisms(1)  # charged its planned spend anyway


def test_updates_are_weighted_by_the_planned_rows_not_the_claim(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    _through_setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    plans = spoke_plans(load_run(services, "r1"))
    model0 = _global_model(services, 0)
    for i, spoke in enumerate(("s0", "s1", "s2")):
        claim = 10**9 if spoke == "s2" else 1
        weights = {k: np.full_like(v, float(i)) for k, v in model0.items()}
        _forged_update(services, spoke, weights, ReleaseMeta(claim, plans[spoke].mechanisms(1)))
    aggregate(services, "r1", 1, [])
    model1 = _global_model(services, 1)
    rows = np.array([plans[s].rows for s in ("s0", "s1", "s2")], dtype=float)
    expected = float(rows @ np.arange(3.0) / rows.sum())
    assert next(iter(model1.values())).flat[0] == pytest.approx(expected, rel=1e-5)


def test_no_exact_loss_leaves_a_hospital_or_is_stored_at_the_hub_in_a_dp_run(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    _through_setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _job(services, data, local, 1, "s0")
    _job(services, data, local, 1, "s1")
    plans = spoke_plans(load_run(services, "r1"))
    model0 = _global_model(services, 0)
    # s2 runs modified code that leaks its exact mean loss inside its DP release
    _forged_update(services, "s2", model0, ReleaseMeta(plans["s2"].rows, plans["s2"].mechanisms(1), 0.123456))
    honest = open_update(services.blobs.get(layout.update_key("r1", 1, "s0")), update_context("r1", 1, "s0"),
                        services.keys)
    assert not any("loss" in name for name in honest)  # the honest trainer seals no loss under DP
    result = aggregate(services, "r1", 1, [])
    assert result["spokes"] == ["s0", "s1", "s2"] and result["loss"] is None
    [stored] = services.runs.list_rounds("r1")
    assert stored["loss"] is None and "0.123456" not in json.dumps(stored, default=str)


def test_a_spoke_the_gate_dropped_cannot_contribute(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    _through_setup(services, schema, data, local)
    services.ledger.set_limit("s2", services.ledger.spent("s2") + 0.001)
    gate = budget_gate(services, "r1", 1, SPOKES)
    assert [s["spoke_id"] for s in gate["eligible_spokes"]] == ["s0", "s1"]
    for sid in ("s0", "s1", "s2"):  # s2 trains anyway (its own cap is not the hub's limit)
        _job(services, data, local, 1, sid)
    result = aggregate(services, "r1", 1, [])
    assert result["spokes"] == ["s0", "s1"] and "did not admit" in result["metrics"]["rejected"]["s2"]


def test_a_deeply_nested_header_is_one_rejected_object_and_the_others_are_charged(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    _through_setup(services, schema, data, local)
    budget_gate(services, "r1", 1, SPOKES)
    _job(services, data, local, 1, "s0")
    _job(services, data, local, 1, "s1")
    nested = b"[" * 100_000 + b"]" * 100_000
    services.blobs.put_new(layout.update_key("r1", 1, "s2"), len(nested).to_bytes(4, "big") + nested)
    result = aggregate(services, "r1", 1, [])
    assert result["quorum_met"] and "s2" in result["metrics"]["rejected"]
    assert all(any(c.round == 1 for c in services.ledger.history(s)) for s in ("s0", "s1", "s2"))


def test_a_one_row_hospital_is_refused_before_it_releases(services, actg_parts):
    schema, data = actg_parts
    init_run(services, "r1", TINY, schema, SPOKES, 3.0)
    one_row = b"\n".join(data["s0"].splitlines()[:2]) + b"\n"
    with pytest.raises(BadSpokeDataError, match="at least 2"):
        make_release(_release_settings(services, "r1", 0, "s0", "stats"), services.blobs, one_row, services.keys,
                    PrivacyLedger(InMemoryLedgerStore(), 1e-5), POLICY)
    assert not services.blobs.exists(layout.update_key("r1", 0, "s0"))


def test_a_hospital_claiming_one_row_is_dropped_at_setup_and_the_run_goes_on(services, actg_parts):
    schema, data = actg_parts
    local = _ledgers()
    init_run(services, "r1", TINY, schema, SPOKES, 3.0)
    budget_gate(services, "r1", 0, SPOKES)
    for sid in ("s0", "s1"):
        _job(services, data, local, 0, sid)
    from fedcore.preprocessing.table_stats import compute_table_stats
    from fedcore.families import family_of
    from fedcore.runtime.run_state import load_run, run_config

    cfg = run_config(load_run(services, "r1"))
    mechanisms = family_of(cfg).setup_mechanisms(cfg)
    frame = __import__("pandas").read_csv(__import__("io").BytesIO(data["s2"])).head(1)
    stats = compute_table_stats(frame, schema, mechanisms[0].noise_multiplier, np.random.default_rng(0))
    blob = seal_update(attach_meta(stats.to_tensors(), ReleaseMeta(1, mechanisms)), update_context("r1", 0, "s2"),
                       services.keys)
    services.blobs.put_new(layout.update_key("r1", 0, "s2"), blob)
    merged = setup_merge(services, "r1", [])
    assert merged["quorum_met"] and merged["spokes"] == ["s0", "s1"]
    run = load_run(services, "r1")
    assert "at least 2 rows" in run["setup_rejected"]["s2"] and "s2" not in run["plans"]
