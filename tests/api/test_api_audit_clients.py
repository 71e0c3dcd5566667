"""GET /audit-log (pages, filters, chain verification) and GET /clients."""

from __future__ import annotations

from dataclasses import replace

from apigw import ADMIN, RESEARCHER, Gateway
from conftest import RUN_ID

ROUND_LOOP_ACTIONS = ["run.started", "setup.merged", "budget.gate", "round.aggregated", "run.finished"]


def test_audit_log_pages_through_the_chain_in_order(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    first = gateway("GET", "/audit-log", RESEARCHER, query={"limit": 3}).json()
    second = gateway("GET", "/audit-log", RESEARCHER, query={"limit": 3, "after_seq": first["next_after_seq"]}).json()
    assert [e["seq"] for e in first["entries"]] == [1, 2, 3] and first["next_after_seq"] == 3
    assert [e["seq"] for e in second["entries"]] == [4, 5] and second["next_after_seq"] is None
    assert [e["action"] for e in first["entries"] + second["entries"]] == ROUND_LOOP_ACTIONS
    assert first["verification"] is None


def test_audit_log_filters_by_action_and_time(hub):
    services, app, _ = hub
    gateway = Gateway(app)
    entries = list(services.audit.entries())
    by_action = gateway("GET", "/audit-log", RESEARCHER, query={"action": "budget.gate"}).json()["entries"]
    after_all = gateway("GET", "/audit-log", RESEARCHER, query={"since": "2999-01-01T00:00:00Z"}).json()["entries"]
    until_third = gateway("GET", "/audit-log", RESEARCHER, query={"until": entries[2].timestamp}).json()["entries"]
    inverted = gateway("GET", "/audit-log", RESEARCHER, query={"since": "2030-01-01T00:00:00Z",
                                                                "until": "2020-01-01T00:00:00Z"})
    assert [e["action"] for e in by_action] == ["budget.gate"]
    assert after_all == []
    assert [e["seq"] for e in until_third][:3] == [1, 2, 3] and all(e["seq"] <= 5 for e in until_third)
    assert (inverted.status, inverted.code) == (400, "invalid_time_range")


def test_verification_covers_the_returned_range_and_its_first_link(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    whole = gateway("GET", "/audit-log", RESEARCHER, query={"verify": True}).json()["verification"]
    middle = gateway("GET", "/audit-log", RESEARCHER, query={"after_seq": 2, "limit": 2, "verify": True}).json()
    assert whole == {"ok": True, "from_seq": 1, "to_seq": 5, "checked": 5, "first_bad_seq": None, "reason": ""}
    assert [e["seq"] for e in middle["entries"]] == [3, 4]
    assert middle["verification"] | {"reason": ""} == {"ok": True, "from_seq": 2, "to_seq": 4, "checked": 3,
                                                       "first_bad_seq": None, "reason": ""}


def test_verification_reports_an_edited_entry(hub):
    services, app, _ = hub
    store = services.audit._store  # the in-memory chain: edit entry 4 behind the log's back
    store._entries[4] = replace(store._entries[4], details={"run_id": RUN_ID, "round": 1, "loss": 0.0})
    reply = Gateway(app)("GET", "/audit-log", RESEARCHER, query={"after_seq": 3, "verify": True}).json()
    assert reply["verification"]["ok"] is False and reply["verification"]["first_bad_seq"] == 4
    assert "edited" in reply["verification"]["reason"]


def test_admin_actions_appear_in_the_audit_log_with_the_caller(hub):
    _, app, _ = hub
    gateway = Gateway(app)
    gateway("POST", "/privacy-budget/set-limit", ADMIN, body={"spoke": "s0", "epsilon_limit": 4.0})
    [entry] = gateway("GET", "/audit-log", RESEARCHER, query={"action": "budget.limit_set"}).json()["entries"]
    assert entry["actor"] == "user:alice" and entry["details"]["caller"]["groups"] == ["admin"]
    assert entry["seq"] == 6 and entry["event_id"].startswith("api/")


def test_clients_show_status_last_round_and_participation(hub):
    services, app, _ = hub
    services.runs.create_run("r2", {"status": "RUNNING", "spokes": ["s0", "s1", "s2"], "current_round": 2,
                                    "config": {"rounds": 4}, "created_at": "2999-01-01T00:00:00+00:00"})
    services.runs.put_round("r2", 1, {"spokes": ["s0", "s1", "s2"]})
    services.runs.put_round("r2", 2, {"spokes": ["s0", "s1"], "failed": ["s2"]})
    clients = {c["spoke"]: c for c in Gateway(app)("GET", "/clients", RESEARCHER).json()["clients"]}
    assert clients["s0"] == {"spoke": "s0", "status": "active", "last_round_seen": {"run_id": "r2", "round": 2},
                             "rounds_expected": 3, "rounds_participated": 3, "participation_rate": 1.0}
    assert clients["s2"]["status"] == "dropped" and clients["s2"]["last_round_seen"] == {"run_id": "r2", "round": 1}
    assert clients["s2"]["participation_rate"] == 2 / 3


def test_clients_before_any_run_are_never_seen(empty_hub):
    _, app, _ = empty_hub
    clients = Gateway(app)("GET", "/clients", RESEARCHER).json()["clients"]
    assert [(c["spoke"], c["status"], c["participation_rate"]) for c in clients] == [
        ("s0", "never_seen", None), ("s1", "never_seen", None), ("s2", "never_seen", None)]
