"""Privacy budgets: what researchers see, and the audited admin actions that change them."""

from __future__ import annotations

import pytest

from apigw import ADMIN, RESEARCHER, Gateway
from conftest import RUN_ID
from fedcore.runtime.run_state import spoke_plans


def _by_spoke(reply):
    return {row["spoke"]: row for row in reply.json()["spokes"]}


def test_budget_shows_limit_spend_lifetime_and_estimated_rounds_per_hospital(hub):
    services, app, _ = hub
    rows = _by_spoke(Gateway(app)("GET", "/privacy-budget", RESEARCHER))
    assert set(rows) == {"s0", "s1", "s2"}
    plans = spoke_plans(services.runs.get_run(RUN_ID))
    for spoke, row in rows.items():
        assert row["limit"] == 3.0 and row["period"] == 0 and row["resets"] == 0
        assert row["spent"] == pytest.approx(services.ledger.spent(spoke)) and 0 < row["spent"] <= 3.0
        assert row["lifetime_spent"] == pytest.approx(row["spent"])
        expected = services.ledger.remaining_rounds(spoke, list(plans[spoke].mechanisms(1)), max_rounds=1000)
        assert row["estimated_remaining_rounds"] == expected and row["estimate_from_run"] == RUN_ID


def test_a_raised_limit_leaves_room_for_more_rounds_and_is_audited(hub):
    services, app, _ = hub
    gateway = Gateway(app)
    before = _by_spoke(gateway("GET", "/privacy-budget", RESEARCHER))["s1"]
    reply = gateway("POST", "/privacy-budget/set-limit", ADMIN,
                    body={"spoke": "s1", "epsilon_limit": 8.0, "reason": "consortium vote 12"})
    assert reply.status == 200, reply.text
    assert reply.json()["previous_limit"] == 3.0 and reply.json()["budget"]["limit"] == 8.0
    assert reply.json()["budget"]["estimated_remaining_rounds"] > before["estimated_remaining_rounds"]
    assert services.ledger.limit("s1") == 8.0
    [entry] = [e for e in services.audit.entries() if e.action == "budget.limit_set"]
    assert entry.actor == "user:alice" and entry.details["caller"]["email"] == ADMIN["email"]
    assert entry.details | {"caller": None} == {"spoke": "s1", "previous_limit": 3.0, "epsilon_limit": 8.0,
                                                "reason": "consortium vote 12", "caller": None}


def test_reset_opens_a_new_period_keeps_history_and_says_spent_privacy_stays_spent(hub):
    services, app, _ = hub
    lifetime = services.ledger.lifetime_spent("s2")
    charges = services.ledger.history("s2")
    reply = Gateway(app)("POST", "/privacy-budget/reset", ADMIN, body={"spoke": "s2", "reason": "new study year"})
    assert reply.status == 200, reply.text
    done = reply.json()
    assert (done["closed_period"], done["opened_period"]) == (0, 1)
    assert done["lifetime_epsilon"] == pytest.approx(lifetime) and done["epsilon_spent_in_closed_period"] > 0
    assert "does not restore privacy already spent" in done["notice"]
    assert done["budget"]["spent"] == 0.0 and done["budget"]["lifetime_spent"] == pytest.approx(lifetime)
    assert done["budget"]["period"] == 1 and done["budget"]["resets"] == 1
    assert services.ledger.history("s2") == charges  # nothing erased
    [entry] = [e for e in services.audit.entries() if e.action == "budget.reset"]
    assert entry.actor == "user:alice" and entry.details["reason"] == "new study year"
    assert entry.details["actor"] == "user:alice" and entry.details["lifetime_epsilon"] == pytest.approx(lifetime)


def test_budget_actions_refuse_unknown_hospitals_and_blank_reasons(hub):
    services, app, _ = hub
    gateway = Gateway(app)
    unknown_limit = gateway("POST", "/privacy-budget/set-limit", ADMIN, body={"spoke": "zz", "epsilon_limit": 1.0})
    unknown_reset = gateway("POST", "/privacy-budget/reset", ADMIN, body={"spoke": "zz", "reason": "x"})
    blank = gateway("POST", "/privacy-budget/reset", ADMIN, body={"spoke": "s0", "reason": "   "})
    negative = gateway("POST", "/privacy-budget/set-limit", ADMIN, body={"spoke": "s0", "epsilon_limit": -1})
    assert (unknown_limit.status, unknown_limit.code) == (404, "unknown_spoke")
    assert (unknown_reset.status, unknown_reset.code) == (404, "unknown_spoke")
    assert (blank.status, blank.code) == (422, "invalid_request")
    assert (negative.status, negative.code) == (422, "invalid_request")
    assert not [e for e in services.audit.entries() if e.action.startswith("budget.") and e.actor != "hub"]


def test_a_hospital_without_an_account_shows_no_limit_and_cannot_be_reset(empty_hub):
    _, app, _ = empty_hub
    gateway = Gateway(app)
    rows = _by_spoke(gateway("GET", "/privacy-budget", RESEARCHER))
    reset = gateway("POST", "/privacy-budget/reset", ADMIN, body={"spoke": "s0", "reason": "x"})
    assert rows["s0"] == {"spoke": "s0", "limit": None, "spent": 0.0, "lifetime_spent": 0.0, "period": 0,
                          "resets": 0, "estimated_remaining_rounds": None, "estimate_from_run": None}
    assert (reset.status, reset.code) == (409, "no_budget_account")
