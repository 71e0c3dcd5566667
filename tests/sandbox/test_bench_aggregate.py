"""``python -m fedcore bench aggregate``: the Aggregate handler's peak beside the model and the round's updates."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from fedcore.cli.bench_cmd import aggregate_table
from fedcore.cli.main import main

ROW = {"spokes": 2, "container": "warm", "parameters": 10, "model_mib": 0.5, "update_mib": 0.5, "updates_mib": 1.0,
       "quorum_met": True, "aggregated": 2, "seconds": 1.5, "traced_peak_mib": 2.0, "peak_rss_before_call_mib": 100.0,
       "peak_rss_after_call_mib": 120.0, "peak_to_model": 4.0, "peak_to_updates": 2.0}


def test_help_explains_the_columns(capsys):
    # Act
    with pytest.raises(SystemExit) as done:
        main(["bench", "aggregate", "--help"])

    # Assert
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "peak / updates" in out and "--spokes" in out and "--quick" in out


def test_the_table_shows_each_row_with_its_ratios():
    # Arrange
    console = Console(record=True, width=200)

    # Act
    console.print(aggregate_table([ROW, ROW | {"container": "cold", "peak_to_updates": 0.125}]))

    # Assert
    text = console.export_text()
    assert "peak / updates" in text and "warm" in text and "cold" in text and "0.125" in text


@pytest.mark.slow  # a sandbox of two hospitals and two handler processes: about 35 s
def test_the_smallest_round_measures_a_cold_and_a_warm_handler(tmp_path, capsys):
    # Act
    code = main(["bench", "aggregate", "--quick", "--json", "--workdir", str(tmp_path)])

    # Assert
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [(r["spokes"], r["container"]) for r in rows] == [(2, "cold"), (2, "warm")]
    for row in rows:
        assert row["quorum_met"] and row["aggregated"] == 2
        assert row["traced_peak_mib"] > 0 and row["seconds"] > 0
        assert row["peak_rss_after_call_mib"] >= row["peak_rss_before_call_mib"] > 0
        assert row["updates_mib"] == pytest.approx(2 * row["update_mib"], abs=0.01)
        assert row["peak_to_model"] == pytest.approx(row["traced_peak_mib"] / row["model_mib"], rel=0.01)
        assert row["peak_to_updates"] == pytest.approx(row["traced_peak_mib"] / row["updates_mib"], rel=0.01)
