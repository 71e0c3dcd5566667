"""Metrics read off summed (possibly noisy) evaluation counts (see ``counting``).

Negative cells, which only noise makes, are clipped to 0 first. A metric whose denominator is below
``MIN_DENOMINATOR`` is None rather than a ratio of noise. On exact counts the metrics equal
sklearn's (roc_auc_score, accuracy_score, f1_score), fairlearn's (demographic parity and equalized
odds differences) and Harrell's C-index. Return values are JSON-friendly (floats, None, lists, dicts).
"""

from __future__ import annotations

import numpy as np

MIN_DENOMINATOR = 1.0  # below this many (noisy) rows or pairs, a ratio is noise: the metric is None


def _clipped(counts: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(counts, dtype=np.float64), 0.0)


def _ratio(numerator: float, denominator: float, floor: float) -> float | None:
    return None if denominator < floor else float(numerator / denominator)


def _binary_auc(positives: np.ndarray, negatives: np.ndarray, floor: float) -> float | None:
    """Mann-Whitney AUC of two score histograms over ordered bins; a tie within a bin counts 1/2."""
    n_pos, n_neg = positives.sum(), negatives.sum()
    if n_pos < floor or n_neg < floor:
        return None
    below = np.cumsum(negatives) - negatives  # (B,) negatives in strictly lower bins
    wins = float(np.sum(positives * (below + 0.5 * negatives)))
    return min(max(wins / (n_pos * n_neg), 0.0), 1.0)


def auc_from_scores(scores: np.ndarray, floor: float = MIN_DENOMINATOR) -> float | None:
    """ROC AUC from (K, 2, B) score histograms: class 1's when K == 2, else the macro one-vs-rest mean.

    Like sklearn, a multi-class AUC is undefined (None) when any class's one-vs-rest AUC is.
    """
    scores = _clipped(scores)  # (K, 2, B)
    if scores.ndim != 3 or scores.shape[1] != 2 or scores.shape[0] < 2:
        raise ValueError("scores must have shape (K, 2, B) with K >= 2")
    if scores.shape[0] == 2:
        return _binary_auc(scores[1, 1], scores[1, 0], floor)
    per_class = [_binary_auc(scores[k, 1], scores[k, 0], floor) for k in range(scores.shape[0])]
    return None if None in per_class else float(np.mean(per_class))


def calibration_from_scores(scores: np.ndarray, positive: int, floor: float = MIN_DENOMINATOR) -> list[dict]:
    """Reliability diagram of class ``positive``: per score bin, the share of rows that are that class."""
    scores = _clipped(scores)  # (K, 2, B)
    bins = scores.shape[2]
    table = []
    for b in range(bins):
        hits, total = scores[positive, 1, b], scores[positive, :, b].sum()
        table.append({
            "bin_low": b / bins,
            "bin_high": (b + 1) / bins,
            "mean_predicted": (b + 0.5) / bins,  # the bin centre: counts do not keep the scores
            "observed": _ratio(hits, total, floor),
            "count": float(total),
        })
    return table


def accuracy_from_confusion(conf: np.ndarray, floor: float = MIN_DENOMINATOR) -> float | None:
    """Share of rows on the diagonal of a (K, K) [true, predicted] confusion matrix."""
    conf = _clipped(conf)  # (K, K)
    return _ratio(np.trace(conf), conf.sum(), floor)


def _class_f1(conf: np.ndarray, k: int, floor: float) -> float | None:
    true_pos = conf[k, k]
    denominator = conf[k, :].sum() + conf[:, k].sum()  # 2 TP + FN + FP
    return _ratio(2 * true_pos, denominator, floor)


def f1_from_confusion(conf: np.ndarray, positive: int | None, floor: float = MIN_DENOMINATOR) -> float | None:
    """F1 of class ``positive``, or (positive None) the macro F1 over classes that are true or predicted.

    sklearn's macro averages over the labels present in y_true or y_pred, i.e. the classes whose
    2 TP + FN + FP is positive; on noisy counts a class counts when that sum reaches the floor.
    """
    conf = _clipped(conf)  # (K, K)
    if positive is not None:
        return _class_f1(conf, positive, floor)
    per_class = [f1 for k in range(conf.shape[0]) if (f1 := _class_f1(conf, k, floor)) is not None]
    return float(np.mean(per_class)) if per_class else None


def _difference(rates: list[float | None]) -> float | None:
    defined = [r for r in rates if r is not None]
    return float(max(defined) - min(defined)) if defined else None


def fairness_from_group_confusion(
    group_conf: np.ndarray,
    positive: int,
    group_names: list[str],
    floor: float = MIN_DENOMINATOR,
) -> dict:
    """Per-group rates and fairlearn's demographic parity and equalized odds (worst case) differences.

    ``positive`` is the positive label, every other class negative. A group whose denominator is below
    the floor has that rate None and is left out of the difference over groups; the equalized odds
    difference is the larger of the TPR and FPR differences that are defined.
    """
    group_conf = _clipped(group_conf)  # (G, K, K)
    if group_conf.ndim != 3 or len(group_names) != group_conf.shape[0]:
        raise ValueError("group_conf must have shape (G, K, K) with one name per group")
    groups = {}
    for name, conf in zip(group_names, group_conf):
        total = conf.sum()
        actual_pos = conf[positive, :].sum()
        predicted_pos = conf[:, positive].sum()
        true_pos = conf[positive, positive]
        groups[name] = {
            "count": float(total),
            "accuracy": _ratio(np.trace(conf), total, floor),
            "selection_rate": _ratio(predicted_pos, total, floor),
            "true_positive_rate": _ratio(true_pos, actual_pos, floor),
            "false_positive_rate": _ratio(predicted_pos - true_pos, total - actual_pos, floor),
        }
    tpr = _difference([g["true_positive_rate"] for g in groups.values()])
    fpr = _difference([g["false_positive_rate"] for g in groups.values()])
    odds = [d for d in (tpr, fpr) if d is not None]
    return {
        "groups": groups,
        "demographic_parity_difference": _difference([g["selection_rate"] for g in groups.values()]),
        "equalized_odds_difference": max(odds) if odds else None,
    }


def c_index_from_pairs(pairs: np.ndarray, floor: float = MIN_DENOMINATOR) -> float | None:
    """Harrell's C-index from [concordant, discordant, tied risk] pair counts; a tie counts 1/2."""
    concordant, discordant, tied = _clipped(pairs)  # (3,)
    return _ratio(concordant + 0.5 * tied, concordant + discordant + tied, floor)


def spread(values: dict[str, float | None]) -> dict:
    """Min, max, range and (population) std of a metric over hospitals; None entries are listed, not used."""
    defined = np.array([v for v in values.values() if v is not None], dtype=np.float64)
    if defined.size == 0:
        return {"min": None, "max": None, "range": None, "std": None, "per_hospital": dict(values)}
    return {
        "min": float(defined.min()),
        "max": float(defined.max()),
        "range": float(defined.max() - defined.min()),
        "std": float(defined.std()),
        "per_hospital": dict(values),
    }
