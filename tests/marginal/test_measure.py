"""Spoke releases: noise of the documented std; one row moves the exact outputs by at most the stated sensitivity."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.marginal import (
    candidate_pairs,
    count_table,
    marginal_noise_std,
    marginals_from_tensors,
    marginals_to_tensors,
    measure_marginals,
    score_noise_std,
    scores_from_tensors,
    scores_to_tensors,
    selection_scores,
)
from fedcore.marginal.measure import SCORE_SENSITIVITY_GLOBAL, SCORE_SENSITIVITY_LOCAL

CLIQUES = [("age", "dose"), ("sex", "arm"), ("age", "arm")]


def _uniform_probs(domain):
    return {c.name: np.full(c.size, 1.0 / c.size) for c in domain.columns}


def test_marginal_noise_has_the_documented_std(small_domain, small_frame):
    codes = small_domain.encode(small_frame)
    exact = measure_marginals(codes, small_domain, CLIQUES, None, np.random.default_rng(0))
    rng = np.random.default_rng(1)

    draws = [measure_marginals(codes, small_domain, CLIQUES, 0.8, rng) for _ in range(400)]

    noise = np.concatenate([(d[c] - exact[c]).ravel() for d in draws for c in CLIQUES])
    expected = 0.8 * np.sqrt(len(CLIQUES))  # each row touches one cell per clique
    assert marginal_noise_std(0.8, len(CLIQUES)) == pytest.approx(expected)
    assert noise.std() == pytest.approx(expected, rel=0.02)
    assert abs(noise.mean()) < 0.02 * expected


@pytest.mark.parametrize("global_baseline", [False, True])
def test_score_noise_has_the_documented_std(small_domain, small_frame, global_baseline):
    codes = small_domain.encode(small_frame)
    candidates = candidate_pairs(small_domain)
    probs = _uniform_probs(small_domain) if global_baseline else None
    exact = selection_scores(codes, small_domain, candidates, probs, None, np.random.default_rng(0))
    rng = np.random.default_rng(1)

    noise = np.concatenate([
        selection_scores(codes, small_domain, candidates, probs, 1.5, rng) - exact for _ in range(2000)
    ])

    per_score = SCORE_SENSITIVITY_GLOBAL if global_baseline else SCORE_SENSITIVITY_LOCAL
    expected = 1.5 * per_score * np.sqrt(len(candidates))
    assert score_noise_std(1.5, len(candidates), global_baseline) == pytest.approx(expected)
    assert noise.std() == pytest.approx(expected, rel=0.02)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(0, 40),
       new_row=st.lists(st.integers(0, 20), min_size=4, max_size=4))
def test_one_added_row_moves_the_exact_releases_by_at_most_their_sensitivity(small_domain, seed, rows, new_row):
    rng = np.random.default_rng(seed)
    # Skewed tables (few rows, few occupied cells) are where the local baseline moves most.
    codes = np.stack([rng.integers(0, max(1, size // 3 + 1), rows) for size in small_domain.shape], axis=1)
    added = np.array([v % size for v, size in zip(new_row, small_domain.shape)])
    bigger = np.vstack([codes, added[None, :]])
    candidates = candidate_pairs(small_domain)
    probs = _uniform_probs(small_domain)

    local = [selection_scores(c, small_domain, candidates, None, None, rng) for c in (codes, bigger)]
    glob = [selection_scores(c, small_domain, candidates, probs, None, rng) for c in (codes, bigger)]
    tables = [measure_marginals(c, small_domain, CLIQUES, None, rng) for c in (codes, bigger)]

    assert np.abs(local[1] - local[0]).max() <= SCORE_SENSITIVITY_LOCAL
    assert np.abs(glob[1] - glob[0]).max() <= SCORE_SENSITIVITY_GLOBAL + 1e-9
    change = np.concatenate([(tables[1][c] - tables[0][c]).ravel() for c in CLIQUES])
    assert np.linalg.norm(change) == pytest.approx(np.sqrt(len(CLIQUES)))  # exactly one cell per clique


def test_count_tables_count_each_row_once(small_domain, small_frame):
    codes = small_domain.encode(small_frame)

    table = count_table(codes, small_domain, ("sex", "arm"))

    assert table.shape == small_domain.clique_shape(("sex", "arm"))
    assert table.sum() == len(small_frame)
    assert table[1, 2] == ((small_frame["sex"] == "m") & (small_frame["arm"] == 2)).sum()


def test_releases_round_trip_as_named_float_tensors(small_domain, small_frame):
    codes = small_domain.encode(small_frame)
    tables = measure_marginals(codes, small_domain, CLIQUES, 1.0, np.random.default_rng(0))

    tensors = marginals_to_tensors(tables)

    assert sorted(tensors) == ["marginal/age|arm", "marginal/age|dose", "marginal/sex|arm"]
    assert all(t.dtype == np.float64 for t in tensors.values())
    back = marginals_from_tensors(tensors, small_domain, CLIQUES)
    assert all(np.array_equal(back[c], tables[c]) for c in CLIQUES)
    scores = np.arange(6, dtype=float)
    assert np.array_equal(scores_from_tensors(scores_to_tensors(scores), 6), scores)


@pytest.mark.parametrize("tamper, message", [
    (lambda t: t.pop("marginal/sex|arm"), "lacks"),
    (lambda t: t.update({"marginal/arm|sex": np.zeros((3, 2))}), "unexpected"),
    (lambda t: t.update({"marginal/sex|arm": np.zeros((3, 2))}), "shape"),
    (lambda t: t.update({"marginal/sex|arm": np.zeros((2, 3), dtype=np.int64)}), "floats"),
    (lambda t: t["marginal/sex|arm"].__setitem__((0, 0), np.nan), "non-finite"),
])
def test_a_malformed_marginal_release_is_refused(small_domain, small_frame, tamper, message):
    codes = small_domain.encode(small_frame)
    tensors = marginals_to_tensors(measure_marginals(codes, small_domain, CLIQUES, 1.0, np.random.default_rng(0)))
    tamper(tensors)

    with pytest.raises(ValueError, match=message):
        marginals_from_tensors(tensors, small_domain, CLIQUES)


@pytest.mark.parametrize("tensors", [
    {"scores": np.zeros(5)}, {"scores": np.zeros(6), "x": np.zeros(1)}, {"scores": np.full(6, np.inf)},
])
def test_a_malformed_score_release_is_refused(tensors):
    with pytest.raises(ValueError):
        scores_from_tensors(tensors, 6)


def test_bad_inputs_are_refused(small_domain, small_frame):
    codes = small_domain.encode(small_frame)
    rng = np.random.default_rng(0)

    with pytest.raises(ValueError, match="noise_multiplier"):
        measure_marginals(codes, small_domain, CLIQUES, 0.0, rng)
    with pytest.raises(ValueError, match="no column"):
        measure_marginals(codes, small_domain, [("age", "height")], 1.0, rng)
    with pytest.raises(ValueError, match="probabilities"):
        selection_scores(codes, small_domain, [("sex", "arm")], {"sex": np.array([0.5, 0.6]),
                                                                 "arm": np.full(3, 1 / 3)}, 1.0, rng)
    with pytest.raises(ValueError, match="outside the domain"):
        measure_marginals(codes + 10, small_domain, CLIQUES, 1.0, rng)


def test_the_local_score_bound_is_tight(small_domain):
    n = 1000
    codes = np.zeros((n, 4), dtype=np.int64)  # every row in one cell: the table is its own baseline
    bigger = np.vstack([codes, [[1, 1, 1, 1]]])  # a row in an empty row and column of every table
    rng = np.random.default_rng(0)

    before = selection_scores(codes, small_domain, [("sex", "arm")], None, None, rng)
    after = selection_scores(bigger, small_domain, [("sex", "arm")], None, None, rng)

    assert before[0] == 0.0
    assert after[0] == pytest.approx(4 * n / (n + 1))  # the bound of 4 is approached, so 2 would be wrong
