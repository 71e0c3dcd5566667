"""``survival``: time to event with the discrete-time logistic hazard model (a sum over rows, so DP-SGD applies).

The network gives one hazard logit per time interval (cut points from the setup round's noisy
histogram of the time column). S(t) = prod_j (1 - h_j) over the intervals ended by t, linearly
interpolated between cut points. A row's risk score is minus its restricted mean survival time
over the grid. Federated evaluation releases concordant, discordant and tied pair counts of the
validation rows, overall and within each group of each sensitive attribute (C-index).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fedcore.tasks.metrics.counting import survival_counts, survival_sensitivity
from fedcore.tasks.metrics.from_counts import c_index_from_pairs
from fedcore.tasks.predictive.encoder import PredictiveEncoder, drop_missing_group
from fedcore.tasks.predictive.task import PredictiveTask


def survival_curves(outputs: np.ndarray) -> np.ndarray:
    """(N, T) hazard logits -> (N, T) survival at the end of each interval."""
    hazard = 1.0 / (1.0 + np.exp(-outputs))
    return np.cumprod(1.0 - hazard, axis=1)


def survival_at(encoder: PredictiveEncoder, curves: np.ndarray, times) -> np.ndarray:
    """(N, len(times)) survival probabilities, linear between the grid's points (S = 1 at time 0; times are
    durations from 0, and past the last cut point S stays at its last value)."""
    grid = np.concatenate([[0.0], encoder.labels.cuts])  # (T + 1,)
    full = np.concatenate([np.ones((len(curves), 1)), curves], axis=1)  # (N, T + 1)
    return np.stack([np.interp(np.asarray(times, dtype=float), grid, row) for row in full]) if len(full) else \
        np.zeros((0, len(times)))


def risk_scores(encoder: PredictiveEncoder, curves: np.ndarray) -> np.ndarray:
    """(N,) minus the restricted mean survival time over the grid (trapezoids): higher = earlier event."""
    grid = np.concatenate([[0.0], encoder.labels.cuts])
    full = np.concatenate([np.ones((len(curves), 1)), curves], axis=1)
    return -np.sum((full[:, 1:] + full[:, :-1]) / 2 * np.diff(grid)[None, :], axis=1)


class SurvivalTask(PredictiveTask):
    name = "survival"
    fairness_measure = "c_index_difference"
    primary_metric = "c_index"
    per_hospital_metrics = ("c_index",)

    def criterion(self, reduction: str):
        from fedcore.tasks.predictive.losses import LogisticHazardLoss

        return LogisticHazardLoss(reduction)

    def targets(self, encoder: PredictiveEncoder, frame: pd.DataFrame) -> np.ndarray:
        out = np.full((len(frame), 2), -1.0, dtype=np.float32)
        known = frame[[encoder.labels.time, encoder.labels.event]].notna().all(axis=1).to_numpy()
        _, event, interval = encoder.survival_labels(frame[known])
        out[known, 0], out[known, 1] = interval, event
        return out  # (N, 2): interval, event

    def count_shapes(self, encoder: PredictiveEncoder, config) -> dict[str, tuple[int, ...]]:
        shapes = {"pairs": (3,)}
        for name, categories in encoder.sensitive.items():
            shapes[f"group_pairs/{name}"] = (len(categories), 3)
        return shapes

    def exact_counts(self, encoder, outputs, frame, config):
        time, event, _ = encoder.survival_labels(frame)
        sizes = {name: len(categories) + 1 for name, categories in encoder.sensitive.items()}
        counts = drop_missing_group(survival_counts(risk_scores(encoder, survival_curves(outputs)), time, event,
                                                    encoder.group_index(frame), sizes))
        # one row is in at most max_validation_rows - 1 comparable pairs of each set (overall and its
        # group of each attribute), each adding one to one cell: L2 sensitivity sqrt(1 + A) (n_max - 1),
        # with n_max the public cap on validation rows (``task.evaluation.max_validation_rows``)
        return counts, survival_sensitivity(config.task.evaluation.max_validation_rows, len(encoder.sensitive))

    def metrics_from_counts(self, encoder: PredictiveEncoder, counts: dict[str, np.ndarray]) -> dict:
        names = encoder.group_names()
        fairness = {}
        for name in encoder.sensitive:
            groups = {group: c_index_from_pairs(pairs) for group, pairs in zip(names[name], counts[f"group_pairs/{name}"])}
            defined = [v for v in groups.values() if v is not None]
            fairness[name] = {
                "groups": {group: {"c_index": value} for group, value in groups.items()},
                "c_index_difference": (max(defined) - min(defined)) if len(defined) > 1 else None,
                # fairlearn's parity definitions are about a classifier's decisions; a survival model makes none
                "demographic_parity_difference": None,
                "equalized_odds_difference": None,
            }
        return {"c_index": c_index_from_pairs(counts["pairs"]),
                "pairs": float(np.clip(counts["pairs"], 0, None).sum()), "fairness": fairness}

    def predictions(self, encoder, outputs, times=None) -> pd.DataFrame:
        grid = list(times) if times else list(encoder.labels.cuts)
        values = survival_at(encoder, survival_curves(outputs), grid)
        return pd.DataFrame({f"s_{_label(t)}": values[:, i] for i, t in enumerate(grid)})


def _label(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:g}"
