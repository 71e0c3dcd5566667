"""The marginal domain: built from the schema and noisy setup statistics only, encodes and decodes rows."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcore.marginal import ColumnCells, MarginalDomain, build_domain
from fedcore.marginal.binning import coarse_cuts, decoding_weights, unimodal_fit
from fedcore.preprocessing.table_stats import TableStats, compute_table_stats
from fedcore.schema import CategoricalColumn, NumericColumn, Schema


def test_a_numeric_columns_cells_are_runs_of_setup_bins_of_similar_mass():
    fine = 1000 * np.exp(-0.5 * ((np.arange(32) - 12) / 4.0) ** 2)  # a smooth bump, exact counts

    cuts = coarse_cuts(fine, noise_std=0.0, max_cells=4)

    masses = [fine[a:b].sum() for a, b in zip(cuts[:-1], cuts[1:])]
    assert cuts[0] == 0 and cuts[-1] == len(fine) and len(masses) == 4
    assert max(masses) / min(masses) < 2.0  # a cell is whole fine bins, each up to 10% of the mass


def test_noise_only_tails_merge_into_their_neighbour():
    rng = np.random.default_rng(0)
    fine = np.zeros(32)
    fine[10:14] = 500.0
    noisy = fine + rng.normal(0, 40.0, 32)  # 28 bins of pure noise

    cuts = coarse_cuts(noisy, noise_std=40.0, max_cells=10)

    starts, stops = np.array(cuts[:-1]), np.array(cuts[1:])
    cell_mass = np.array([np.clip(noisy[a:b], 0, None).sum() for a, b in zip(starts, stops)])
    assert np.all(cell_mass >= 2.0 * 40.0 * np.sqrt(stops - starts))  # every cell stands out of its noise
    assert len(cuts) - 1 <= 6


def test_build_uses_only_the_schema_and_the_statistics(small_schema, small_frame, small_domain):
    stats = compute_table_stats(small_frame, small_schema, None, np.random.default_rng(0))

    rebuilt = build_domain(small_schema, stats, max_cells=6)  # no table passed anywhere

    assert rebuilt == small_domain
    assert small_domain.names == small_schema.names
    assert small_domain.column("arm").size == 3  # one cell per category, no missing cell: none missing
    assert small_domain.column("dose").has_missing_cell  # 20% missing is material
    assert 2 <= small_domain.column("age").cells <= 6


def test_an_immaterial_missing_count_gets_no_cell_and_missing_values_go_to_the_largest_cell(small_schema):
    counts = {
        "age": np.r_[np.full(32, 10.0), 3.0],  # 3 noisy "missing", noise sd 5: not material
        "dose": np.r_[np.full(32, 10.0), 0.0],
        "sex": np.array([10.0, 200.0, 0.0]),
        "arm": np.array([50.0, 60.0, 70.0, 0.0]),
    }
    domain = build_domain(small_schema, TableStats(counts=counts, noise_std=5.0, bins=32))
    frame = pd.DataFrame({"age": [np.nan], "dose": [1.0], "sex": pd.Series([np.nan], dtype=object),
                          "arm": pd.Series([1], dtype=object)})

    codes = domain.encode(frame)

    assert not domain.column("age").has_missing_cell
    assert codes[0, 0] == domain.column("age").fallback
    assert codes[0, 2] == 1  # sex missing -> "m", the largest category


def test_decoding_lands_each_value_back_in_its_cell_within_bounds(small_domain, small_frame):
    codes = small_domain.encode(small_frame)

    decoded = small_domain.decode(codes, np.random.default_rng(1))

    np.testing.assert_array_equal(small_domain.encode(decoded), codes)
    assert decoded["age"].dropna().between(0, 100).all() and (decoded["age"].dropna() % 1 == 0).all()
    assert decoded["dose"].isna().sum() == small_frame["dose"].isna().sum()
    assert set(decoded["sex"]) == {"f", "m"} and set(decoded["arm"]) == {0, 1, 2}


def test_decoding_spreads_values_by_the_setup_shape_inside_a_cell():
    cell = ColumnCells(name="x", kind="numeric", cells=1, has_missing_cell=False, fallback=0, low=0.0, high=4.0,
                       bins=4, cuts=(0, 4), weights=(100.0, 0.0, 300.0, 0.0))
    domain = MarginalDomain((cell,))

    values = domain.decode(np.zeros((4000, 1), dtype=int), np.random.default_rng(0))["x"]

    fine = np.floor(values).astype(int)
    assert set(fine) <= {0, 2}  # never in the empty bins 1 and 3
    assert (fine == 2).mean() == pytest.approx(0.75, abs=0.03)  # 300 : 100
    assert np.histogram(values[fine == 2], bins=4, range=(2, 3))[0].min() > 600  # uniform inside a bin


def test_listed_values_are_the_cells_of_a_numeric_column():
    class ListedColumn(NumericColumn):  # stands in for NumericColumn.values (optional there)
        values: tuple[float, ...] | None = None

    schema = Schema(columns=(ListedColumn(name="grade", min=0, max=4, values=(0, 1, 2, 4)),))
    frame = pd.DataFrame({"grade": [0.0, 1.0, 1.2, 4.0, np.nan]})
    stats = compute_table_stats(frame, schema, None, np.random.default_rng(0), bins=8)

    domain = build_domain(schema, stats)
    codes = domain.encode(frame)

    assert domain.column("grade").kind == "discrete"
    np.testing.assert_array_equal(codes[:, 0], [0, 1, 1, 3, 4])  # 1.2 -> nearest value 1; NaN -> missing
    decoded = domain.decode(codes, np.random.default_rng(0))["grade"]
    assert decoded.iloc[:4].tolist() == [0.0, 1.0, 1.0, 4.0] and np.isnan(decoded.iloc[4])
    counts, _ = domain.one_way_from_stats(stats)["grade"]
    np.testing.assert_array_equal(counts, [1, 2, 0, 1, 1])


def test_one_way_counts_sum_fine_cells_and_their_noise(small_schema, small_frame, small_domain):
    exact = compute_table_stats(small_frame, small_schema, None, np.random.default_rng(0))
    noisy = TableStats(counts=exact.counts, noise_std=3.0, bins=exact.bins)

    one_way = small_domain.one_way_from_stats(noisy)

    codes = small_domain.encode(small_frame)
    for i, column in enumerate(small_domain.columns):
        counts, std = one_way[column.name]
        np.testing.assert_array_equal(counts, np.bincount(codes[:, i], minlength=column.size))
    age = small_domain.column("age")
    summed = np.diff(age.cuts) + (np.arange(age.cells) == age.fallback)  # no missing cell: its count joins the fallback
    np.testing.assert_allclose(one_way["age"][1], 3.0 * np.sqrt(summed))


def test_the_domain_round_trips_through_json(small_domain):
    data = json.loads(json.dumps(small_domain.to_dict()))

    assert MarginalDomain.from_dict(data) == small_domain


@pytest.mark.parametrize("change", [
    lambda d: d.update(extra=1),
    lambda d: d["columns"][0].update(cuts=[0, 5, 3, 32]),
    lambda d: d["columns"][0].update(weights=[-1.0] * 32),
    lambda d: d["columns"][2].update(values=["f"]),
    lambda d: d["columns"][1].pop("bins"),
])
def test_a_malformed_domain_dict_is_refused(small_domain, change):
    data = json.loads(json.dumps(small_domain.to_dict()))
    change(data)

    with pytest.raises(ValueError):
        MarginalDomain.from_dict(data)


def test_a_pipe_in_a_column_name_is_refused():
    schema = Schema(columns=(CategoricalColumn(name="a|b", categories=(0, 1)),))
    stats = TableStats(counts={"a|b": np.array([1.0, 1.0, 0.0])}, noise_std=0.0, bins=32)

    with pytest.raises(ValueError, match="separates"):
        build_domain(schema, stats)


@given(values=st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=24))
def test_the_unimodal_fit_rises_then_falls_and_fits_best(values):
    y = np.array(values)

    fit = unimodal_fit(y)

    steps = np.diff(fit)
    peak = int(np.argmax(fit))
    assert np.all(steps[:peak] >= -1e-9) and np.all(steps[peak:] <= 1e-9)
    flat = np.full_like(y, y.mean())  # a constant is unimodal too, so the fit is at least as good
    assert np.sum((fit - y) ** 2) <= np.sum((flat - y) ** 2) + 1e-6


def test_noisy_weights_keep_the_bump_and_thin_out_the_empty_tails():
    rng = np.random.default_rng(3)
    true = np.zeros(32)
    true[8:14] = [50, 200, 400, 400, 200, 50]
    noisy = true + rng.normal(0, 40.0, 32)

    weights = np.array(decoding_weights(noisy, noise_std=40.0))

    share = weights / weights.sum()
    raw = np.clip(noisy, 0, None) / np.clip(noisy, 0, None).sum()
    assert share[8:14].sum() > 0.85
    assert 1 - share[8:14].sum() < 0.6 * (1 - raw[8:14].sum())  # clipped noise leaves twice as much in the tails
    assert np.all(weights > 0)  # tails thin out geometrically rather than stop
    assert decoding_weights(true, noise_std=0.0) == tuple(true)  # exact counts are used as they are
