"""Hub side selection: Kruskal's maximum spanning tree over the summed noisy scores."""

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.marginal import (
    SpokeRelease,
    build_domain,
    candidate_pairs,
    maximum_spanning_tree,
    one_way_probabilities,
    scores_to_tensors,
    select_cliques,
    selection_scores,
    sum_score_releases,
)
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.schema import CategoricalColumn, Schema


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.floats(0, 100, allow_nan=False), min_size=15, max_size=15))
def test_kruskal_finds_a_spanning_tree_of_maximum_weight(weights):
    names = [f"c{i}" for i in range(6)]
    candidates = list(itertools.combinations(names, 2))  # 15 pairs

    tree = maximum_spanning_tree(names, candidates, np.array(weights))

    graph = nx.Graph()
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in zip(candidates, weights))
    best = nx.maximum_spanning_tree(graph)
    chosen = dict(zip(candidates, weights))
    assert len(tree) == 5 and nx.is_tree(nx.Graph(tree))
    assert sum(chosen[e] for e in tree) == pytest.approx(sum(d["weight"] for _, _, d in best.edges(data=True)))


def test_extra_edges_are_the_best_pairs_left_out_of_the_tree():
    names = ["a", "b", "c"]
    candidates = [("a", "b"), ("a", "c"), ("b", "c")]
    domain = build_domain(
        Schema(columns=tuple(CategoricalColumn(name=n, categories=(0, 1)) for n in names)),
        compute_table_stats(pd.DataFrame({n: pd.Series([0, 1], dtype=object) for n in names}),
                            Schema(columns=tuple(CategoricalColumn(name=n, categories=(0, 1)) for n in names)),
                            None, np.random.default_rng(0)),
    )

    assert select_cliques(domain, candidates, np.array([3.0, 2.0, 1.0]), extra_edges=0) == [("a", "b"), ("a", "c")]
    assert select_cliques(domain, candidates, np.array([3.0, 2.0, 1.0]), extra_edges=1)[-1] == ("b", "c")


def _chain_table(rows: int, seed: int, flip: float) -> pd.DataFrame:
    """x0 -> x1 -> x2 -> x3 copy their parent with prob 1 - flip; x4 .. x7 independent noise."""
    rng = np.random.default_rng(seed)
    columns = {"x0": rng.integers(0, 3, rows)}
    for k in range(1, 4):
        parent = columns[f"x{k - 1}"]
        columns[f"x{k}"] = np.where(rng.random(rows) < flip, rng.integers(0, 3, rows), parent)
    for k in range(4, 8):
        columns[f"x{k}"] = rng.integers(0, 3, rows)
    return pd.DataFrame({n: pd.Series(v.tolist(), dtype=object) for n, v in columns.items()})


def test_noisy_federated_selection_picks_the_true_dependencies():
    schema = Schema(columns=tuple(CategoricalColumn(name=f"x{k}", categories=(0, 1, 2)) for k in range(8)))
    spokes = {f"s{k}": _chain_table(rows, seed=k, flip=0.4) for k, rows in enumerate([400, 900, 250])}
    rng = np.random.default_rng(0)
    stats = compute_table_stats(pd.concat(spokes.values()), schema, None, rng)
    domain = build_domain(schema, stats)
    candidates = candidate_pairs(domain)

    releases = {
        s: SpokeRelease(scores_to_tensors(selection_scores(domain.encode(t), domain, candidates, None, 1.0, rng)),
                        len(t), 1.0)
        for s, t in spokes.items()
    }
    tree = select_cliques(domain, candidates, sum_score_releases(releases, len(candidates)).scores, extra_edges=0)

    assert {("x0", "x1"), ("x1", "x2"), ("x2", "x3")} <= set(tree)
    assert len(tree) == 7


def test_one_way_probabilities_clip_and_normalize_noisy_counts(small_domain):
    one_way = {"sex": (np.array([30.0, -5.0]), 1.0), "arm": (np.array([-1.0, -2.0, -3.0]), 1.0)}

    probs = one_way_probabilities(small_domain, one_way)

    np.testing.assert_allclose(probs["sex"], [1.0, 0.0])
    np.testing.assert_allclose(probs["arm"], np.full(3, 1 / 3))  # nothing left: uniform
    cells = small_domain.column("age").size
    np.testing.assert_allclose(probs["age"], np.full(cells, 1 / cells))  # no measurement: uniform
