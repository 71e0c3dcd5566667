"""TSTR / TRTR on small generated tables with a known signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fedcore.evaluation import utility_scores
from fedcore.evaluation.utility import macro_ovr_auc
from fedcore.schema import Schema


def _schema(target_kind: str) -> Schema:
    if target_kind == "numeric":
        target = {"name": "y", "kind": "numeric", "min": -10, "max": 10}
    else:
        target = {"name": "y", "kind": "categorical", "categories": [0, 1, 2] if target_kind == "multi" else [0, 1]}
    return Schema(columns=[
        {"name": "x", "kind": "numeric", "min": -5, "max": 5},
        {"name": "group", "kind": "categorical", "categories": ["a", "b", "c"]},
        target,
    ], target="y")


def _table(rng: np.random.Generator, target_kind: str, n: int = 400) -> pd.DataFrame:
    """y depends on x and on group; x has 10% missing values."""
    x = rng.normal(0, 1.5, n)
    group = rng.choice(["a", "b", "c"], n)
    signal = x + np.where(group == "a", 1.5, 0.0) + rng.normal(0, 0.5, n)
    if target_kind == "numeric":
        y = signal
    elif target_kind == "multi":
        y = np.digitize(signal, [-0.8, 0.8])
    else:
        y = (signal > 0).astype(int)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"x": x, "group": group, "y": y})


@pytest.mark.parametrize(("kind", "metric", "floor"), [
    ("binary", "roc_auc", 0.85), ("multi", "roc_auc_ovr_macro", 0.8), ("numeric", "r2", 0.6),
])
def test_tstr_matches_trtr_for_same_distribution(kind, metric, floor):
    rng = np.random.default_rng(0)
    train, test, synthetic = (_table(rng, kind) for _ in range(3))

    scores = utility_scores(train, test, synthetic, _schema(kind), "y", seed=1)

    assert scores["metric"] == metric
    assert scores["trtr"] > floor
    assert scores["tstr"] == pytest.approx(scores["trtr"], abs=0.06)
    assert scores["warnings"] == []


def test_single_class_synthetic_scores_chance_with_a_warning():
    rng = np.random.default_rng(1)
    train, test, synthetic = (_table(rng, "binary") for _ in range(3))

    scores = utility_scores(train, test, synthetic.assign(y=1), _schema("binary"), "y", seed=1)

    assert scores["tstr"] == 0.5
    assert scores["trtr"] > 0.85
    assert len(scores["warnings"]) == 1 and "synthetic" in scores["warnings"][0]


def test_categories_are_encoded_from_the_schema_not_the_data():
    rng = np.random.default_rng(2)
    frames = []
    for _ in range(3):
        group = rng.choice(["a", "b", "c"], 400)
        y = np.where(rng.random(400) < 0.9, (group == "b").astype(int), 1 - (group == "b"))
        frames.append(pd.DataFrame({"x": rng.normal(0, 1, 400), "group": group, "y": y}))
    train, test, synthetic = frames
    # Synthetic lacks group "a" and spells the target as text: data-fitted codes would map
    # its "b" onto the test set's "a" and invert the model.
    respelled = synthetic[synthetic["group"] != "a"].assign(y=lambda f: f["y"].astype(str))

    scores = utility_scores(train, test, respelled, _schema("binary"), "y", seed=1)

    assert scores["tstr"] == pytest.approx(scores["trtr"], abs=0.03)
    assert scores["tstr"] > 0.85


def test_rows_without_a_target_are_dropped():
    rng = np.random.default_rng(3)
    train, test, synthetic = (_table(rng, "binary") for _ in range(3))
    train = train.astype({"y": float})
    train.loc[:49, "y"] = np.nan

    scores = utility_scores(train, test, synthetic, _schema("binary"), "y", seed=1)

    assert scores["rows"]["real_train"] == len(train) - 50


def test_macro_ovr_auc_is_plain_auc_for_two_classes():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)

    assert macro_ovr_auc(y, np.column_stack([1 - p1, p1])) == pytest.approx(roc_auc_score(y, p1))


def test_unknown_target_is_rejected():
    frame = _table(np.random.default_rng(5), "binary")

    with pytest.raises(ValueError, match="nope"):
        utility_scores(frame, frame, frame, _schema("binary"), "nope", seed=0)
