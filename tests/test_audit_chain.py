from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.audit import AuditLog, InMemoryAuditStore, verify_chain
from fedcore.audit.log import read_jsonl


def _log_with(n: int) -> AuditLog:
    log = AuditLog(InMemoryAuditStore(), clock=lambda: "2026-01-01T00:00:00.000+00:00")
    for i in range(n):
        log.append("hub", "round.aggregated", f"agg/run/{i}", {"round": i, "spokes": ["a", "b"]})
    return log


def test_intact_chain_verifies():
    entries = list(_log_with(5).entries())
    result = verify_chain(entries)
    assert result.ok and result.count == 5


def test_same_event_is_recorded_once():
    log = _log_with(2)
    first = log.append("hub", "round.aggregated", "agg/run/1", {"round": 1})
    assert first.seq == 2
    assert len(list(log.entries())) == 2


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 8), data=st.data())
def test_any_edit_is_detected_at_that_entry(n, data):
    entries = list(_log_with(n).entries())
    i = data.draw(st.integers(0, n - 1))
    field = data.draw(st.sampled_from(["actor", "action", "details", "timestamp"]))
    value = {"details": {"round": 99}}.get(field, "tampered")
    entries[i] = replace(entries[i], **{field: value})
    result = verify_chain(entries)
    assert not result.ok and result.first_bad_seq == i + 1


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 8), data=st.data())
def test_any_deletion_is_detected(n, data):
    entries = list(_log_with(n).entries())
    i = data.draw(st.integers(0, n - 1))
    del entries[i]
    result = verify_chain(entries)
    if i == n - 1:
        assert result.ok  # a truncated tail is only detectable against the stored head
    else:
        assert not result.ok and result.first_bad_seq == i + 1


def test_rehashed_edit_still_breaks_the_next_link():
    from fedcore.audit.chain import entry_hash

    entries = list(_log_with(4).entries())
    forged = replace(entries[1], actor="mallory")
    entries[1] = replace(forged, hash=entry_hash(forged))
    result = verify_chain(entries)
    assert not result.ok and result.first_bad_seq == 3


def test_export_and_read_back(tmp_path):
    log = _log_with(3)
    path = tmp_path / "audit.jsonl"
    assert log.export_jsonl(path) == 3
    assert verify_chain(read_jsonl(path)).ok


def test_verify_command_detects_a_truncated_tail_only_against_a_kept_head(tmp_path, capsys):
    from fedcore.cli.main import main

    log = _log_with(4)
    path = tmp_path / "audit.jsonl"
    log.export_jsonl(path)
    head = list(log.entries())[-1].hash
    assert main(["audit", "verify", str(path), "--head", head]) == 0
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    assert main(["audit", "verify", str(path)]) == 0  # the chain alone cannot tell
    assert main(["audit", "verify", str(path), "--head", head]) == 1
    assert "removed from the end" in capsys.readouterr().err
