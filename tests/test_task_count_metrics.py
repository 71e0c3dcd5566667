"""Count-based evaluation metrics: equal to sklearn, fairlearn and lifelines on exact counts, with the
sensitivity each row can move them by, and clipped or None on noisy counts."""

import numpy as np
import pytest
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference
from lifelines.utils import concordance_index
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from fedcore.tasks.metrics.counting import (
    PAIR_BLOCK,
    classification_counts,
    classification_sensitivity,
    concordance_counts,
    score_bin,
    survival_counts,
    survival_sensitivity,
)
from fedcore.tasks.metrics.from_counts import (
    accuracy_from_confusion,
    auc_from_scores,
    c_index_from_pairs,
    calibration_from_scores,
    f1_from_confusion,
    fairness_from_group_confusion,
    spread,
)

BINS = 10
SEEDS = [0, 1, 2]


def predictions(seed: int, n: int, k: int, group_size: int = 3):
    """Probabilities that lean towards the label (so metrics are not all 0.5), labels and one group index."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, labels, {"site": rng.integers(0, group_size, n)}, {"site": group_size}


def survival_rows(seed: int, n: int):
    rng = np.random.default_rng(seed)
    risk = np.round(rng.normal(size=n), 1)  # rounded: ties in risk occur
    time = rng.permutation(n).astype(float) + rng.random(n) * 0.5  # distinct times
    event = rng.random(n) < 0.6
    return risk, time, event


def test_score_bin_clips_and_puts_one_in_the_last_bin():
    assert score_bin(np.array([-0.5, 0.0, 0.099, 0.1, 0.55, 1.0, 1.7]), 10).tolist() == [0, 0, 0, 1, 5, 9, 9]


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_auc_equals_sklearn_on_quantised_scores(seed):
    # Arrange
    probs, labels, groups, sizes = predictions(seed, 400, 2)

    # Act
    auc = auc_from_scores(classification_counts(probs, labels, groups, sizes, BINS)["scores"])

    # Assert
    assert auc == pytest.approx(roc_auc_score(labels, score_bin(probs[:, 1], BINS)), abs=1e-12)
    assert 0.6 < auc < 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_three_class_auc_equals_sklearn_macro_one_vs_rest_on_quantised_scores(seed):
    # Arrange
    probs, labels, groups, sizes = predictions(seed, 400, 3)
    quantised = score_bin(probs, BINS)  # (N, K): rows no longer sum to 1, which multi_class="ovr" refuses
    one_hot = np.eye(3)[labels]

    # Act
    auc = auc_from_scores(classification_counts(probs, labels, groups, sizes, BINS)["scores"])

    # Assert: the indicator form is the one-vs-rest macro average that multi_class="ovr" computes
    assert auc == pytest.approx(roc_auc_score(one_hot, quantised, average="macro"), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_and_f1_equal_sklearn(seed):
    # Arrange
    probs2, labels2, groups, sizes = predictions(seed, 300, 2)
    probs3, labels3, _, _ = predictions(seed + 10, 300, 3)

    # Act
    conf2 = classification_counts(probs2, labels2, groups, sizes, BINS)["confusion"]
    conf3 = classification_counts(probs3, labels3, groups, sizes, BINS)["confusion"]

    # Assert
    assert accuracy_from_confusion(conf3) == pytest.approx(accuracy_score(labels3, probs3.argmax(1)))
    assert f1_from_confusion(conf2, 1) == pytest.approx(f1_score(labels2, probs2.argmax(1)))
    assert f1_from_confusion(conf2, 0) == pytest.approx(f1_score(labels2, probs2.argmax(1), pos_label=0))
    assert f1_from_confusion(conf3, None) == pytest.approx(f1_score(labels3, probs3.argmax(1), average="macro"))


def test_macro_f1_skips_a_class_neither_true_nor_predicted_like_sklearn():
    # Arrange: four classes, class 3 never occurs and is never predicted
    labels = np.array([0, 0, 1, 1, 2, 2, 0])
    predicted = np.array([0, 1, 1, 1, 2, 0, 0])
    probs = np.eye(4)[predicted] * 0.7 + 0.075

    # Act
    conf = classification_counts(probs, labels, {}, {}, BINS)["confusion"]

    # Assert
    assert f1_from_confusion(conf, None) == pytest.approx(f1_score(labels, predicted, average="macro"))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k, positive", [(2, 1), (3, 2)])
def test_fairness_differences_equal_fairlearn_on_the_binarised_label(seed, k, positive):
    # Arrange
    probs, labels, groups, sizes = predictions(seed, 600, k, group_size=4)
    predicted = probs.argmax(1)
    y_true, y_pred = (labels == positive).astype(int), (predicted == positive).astype(int)

    # Act
    counts = classification_counts(probs, labels, groups, sizes, BINS)
    fairness = fairness_from_group_confusion(counts["group_confusion/site"], positive, ["a", "b", "c", "d"])

    # Assert
    site = groups["site"]
    assert fairness["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=site))
    assert fairness["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(y_true, y_pred, sensitive_features=site))
    assert fairness["groups"]["b"]["count"] == np.sum(site == 1)
    assert fairness["groups"]["b"]["accuracy"] == pytest.approx(accuracy_score(labels[site == 1], predicted[site == 1]))


@pytest.mark.parametrize("seed", SEEDS)
def test_c_index_equals_lifelines_with_distinct_times(seed):
    # Arrange: more rows than one block, so the blocked pair count is exercised across blocks
    risk, time, event = survival_rows(seed, PAIR_BLOCK * 2 + 37)

    # Act
    pairs = concordance_counts(risk, time, event)

    # Assert
    assert pairs[2] > 0  # ties in risk occur and count 1/2
    assert c_index_from_pairs(pairs) == pytest.approx(concordance_index(time, -risk, event), abs=1e-12)


def test_group_pairs_count_only_pairs_within_one_group():
    # Arrange
    risk, time, event = survival_rows(5, 300)
    site = np.random.default_rng(6).integers(0, 3, 300)

    # Act
    counts = survival_counts(risk, time, event, {"site": site}, {"site": 3})

    # Assert
    assert np.array_equal(counts["pairs"], concordance_counts(risk, time, event))
    for g in range(3):
        rows = site == g
        assert np.array_equal(counts["group_pairs/site"][g], concordance_counts(risk[rows], time[rows], event[rows]))


@pytest.mark.parametrize("seed", SEEDS)
def test_one_row_moves_classification_counts_by_exactly_the_sensitivity(seed):
    # Arrange
    probs, labels, _, _ = predictions(seed, 50, 3)
    rng = np.random.default_rng(seed + 100)
    groups = {"site": rng.integers(0, 3, 50), "sex": rng.integers(0, 2, 50)}
    sizes = {"site": 3, "sex": 2}
    before = classification_counts(probs[:-1], labels[:-1], {a: g[:-1] for a, g in groups.items()}, sizes, BINS)

    # Act
    after = classification_counts(probs, labels, groups, sizes, BINS)

    # Assert
    change = np.sqrt(sum(np.sum((after[key] - before[key]) ** 2) for key in after))
    assert change == pytest.approx(classification_sensitivity(3, 2), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_one_row_moves_survival_counts_by_at_most_the_sensitivity(seed):
    # Arrange
    risk, time, event = survival_rows(seed, 60)
    groups = {"site": np.random.default_rng(seed).integers(0, 2, 60)}

    def counts(rows):
        return survival_counts(risk[rows], time[rows], event[rows], {"site": groups["site"][rows]}, {"site": 2})

    # Act
    for removed in range(0, 60, 7):
        before, after = counts(np.arange(60) != removed), counts(np.arange(60))
        change = np.sqrt(sum(np.sum((after[key] - before[key]) ** 2) for key in after))

        # Assert
        assert change <= survival_sensitivity(60, 1)


def test_survival_sensitivity_is_reached_by_the_first_failure_with_the_highest_risk():
    # Arrange: everyone in one group; the added row fails first and has the highest risk, so it is
    # concordant with every other row, in the overall pairs and in each attribute's group
    n = 40
    risk, time, event = np.linspace(0, 1, n), np.arange(1.0, n + 1), np.zeros(n, bool)
    groups, sizes = {"site": np.zeros(n, int), "sex": np.zeros(n, int)}, {"site": 1, "sex": 1}
    before = survival_counts(risk[1:], time[1:], event[1:], {a: g[1:] for a, g in groups.items()}, sizes)
    risk[0], event[0] = 2.0, True

    # Act
    after = survival_counts(risk, time, event, groups, sizes)

    # Assert
    change = np.sqrt(sum(np.sum((after[key] - before[key]) ** 2) for key in after))
    assert change == pytest.approx(survival_sensitivity(n, 2), abs=1e-12)


def test_noisy_negative_counts_are_clipped_before_the_metric():
    # Arrange
    conf = np.array([[5.0, -2.0], [-1.5, 3.0]])  # (K, K)
    scores = np.zeros((2, 2, 2))  # (K, 2, B)
    scores[1, 0] = [4.0, -3.0]  # negatives all in the low bin once clipped
    scores[1, 1] = [-1.0, 2.0]  # positives all in the high bin once clipped

    # Act / Assert
    assert accuracy_from_confusion(conf) == 1.0
    assert f1_from_confusion(conf, 1) == 1.0
    assert auc_from_scores(scores) == 1.0
    assert c_index_from_pairs(np.array([3.0, -2.0, 1.0])) == pytest.approx(3.5 / 4.0)
    assert calibration_from_scores(scores, 1)[1]["count"] == 2.0


def test_tiny_denominators_give_none():
    # Arrange
    tiny_conf = np.array([[0.4, -1.0], [0.3, 0.2]])  # (K, K): 0.9 rows after clipping
    scores = np.zeros((3, 2, 4))  # (K, 2, B)
    scores[:, :, 0] = 5.0
    scores[2, 1] = 0.2  # class 2 has no positives to speak of

    group_conf = np.stack([np.array([[10.0, 2.0], [3.0, 5.0]]), tiny_conf])  # (G, K, K)

    # Act
    fairness = fairness_from_group_confusion(group_conf, 1, ["big", "tiny"])

    # Assert
    assert accuracy_from_confusion(tiny_conf) is None
    assert f1_from_confusion(np.zeros((3, 3)), None) is None
    assert auc_from_scores(scores) is None
    assert c_index_from_pairs(np.array([0.3, -2.0, 0.1])) is None
    assert calibration_from_scores(scores, 2)[3]["observed"] is None
    assert fairness["groups"]["tiny"]["selection_rate"] is None
    assert fairness["demographic_parity_difference"] == 0.0  # one group with a defined rate
    assert fairness["equalized_odds_difference"] == 0.0


def test_calibration_reports_the_bin_edges_and_observed_share():
    # Arrange
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2]])
    labels = np.array([0, 1, 0, 1])

    # Act
    table = calibration_from_scores(classification_counts(probs, labels, {}, {}, 4)["scores"], 1)

    # Assert
    assert [row["count"] for row in table] == [2.0, 0.0, 1.0, 1.0]
    assert table[0] == {"bin_low": 0.0, "bin_high": 0.25, "mean_predicted": 0.125, "observed": 0.5, "count": 2.0}
    assert table[1]["observed"] is None and table[2]["observed"] == 0.0 and table[3]["observed"] == 1.0


def test_spread_ignores_none_but_lists_it():
    # Act
    summary = spread({"a": 0.7, "b": None, "c": 0.9})
    empty = spread({"a": None})

    # Assert
    assert summary["min"] == 0.7 and summary["max"] == 0.9
    assert summary["range"] == pytest.approx(0.2) and summary["std"] == pytest.approx(0.1)
    assert summary["per_hospital"] == {"a": 0.7, "b": None, "c": 0.9}
    assert empty == {"min": None, "max": None, "range": None, "std": None, "per_hospital": {"a": None}}
