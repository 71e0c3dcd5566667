"""``bench quality``: the grid from the flags, the reference tables, and the --quick run end to end."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fedcore.bench_quality import NO_DP, QualityGrid, parse_epsilons
from fedcore.bench_quality.exact_copies import exact_copy_share
from fedcore.bench_quality.references import independent_columns
from fedcore.bench_quality.summary import spread, summarise
from fedcore.cli.bench_cmd import quality_grid, run, run_quality
from fedcore.cli.main import build_parser
from fedcore.schema import CategoricalColumn, NumericColumn, Schema

ROW_KEYS = {"kind", "data", "family", "epsilon", "seed", "column_shapes", "column_pair_trends",
            "tstr_over_trtr", "dcr_share", "exact_copy_share"}
SCHEMA = Schema(columns=[CategoricalColumn(name="arm", categories=["a", "b"]),
                         NumericColumn(name="cd4", min=0, max=1000)])


def test_epsilons_parse_numbers_and_none_once_each():
    assert parse_epsilons("1, 3,none,3") == (1.0, 3.0, NO_DP)
    with pytest.raises(ValueError, match="neither a number"):
        parse_epsilons("1,three")


def test_grid_refuses_unknown_families_and_bad_epsilons():
    with pytest.raises(ValueError, match="unknown or no model families"):
        QualityGrid(families=("gan",))
    with pytest.raises(ValueError, match="positive"):
        QualityGrid(epsilons=(0.0,))


def test_quick_fills_only_what_was_not_given_and_no_dp_adds_a_run_without_dp():
    parser = build_parser()

    quick = quality_grid(parser.parse_args(["bench", "quality", "--quick"]))
    given = quality_grid(parser.parse_args(["bench", "quality", "--quick", "--epsilons", "1", "--no-dp",
                                            "--data", "healthcare"]))

    assert (quick.families, quick.epsilons, quick.seeds, quick.rows) == (("marginal",), (3.0,), 1, 500)
    assert given.epsilons == (1.0, NO_DP) and given.data == "healthcare"


def test_plain_bench_keeps_its_own_handler():
    parser = build_parser()
    assert parser.parse_args(["bench", "--json", "--quick"]).handler is run
    assert parser.parse_args(["bench", "quality"]).handler is run_quality


def test_floor_keeps_each_column_and_breaks_the_link_between_them():
    train = pd.DataFrame({"arm": ["a"] * 500 + ["b"] * 500, "cd4": [100.0] * 500 + [900.0] * 500})

    floor = independent_columns(train, 4000, np.random.default_rng(0))

    assert floor["arm"].eq("a").mean() == pytest.approx(0.5, abs=0.03)
    linked = (floor["arm"] == "a") == (floor["cd4"] == 100.0)
    assert linked.mean() == pytest.approx(0.5, abs=0.03)  # a copy of the training rows would be 1.0


def test_exact_copies_count_rows_equal_to_any_training_row():
    train = pd.DataFrame({"arm": ["a", "b", "a"], "cd4": [100.0, 200.0, 300.0]})
    synthetic = pd.DataFrame({"arm": ["a", "a", "b", "b"], "cd4": [300.0, 200.0, 200.0, 200.5]})

    assert exact_copy_share(train, synthetic, SCHEMA) == 0.5


def test_summary_gives_mean_and_range_over_seeds():
    rows = [{"kind": "run", "family": "marginal", "epsilon": 3.0, "column_shapes": v, "column_pair_trends": None,
             "tstr_over_trtr": 0.9, "dcr_share": 0.5, "exact_copy_share": 0.0} for v in (0.90, 0.96, 0.93)]

    (summary,) = summarise(rows)

    assert summary["seeds"] == 3 and summary["column_shapes"].text() == "0.930 (0.900-0.960)"
    assert summary["column_pair_trends"].text() == "-" and spread([0.5]).text() == "0.500"


@pytest.mark.slow  # one federated marginal run plus SDMetrics scoring: about 75 s on a shared 2-core machine
def test_quick_json_prints_every_kind_of_row_scored_in_range():
    result = subprocess.run([sys.executable, "-m", "fedcore", "bench", "quality", "--quick", "--json"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]

    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_kind = {row["kind"]: row for row in rows}
    assert set(by_kind) == {"reference", "floor", "ceiling", "run"}
    for row in rows:
        assert ROW_KEYS <= set(row)
        for key in ("column_shapes", "column_pair_trends", "dcr_share", "exact_copy_share"):
            assert row[key] is None or 0 <= row[key] <= 1, (row["kind"], key, row[key])
        assert 0 < row["tstr_over_trtr"] < 1.5  # a ratio: synthetic rows may beat real ones by chance
    run_row = by_kind["run"]
    assert (run_row["family"], run_row["epsilon"], run_row["seed"]) == ("marginal", 3.0, 0)
    assert by_kind["floor"]["column_pair_trends"] < by_kind["ceiling"]["column_pair_trends"]
    assert by_kind["floor"]["column_pair_trends"] < run_row["column_pair_trends"]
