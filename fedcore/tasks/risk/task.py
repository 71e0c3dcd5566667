"""``risk``: a binary or multi-class classifier (e.g. ``cens`` on ACTG 175, ``RiskLevel`` on healthcare).

Per-row cross-entropy, so DP-SGD's ghost clipping applies. Federated evaluation releases, per
hospital: per-class histograms of predicted scores (AUC, calibration), the confusion matrix at the
decision rule (argmax), and a confusion matrix per group of each sensitive attribute (accuracy, F1,
demographic parity and equalized odds differences with fairlearn's definitions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.tasks.metrics.counting import classification_counts, classification_sensitivity
from fedcore.tasks.metrics.from_counts import (
    accuracy_from_confusion, auc_from_scores, calibration_from_scores, f1_from_confusion,
    fairness_from_group_confusion,
)
from fedcore.tasks.predictive.encoder import PredictiveEncoder, drop_missing_group
from fedcore.tasks.predictive.task import PredictiveTask


def softmax(logits: np.ndarray) -> np.ndarray:  # (N, K) -> (N, K)
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


class RiskTask(PredictiveTask):
    name = "risk"
    fairness_measure = "equalized_odds_difference"
    primary_metric = "auc"
    per_hospital_metrics = ("auc", "accuracy", "f1")

    def criterion(self, reduction: str):
        from fedcore.tasks.predictive.losses import ClassificationLoss

        return ClassificationLoss(reduction)

    def targets(self, encoder: PredictiveEncoder, frame: pd.DataFrame) -> np.ndarray:
        labels = np.full(len(frame), -1.0, dtype=np.float32)
        known = frame[encoder.labels.target].notna().to_numpy()
        labels[known] = encoder.class_index(frame[known])
        return labels[:, None]  # (N, 1)

    def count_shapes(self, encoder: PredictiveEncoder, config) -> dict[str, tuple[int, ...]]:
        k, bins = len(encoder.labels.classes), config.task.evaluation.score_bins
        shapes = {"scores": (k, 2, bins), "confusion": (k, k)}
        for name, categories in encoder.sensitive.items():
            shapes[f"group_confusion/{name}"] = (len(categories), k, k)
        return shapes

    def exact_counts(self, encoder, outputs, frame, config):
        groups = encoder.group_index(frame)
        sizes = {name: len(categories) + 1 for name, categories in encoder.sensitive.items()}
        counts = drop_missing_group(classification_counts(softmax(outputs), encoder.class_index(frame), groups,
                                                          sizes, config.task.evaluation.score_bins))
        # each validation row adds one to K score histograms, the confusion matrix and one group
        # confusion matrix per attribute: L2 sensitivity sqrt(K + 1 + A) (add or remove one row)
        return counts, classification_sensitivity(len(encoder.labels.classes), len(encoder.sensitive))

    def metrics_from_counts(self, encoder: PredictiveEncoder, counts: dict[str, np.ndarray]) -> dict:
        positive, binary = encoder.labels.positive, len(encoder.labels.classes) == 2
        names = encoder.group_names()
        return {
            "auc": auc_from_scores(counts["scores"]),
            "accuracy": accuracy_from_confusion(counts["confusion"]),
            "f1": f1_from_confusion(counts["confusion"], positive if binary else None),
            "calibration": calibration_from_scores(counts["scores"], positive),
            "rows": float(max(np.clip(counts["confusion"], 0, None).sum(), 0.0)),  # noisy
            "fairness": {name: fairness_from_group_confusion(counts[f"group_confusion/{name}"], positive, names[name])
                         for name in encoder.sensitive},
        }

    def predictions(self, encoder, outputs, times=None) -> pd.DataFrame:
        if times:
            raise ValueError("--times is for survival models; a risk model gives class probabilities")
        probabilities = softmax(outputs)
        return pd.DataFrame({f"p_{c}": probabilities[:, i] for i, c in enumerate(encoder.labels.classes)})
