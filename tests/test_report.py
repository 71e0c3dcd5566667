"""report.json and the self-contained report.html."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from fedcore.evaluation import write_report
from fedcore.schema import Schema

SCHEMA = Schema(name="ward", columns=[
    {"name": "age", "kind": "numeric", "min": 0, "max": 100, "integer": True},
    {"name": "<script>", "kind": "categorical", "categories": ["<b>a</b>", "b"]},
    {"name": "price $", "kind": "numeric", "min": 0, "max": 10},
    {"name": "stage", "kind": "categorical", "categories": [1, 2, 3]},
])


def _table(rng: np.random.Generator, n: int = 80) -> pd.DataFrame:
    frame = pd.DataFrame({
        "age": rng.integers(20, 90, n).astype(float),
        "<script>": rng.choice(["<b>a</b>", "b"], n),
        "price $": rng.uniform(0, 10, n),
        "stage": rng.choice([1, 2, 3], n),
    })
    frame.loc[::7, "age"] = np.nan
    return frame


def _report() -> dict:
    return {
        "quality": {"column_shapes": 0.91, "column_pair_trends": float("nan"),
                    "per_column": {"<script>": {"metric": "TVComplement", "score": 0.9}}},
        "utility": {"metric": "roc_auc", "tstr": np.float64(0.7), "trtr": 0.8, "ratio": 0.875},
        "privacy": {"epsilon": {"<i>north</i>": 2.5, "south": np.float32(3.0)}, "delta": 1e-5,
                    "dcr_share": 0.52,
                    "epsilon_per_round": {"<i>north</i>": [1.0, 2.5], "south": [1.5, 3.0]}},
        "rounds": [{"round": i, "loss": 1.0 / i, "spokes": 3, "seconds": 1.2} for i in (1, 2)],
        "counts": np.array([1, 2]),
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("run") / "nested"
    paths = write_report(out, _report(), _table(rng), _table(rng), SCHEMA)
    return paths, paths[1].read_text(encoding="utf-8")


def test_json_is_the_report_with_nan_as_null(written):
    (json_path, html_path), _ = written

    data = json.loads(json_path.read_text())

    assert (json_path.name, html_path.name) == ("report.json", "report.html")
    assert data["quality"]["column_pair_trends"] is None
    assert data["utility"]["tstr"] == 0.7
    assert data["counts"] == [1, 2]
    assert data["privacy"]["epsilon"]["south"] == 3.0


def test_html_has_a_valid_png_for_every_column_and_both_training_plots(written):
    _, page = written

    images = dict(re.findall(r"<img alt='([^']*)' src='data:image/png;base64,([^']*)'", page))

    for alt in ["age", "&lt;script&gt;", "price $", "stage"]:
        assert base64.b64decode(images[f"{alt}: real vs synthetic"]).startswith(b"\x89PNG")
    assert {"loss per round", "epsilon per hospital per round"} <= set(images)
    assert len(images) == len(SCHEMA.columns) + 2


def test_html_escapes_every_data_string(written):
    _, page = written

    assert "<script>" not in page
    assert "<b>a</b>" not in page and "<i>north</i>" not in page
    assert "&lt;script&gt;" in page and "&lt;i&gt;north&lt;/i&gt;" in page


def test_html_shows_the_headline_numbers(written):
    _, page = written

    for text in ["0.910", "0.700", "0.800", "0.520", "2.500", "1.0e-05", "n/a"]:
        assert f"<td class='num'>{text}</td>" in page
    assert "What these numbers mean" in page


def test_missing_training_history_is_tolerated(tmp_path):
    rng = np.random.default_rng(1)
    report = {"quality": {}, "utility": {}, "privacy": {"dcr_share": 0.5}}

    _, html_path = write_report(tmp_path, report, _table(rng), _table(rng), SCHEMA)

    page = html_path.read_text()
    assert "No per-round loss was recorded." in page
    assert "No per-round privacy spend was recorded." in page
    assert page.count("real vs synthetic'") == len(SCHEMA.columns)


def test_a_value_json_cannot_hold_is_rejected(tmp_path):
    rng = np.random.default_rng(2)

    with pytest.raises(TypeError, match="object"):
        write_report(tmp_path, {"bad": object()}, _table(rng), _table(rng), SCHEMA)
