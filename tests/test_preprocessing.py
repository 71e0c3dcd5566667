import numpy as np
import pandas as pd
import pytest

from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.preprocessing.preprocessor import GlobalPreprocessor, build_preprocessor
from fedcore.preprocessing.table_stats import TableStats, compute_table_stats, merge_table_stats


@pytest.fixture(scope="module")
def actg():
    dataset = load_actg175()
    return dataset.frame, dataset.schema


def _merged(frame, schema, noise, seed=0):
    rng = np.random.default_rng(seed)
    parts = partition_dirichlet(frame, 3, "arms", seed=0)
    return merge_table_stats([compute_table_stats(p, schema, noise, rng) for p in parts])


def test_exact_stats_count_every_row_once_per_column(actg):
    frame, schema = actg
    stats = _merged(frame, schema, None)
    for column in schema.columns:
        assert stats.counts[column.name].sum() == len(frame)
    assert stats.counts["cd496"][-1] == 797
    assert stats.noise_std == 0


def test_dp_noise_has_the_gaussian_mechanism_scale(actg):
    frame, schema = actg
    exact = compute_table_stats(frame, schema, None, np.random.default_rng(0))
    noisy = compute_table_stats(frame, schema, 2.0, np.random.default_rng(0))
    diffs = np.concatenate([noisy.counts[n] - exact.counts[n] for n in exact.counts])
    expected = 2.0 * np.sqrt(len(schema.columns))  # sensitivity sqrt(columns)
    assert noisy.noise_std == pytest.approx(expected)
    assert np.std(diffs) == pytest.approx(expected, rel=0.2)


def test_merged_noise_adds_in_quadrature(actg):
    frame, schema = actg
    stats = _merged(frame, schema, 1.0)
    assert stats.noise_std == pytest.approx(np.sqrt(3) * np.sqrt(len(schema.columns)))


def test_round_trip_without_dp_is_exact_and_restores_missing(actg):
    frame, schema = actg
    pre = build_preprocessor(schema, _merged(frame, schema, None))
    encoded = pre.transform(frame)
    assert encoded.num.shape == (len(frame), 9)
    assert encoded.cat.shape[1] == len(pre.layout.cat_cardinalities)
    back = pre.inverse_transform(encoded)
    assert list(back.columns) == schema.names
    numeric = [c.name for c in schema.numeric_columns]
    np.testing.assert_allclose(back[numeric].to_numpy(float), frame[numeric].to_numpy(float), atol=1e-6)
    assert (back["arms"] == frame["arms"]).all()
    assert back["cd496"].isna().sum() == 797
    assert pre.numeric_with_missing == ("cd496",)


def test_quantile_transform_is_roughly_normal_even_from_noisy_stats(actg):
    frame, schema = actg
    pre = build_preprocessor(schema, _merged(frame, schema, 4.0))
    z = pre.transform(frame).num
    assert np.all(np.isfinite(z))
    centre = np.median(z[:, [0, 1, 3, 4, 6, 7, 8]], axis=0)  # columns without a point mass
    assert np.all(np.abs(centre) < 0.6)


def test_inverse_clips_to_bounds_and_rounds_integers(actg):
    frame, schema = actg
    pre = build_preprocessor(schema, _merged(frame, schema, None))
    encoded = pre.transform(frame.head(5))
    wild = type(encoded)(num=encoded.num * 0 + 30.0, cat=encoded.cat)
    back = pre.inverse_transform(wild)
    assert back["age"].max() <= 90 and back["cd80"].max() <= 6500
    assert np.all(back["age"] == np.round(back["age"]))


def test_standard_transform_and_serialization(actg):
    frame, schema = actg
    pre = build_preprocessor(schema, _merged(frame, schema, None), numeric_transform="standard")
    clone = GlobalPreprocessor.from_dict(pre.to_dict())
    np.testing.assert_allclose(clone.transform(frame).num, pre.transform(frame).num)
    assert abs(float(np.mean(pre.transform(frame).num[:, 0]))) < 0.2


def test_stats_tensors_round_trip_and_validation(actg):
    frame, schema = actg
    stats = _merged(frame, schema, 1.0)
    again = TableStats.from_tensors(stats.to_tensors(), schema)
    assert again.counts.keys() == stats.counts.keys()
    broken = stats.to_tensors()
    broken["counts/age"] = broken["counts/age"][:3]
    with pytest.raises(ValueError, match="age"):
        TableStats.from_tensors(broken, schema)


def test_conditions_map_to_feature_indices_with_clear_errors(actg):
    frame, schema = actg
    pre = build_preprocessor(schema, _merged(frame, schema, None))
    indices = pre.conditions_to_indices({"arms": 2})
    position = [c.name for c in schema.categorical_columns].index("arms")
    assert indices == {position: 2}
    with pytest.raises(ValueError, match="not a category"):
        pre.conditions_to_indices({"arms": 9})
    with pytest.raises(ValueError, match="only categorical"):
        pre.conditions_to_indices({"age": 30})


def test_undeclared_missing_values_are_imputed_not_crashed_on(actg):
    frame, schema = actg
    pre = build_preprocessor(schema, _merged(frame.dropna(), schema, None))
    assert pre.numeric_with_missing == ()
    encoded = pre.transform(frame)
    assert np.all(np.isfinite(encoded.num))


def test_discrete_columns_decode_onto_their_values_robustly():
    from fedcore.datasets import load_healthcare
    from fedcore.preprocessing.encoded import EncodedTable

    dataset = load_healthcare()
    frame, schema = dataset.frame, dataset.schema
    pre = build_preprocessor(schema, compute_table_stats(frame, schema, 4.0, np.random.default_rng(0)))
    position = [c.name for c in schema.numeric_columns].index("CigarettesPerDay")
    encoded = pre.transform(frame)
    z_points = np.unique(encoded.num[:, position])
    # generation is never exact: each value must sit well inside its own stretch of z, not on an edge
    margin = 0.4 * np.diff(z_points).min()
    wild = EncodedTable(num=np.random.default_rng(2).normal(size=encoded.num.shape).astype(np.float32),
                        cat=encoded.cat)

    shifted = [pre.inverse_transform(EncodedTable(num=encoded.num + step, cat=encoded.cat))
               for step in (-margin, margin)]
    anywhere = pre.inverse_transform(wild)

    assert len(z_points) == 5
    for back in shifted:
        pd.testing.assert_series_equal(back["CigarettesPerDay"], frame["CigarettesPerDay"])
    assert set(anywhere["CigarettesPerDay"]) == {0, 5, 10, 20, 40}
    assert len(set(np.round(anywhere["Age"]))) > 20  # continuous columns are not snapped


@pytest.mark.parametrize("transform", ["quantile", "standard"])
def test_discrete_columns_round_trip_exactly_after_serialization(transform):
    from fedcore.datasets import load_healthcare

    dataset = load_healthcare()
    frame, schema = dataset.frame, dataset.schema
    pre = build_preprocessor(schema, compute_table_stats(frame, schema, 4.0, np.random.default_rng(0)), transform)
    clone = GlobalPreprocessor.from_dict(pre.to_dict())

    back = clone.inverse_transform(pre.transform(frame))

    pd.testing.assert_series_equal(back["CigarettesPerDay"], frame["CigarettesPerDay"])
