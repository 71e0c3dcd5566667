"""Fitting with private-pgm, the model as checked named tensors, and (conditional) sampling."""

import time

import numpy as np
import pytest

from fedcore.marginal import MarginalModel, count_table, fit_marginal_model, measure_marginals, sample_rows
from fedcore.preprocessing.table_stats import compute_table_stats

CLIQUES = [("age", "dose"), ("sex", "arm"), ("age", "arm")]


@pytest.fixture(scope="module")
def fitted(small_schema, small_frame, small_domain):
    rng = np.random.default_rng(0)
    stats = compute_table_stats(small_frame, small_schema, 0.5, rng)
    one_way = small_domain.one_way_from_stats(stats)  # per-cell stds: a weighted query
    codes = small_domain.encode(small_frame)
    tables = measure_marginals(codes, small_domain, CLIQUES, 0.5, rng)
    std = 0.5 * np.sqrt(len(CLIQUES))
    model = fit_marginal_model(small_domain, one_way, {c: (t, std) for c, t in tables.items()},
                               iterations=500, total=len(small_frame))
    return model, codes


def _tv(p, q):
    return 0.5 * np.abs(p / p.sum() - q / q.sum()).sum()


def test_the_fitted_model_reproduces_the_measured_pairs(fitted, small_domain):
    model, codes = fitted

    for clique in CLIQUES:
        real = count_table(codes, small_domain, clique)
        modelled = model.marginals[clique] if clique in model.marginals else None
        assert modelled is not None, "a tree model keeps its measured cliques as its maximal cliques"
        assert _tv(real, modelled) < 0.03
    assert model.total == 2000


def test_samples_follow_the_model_and_the_seed_alone(fitted, small_domain, small_frame):
    model, codes = fitted

    rows = sample_rows(model, small_domain, 20_000, 7)

    assert list(rows.columns) == small_domain.names and len(rows) == 20_000
    assert rows.equals(sample_rows(model, small_domain, 20_000, np.random.default_rng(7)))
    assert list(sample_rows(model, small_domain, 0, 7).columns) == small_domain.names
    synthetic = small_domain.encode(rows)
    for clique in CLIQUES:
        assert _tv(count_table(codes, small_domain, clique), count_table(synthetic, small_domain, clique)) < 0.04
    assert rows["dose"].isna().mean() == pytest.approx(small_frame["dose"].isna().mean(), abs=0.02)
    assert np.corrcoef(rows["age"][rows["dose"].notna()], rows["dose"].dropna())[0, 1] > 0.7  # age drives dose


def test_conditions_hold_exactly_and_the_rest_follows_the_conditional(fitted, small_domain, small_frame):
    model, _ = fitted

    rows = sample_rows(model, small_domain, 5000, 1, conditions={"arm": 2})

    assert set(rows["arm"]) == {2}
    real_rate = (small_frame.loc[small_frame["arm"] == 2, "sex"] == "m").mean()  # about 0.9
    assert (rows["sex"] == "m").mean() == pytest.approx(real_rate, abs=0.04)
    both = sample_rows(model, small_domain, 500, 2, conditions={"arm": "0", "sex": "m"})
    assert set(both["arm"]) == {0} and set(both["sex"]) == {"m"}


@pytest.mark.parametrize("conditions, message", [
    ({"height": 1}, "not a column"),
    ({"arm": 7}, "its values are"),
    ({"age": 40}, "binned numeric"),
    ({"sex": None}, "no missing cell"),
])
def test_a_bad_condition_is_refused_with_a_clear_message(fitted, small_domain, conditions, message):
    model, _ = fitted

    with pytest.raises(ValueError, match=message):
        sample_rows(model, small_domain, 10, 0, conditions=conditions)


def test_the_model_round_trips_as_named_float_tensors(fitted, small_domain):
    model, _ = fitted

    tensors = model.to_tensors()
    loaded = MarginalModel.from_tensors(tensors, small_domain)

    assert all(isinstance(t, np.ndarray) and t.dtype == np.float64 for t in tensors.values())
    assert {n.split("/")[0] for n in tensors} == {"potential", "clique_marginal", "total"}
    assert sample_rows(loaded, small_domain, 100, 3).equals(sample_rows(model, small_domain, 100, 3))


@pytest.mark.parametrize("tamper, message", [
    (lambda t: t.pop("total"), "total"),
    (lambda t: t.update(total=np.array([-1.0])), "total"),
    (lambda t: t.update({"weights/x": np.zeros(2)}), "unexpected"),
    (lambda t: t.update({"potential/sex|arm": np.zeros((3, 2))}), "shape"),
    (lambda t: t["potential/sex|arm"].__setitem__((0, 0), np.inf), "non-finite"),
    (lambda t: t.pop("potential/age|dose"), "leave out"),
    (lambda t: t["clique_marginal/sex|arm"].__imul__(1.5), "sum to"),
    (lambda t: t.update({"clique_marginal/sex|arm": t["clique_marginal/sex|arm"][:, ::-1].copy()}), "disagree"),
])
def test_loading_checks_what_it_loads(fitted, small_domain, tamper, message):
    model, _ = fitted
    tensors = {k: v.copy() for k, v in model.to_tensors().items()}
    tamper(tensors)

    with pytest.raises(ValueError, match=message):
        MarginalModel.from_tensors(tensors, small_domain)


def test_ten_thousand_rows_sample_quickly(fitted, small_domain):
    model, _ = fitted
    sample_rows(model, small_domain, 10, 0, conditions={"arm": 1})  # compile the conditioned path once

    started = time.perf_counter()
    sample_rows(model, small_domain, 10_000, 0)
    sample_rows(model, small_domain, 10_000, 0, conditions={"arm": 0})
    assert time.perf_counter() - started < 5.0


def test_fitting_refuses_measurements_that_do_not_fit_the_domain(small_domain):
    with pytest.raises(ValueError, match="shape"):
        fit_marginal_model(small_domain, {"sex": (np.zeros(3), 1.0)}, {})
    with pytest.raises(ValueError, match="std"):
        fit_marginal_model(small_domain, {"sex": (np.zeros(2), -1.0)}, {})
    with pytest.raises(ValueError, match="no column"):
        fit_marginal_model(small_domain, {}, {("sex", "height"): (np.zeros((2, 2)), 1.0)})


def test_cliques_in_any_column_order_fit_to_the_same_model(small_domain, small_frame):
    codes = small_domain.encode(small_frame)
    reversed_cliques = [tuple(reversed(c)) for c in CLIQUES]  # not in domain order
    tables = measure_marginals(codes, small_domain, reversed_cliques, None, np.random.default_rng(0))

    model = fit_marginal_model(small_domain, {}, {c: (t, 1.0) for c, t in tables.items()}, iterations=300)

    for clique in CLIQUES:  # marginals are keyed by the junction tree's (domain-ordered) cliques
        assert _tv(count_table(codes, small_domain, clique), model.marginals[clique]) < 0.01
    rows = sample_rows(model, small_domain, 5000, 0)
    assert _tv(count_table(codes, small_domain, ("sex", "arm")),
               count_table(small_domain.encode(rows), small_domain, ("sex", "arm"))) < 0.04
