"""Hub side: releases are checked against the domain and each spoke's size, and summed independently of order."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcore.marginal import (
    ReleaseRejectedError,
    SpokeRelease,
    check_score_release,
    marginal_noise_std,
    marginals_to_tensors,
    measure_marginals,
    scores_to_tensors,
    sum_marginal_releases,
    sum_score_releases,
)

from marginal_helpers import make_small_frame

CLIQUES = [("age", "dose"), ("sex", "arm")]
SIGMAS = [0.5, 1.0, 2.0, None]  # hospitals with different noise, one without DP


def _releases(domain, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for k, (rows, sigma) in enumerate(zip([300, 800, 120, 500], SIGMAS)):
        codes = domain.encode(make_small_frame(rows, seed=10 + k))
        tables = measure_marginals(codes, domain, CLIQUES, sigma, rng)
        out[f"spoke-{k}"] = SpokeRelease(marginals_to_tensors(tables), rows, sigma)
    return out


def test_the_sum_is_the_pooled_count_with_the_summed_variance(small_domain):
    releases = _releases(small_domain)
    exact = {s: SpokeRelease(r.tensors, r.rows, None) for s, r in _releases(small_domain).items()}

    summed = sum_marginal_releases(releases, small_domain, CLIQUES)

    variance = sum(marginal_noise_std(s, len(CLIQUES)) ** 2 for s in SIGMAS)
    assert summed.noise_std == pytest.approx(np.sqrt(variance))
    assert summed.rows == 300 + 800 + 120 + 500
    assert summed.measurements()[("sex", "arm")][1] == summed.noise_std
    pooled = sum_marginal_releases(
        {s: SpokeRelease(marginals_to_tensors(measure_marginals(
            small_domain.encode(make_small_frame(r.rows, seed=10 + k)), small_domain, CLIQUES, None,
            np.random.default_rng(0))), r.rows, None) for k, (s, r) in enumerate(exact.items())},
        small_domain, CLIQUES)
    for clique in CLIQUES:
        assert pooled.tables[clique].sum() == summed.rows
        assert np.abs(summed.tables[clique] - pooled.tables[clique]).max() < 6 * summed.noise_std


@settings(max_examples=30, deadline=None)
@given(order=st.permutations(["spoke-0", "spoke-1", "spoke-2", "spoke-3"]))
def test_the_sum_does_not_depend_on_the_order_releases_arrive_in(small_domain, order):
    releases = _releases(small_domain)
    reordered = {spoke: releases[spoke] for spoke in order}

    a = sum_marginal_releases(releases, small_domain, CLIQUES)
    b = sum_marginal_releases(reordered, small_domain, CLIQUES)
    scores = {s: SpokeRelease(scores_to_tensors(np.full(3, 10.0 * i + 0.1)), r.rows, r.noise_multiplier)
              for i, (s, r) in enumerate(releases.items())}
    c = sum_score_releases(scores, 3)
    d = sum_score_releases({s: scores[s] for s in order}, 3)

    assert all(np.array_equal(a.tables[k], b.tables[k]) for k in CLIQUES)  # bit for bit
    assert a.noise_std == b.noise_std
    assert np.array_equal(c.scores, d.scores) and c.noise_std == d.noise_std


def test_a_release_for_another_domain_or_shape_is_rejected(small_domain):
    releases = _releases(small_domain)
    wrong_shape = dict(releases["spoke-1"].tensors)
    wrong_shape["marginal/sex|arm"] = np.zeros((2, 4))
    other_cliques = dict(releases["spoke-1"].tensors)
    other_cliques["marginal/arm|sex"] = other_cliques.pop("marginal/sex|arm").T

    for tensors in (wrong_shape, other_cliques):
        bad = {**releases, "spoke-1": SpokeRelease(tensors, 800, 1.0)}
        with pytest.raises(ReleaseRejectedError, match="spoke-1"):
            sum_marginal_releases(bad, small_domain, CLIQUES)


@pytest.mark.parametrize("inflate", [3.0, 1.5])
def test_a_spoke_inflating_its_counts_is_rejected(small_domain, inflate):
    releases = _releases(small_domain)
    honest = releases["spoke-0"]  # 300 rows, sigma 0.5
    tensors = {name: table * inflate for name, table in honest.tensors.items()}

    with pytest.raises(ReleaseRejectedError, match="spoke-0.*300 rows"):
        sum_marginal_releases({**releases, "spoke-0": SpokeRelease(tensors, 300, 0.5)}, small_domain, CLIQUES)


def test_mass_moved_into_one_cell_beyond_the_rows_is_rejected(small_domain):
    releases = _releases(small_domain)
    tensors = {name: table.copy() for name, table in releases["spoke-2"].tensors.items()}
    table = tensors["marginal/sex|arm"]
    table[:] = -100.0
    table[0, 0] = 120 + 100.0 * (table.size - 1)  # total still 120, one cell far beyond it

    with pytest.raises(ReleaseRejectedError, match="outside"):
        sum_marginal_releases({**releases, "spoke-2": SpokeRelease(tensors, 120, 1.0)}, small_domain, CLIQUES)


def test_honest_noisy_releases_pass_the_checks_many_times(small_domain):
    for seed in range(20):
        sum_marginal_releases(_releases(small_domain, seed), small_domain, CLIQUES)  # no rejection


def test_scores_are_clipped_to_what_a_spoke_of_its_size_can_produce():
    release = SpokeRelease(scores_to_tensors(np.array([-5.0, 50.0, 230.0])), rows=100, noise_multiplier=1.0)

    clipped = check_score_release(release, 3)

    np.testing.assert_array_equal(clipped, [0.0, 50.0, 200.0])
    with pytest.raises(ReleaseRejectedError, match="outside"):
        check_score_release(SpokeRelease(scores_to_tensors(np.array([0.0, 0.0, 300.0])), 100, 1.0), 3)  # 6 sd = 42
    with pytest.raises(ReleaseRejectedError, match="scores"):
        check_score_release(SpokeRelease(scores_to_tensors(np.zeros(2)), 100, 0.01), 3)


def test_a_spoke_release_needs_a_positive_row_count():
    with pytest.raises(ValueError, match="rows"):
        SpokeRelease({}, 0, 1.0)
