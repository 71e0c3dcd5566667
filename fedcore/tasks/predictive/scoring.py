"""Exact scores of a predictive model on rows that are available (a central holdout, pooled references).

Maintained implementations do the scoring: scikit-learn (AUC, accuracy, F1, calibration), lifelines
(concordance index), scikit-survival (integrated Brier score) and fairlearn (fairness). Used by
``simulate`` and ``bench tasks``, never by a hub or spoke step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.tasks.predictive.encoder import PredictiveEncoder


def score_risk(encoder: PredictiveEncoder, probabilities: np.ndarray, frame: pd.DataFrame) -> dict:
    """AUC (one-vs-rest macro for multi-class), accuracy, F1, calibration curve and fairness on labelled rows."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y = encoder.class_index(frame)
    k, positive = len(encoder.labels.classes), encoder.labels.positive
    predicted = probabilities.argmax(axis=1)
    if k == 2:
        auc = roc_auc_score(y, probabilities[:, 1])
        f1 = f1_score(y, predicted, pos_label=positive)
    else:
        auc = roc_auc_score(y, probabilities, multi_class="ovr", average="macro", labels=list(range(k)))
        f1 = f1_score(y, predicted, average="macro")
    observed, mean_predicted = calibration_curve(y == positive, probabilities[:, positive], n_bins=8,
                                                 strategy="uniform")
    return {"auc": float(auc), "accuracy": float(accuracy_score(y, predicted)), "f1": float(f1),
            "calibration": [{"mean_predicted": float(p), "observed": float(o)} for p, o in zip(mean_predicted, observed)],
            "fairness": fairness_fairlearn(encoder, frame, y == positive, predicted == positive)}


def fairness_fairlearn(encoder: PredictiveEncoder, frame: pd.DataFrame, truth: np.ndarray,
                       decision: np.ndarray) -> dict:
    from fairlearn.metrics import (
        MetricFrame, demographic_parity_difference, equalized_odds_difference, selection_rate,
    )
    from sklearn.metrics import accuracy_score

    report = {}
    for name in encoder.sensitive:
        groups = frame[name].astype(str).to_numpy()
        by_group = MetricFrame(metrics={"accuracy": accuracy_score, "selection_rate": selection_rate},
                               y_true=truth, y_pred=decision, sensitive_features=groups).by_group
        report[name] = {
            "groups": {str(g): {k: float(v) for k, v in row.items()} for g, row in by_group.iterrows()},
            "demographic_parity_difference": float(demographic_parity_difference(truth, decision,
                                                                                 sensitive_features=groups)),
            "equalized_odds_difference": float(equalized_odds_difference(truth, decision, sensitive_features=groups)),
        }
    return report


def score_survival(encoder: PredictiveEncoder, risk: np.ndarray, survival_at_times, frame: pd.DataFrame,
                   train: pd.DataFrame) -> dict:
    """C-index (lifelines) of ``risk`` (higher = earlier event) and the integrated Brier score (scikit-survival)
    of ``survival_at_times(times) -> (N, len(times))`` over the time grid inside the rows' follow-up."""
    from lifelines.utils import concordance_index
    from sksurv.metrics import integrated_brier_score
    from sksurv.util import Surv

    time, event, _ = encoder.survival_labels(frame)
    train_time, train_event, _ = encoder.survival_labels(train)
    times = [t for t in encoder.labels.cuts if time.min() < t < time.max() and t < train_time.max()]
    estimate = np.clip(survival_at_times(times), 0.0, 1.0)
    ibs = integrated_brier_score(Surv.from_arrays(train_event, train_time), Surv.from_arrays(event, time),
                                 estimate, times) if len(times) >= 2 else None
    return {"c_index": float(concordance_index(time, -risk, event)),
            "integrated_brier": None if ibs is None else float(ibs), "brier_times": [float(t) for t in times]}
