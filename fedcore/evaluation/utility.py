"""Machine-learning utility: train on synthetic, test on real (TSTR) against real-on-real (TRTR).

The same gradient-boosted model is fitted once on the synthetic table and once on the real
training table, and both are scored on the same real held-out rows (Esteban et al. 2017,
"Real-valued (medical) time series generation with recurrent conditional GANs", sec. 4).
Categorical target: ROC AUC (binary) or macro one-vs-rest ROC AUC (multiclass), so chance is
0.5 for any number of classes and a constant predictor scores exactly 0.5; numeric target: R^2.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score, roc_auc_score
from threadpoolctl import threadpool_limits

from fedcore.evaluation.columns import category_codes, require_columns
from fedcore.schema import CategoricalColumn, Column, Schema

logger = logging.getLogger(__name__)

CHANCE_AUC = 0.5  # AUC of a constant score
MAX_NATIVE_CATEGORIES = 255  # HistGradientBoosting's limit for native categorical splits
# One OpenMP thread: on ACTG175-sized tables (2139 rows) a fit took 0.24 s on 1 thread vs
# 0.34 s on 2, and on a busy 2-core machine OpenMP spin-waiting made 2-thread fits >10x slower.
MODEL_THREADS = 1


def _features(frame: pd.DataFrame, schema: Schema, target: str) -> np.ndarray:
    """Feature matrix: numerics as float, categoricals as schema codes; NaN for missing/unknown."""
    columns = []
    for column in schema.columns:
        if column.name == target:
            continue
        values = frame[column.name]
        if isinstance(column, CategoricalColumn):
            codes = category_codes(values, column).astype(float)
            codes[codes < 0] = np.nan
            columns.append(codes)
        else:
            columns.append(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 0))  # (N, F)


def _categorical_mask(schema: Schema, target: str) -> np.ndarray:
    return np.array([
        isinstance(c, CategoricalColumn) and len(c.categories) <= MAX_NATIVE_CATEGORIES
        for c in schema.columns if c.name != target
    ], dtype=bool)


def _target(frame: pd.DataFrame, schema: Schema, target: str) -> np.ndarray:
    """Target as class codes (categorical) or floats (numeric); NaN where missing or unknown."""
    column = schema.column(target)
    if isinstance(column, CategoricalColumn):
        codes = category_codes(frame[target], column).astype(float)
        codes[codes < 0] = np.nan
        return codes
    return pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)


def macro_ovr_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean over classes of the one-vs-rest ROC AUC of ``proba[:, k]``; equals plain AUC for 2 classes.

    Classes absent from ``y_true`` are skipped (their AUC is undefined); NaN if none remain.
    """
    aucs = []
    for k in range(proba.shape[1]):
        positive = y_true == k
        if positive.any() and not positive.all():
            aucs.append(roc_auc_score(positive, proba[:, k]))
    return float(np.mean(aucs)) if aucs else float("nan")


def _classification_score(
    x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    n_classes: int, mask: np.ndarray, random_state: int, role: str, notes: list[str],
) -> float:
    classes = np.unique(y_fit).astype(int)
    if len(classes) < 2:
        notes.append(f"{role} data holds fewer than two target classes; scored as a constant (AUC 0.5)")
        return CHANCE_AUC
    model = HistGradientBoostingClassifier(categorical_features=mask, random_state=random_state)
    model.fit(x_fit, y_fit.astype(int))
    proba = np.zeros((len(x_test), n_classes))  # (N, K): classes unseen in training keep 0
    proba[:, classes] = model.predict_proba(x_test)
    return macro_ovr_auc(y_test, proba)


def _regression_score(
    x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
    mask: np.ndarray, random_state: int,
) -> float:
    model = HistGradientBoostingRegressor(categorical_features=mask, random_state=random_state)
    model.fit(x_fit, y_fit)
    return float(r2_score(y_test, model.predict(x_test)))


def _tstr_and_trtr(
    data: dict, column: Column, mask: np.ndarray, random_state: int, notes: list[str]
) -> dict[str, float]:
    """Fit on the synthetic rows and on the real training rows; score both on the real test rows."""
    x_test, y_test = data["real test"]
    scores = {}
    for name, role in (("tstr", "synthetic"), ("trtr", "real training")):
        x_fit, y_fit = data[role]
        if isinstance(column, CategoricalColumn):
            scores[name] = _classification_score(
                x_fit, y_fit, x_test, y_test, len(column.categories), mask, random_state, role, notes
            )
        elif len(y_fit) == 0:
            notes.append(f"{role} data has no rows with a known target; {name} is undefined")
            scores[name] = float("nan")
        else:
            scores[name] = _regression_score(x_fit, y_fit, x_test, y_test, mask, random_state)
    return scores


def utility_scores(
    real_train: pd.DataFrame,
    real_test: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    target: str,
    seed: int | np.random.Generator,
) -> dict:
    """TSTR and TRTR scores on ``real_test`` for predicting ``target``, and their ratio.

    Rows whose target is missing are dropped from every frame. ``ratio`` is None when TRTR
    is not positive (the real baseline has no skill to compare against).
    """
    for frame, role in ((real_train, "real training"), (real_test, "real test"), (synthetic, "synthetic")):
        require_columns(frame, schema, role)
    if target not in schema.names:
        raise ValueError(f"target {target!r} is not a schema column; columns are {schema.names}")
    column = schema.column(target)
    classification = isinstance(column, CategoricalColumn)
    random_state = int(np.random.default_rng(seed).integers(2**31 - 1))
    mask = _categorical_mask(schema, target)
    notes: list[str] = []

    data = {}
    for role, frame in (("real training", real_train), ("real test", real_test), ("synthetic", synthetic)):
        y = _target(frame, schema, target)
        keep = ~np.isnan(y)
        if not keep.all():
            logger.info("utility: dropping %d %s row(s) with no target", int((~keep).sum()), role)
        data[role] = (_features(frame, schema, target)[keep], y[keep])
        if not keep.any() and role != "synthetic":
            raise ValueError(f"the {role} table has no rows with a known {target!r}")
    with threadpool_limits(limits=MODEL_THREADS, user_api="openmp"):
        scores = _tstr_and_trtr(data, column, mask, random_state, notes)
    if classification and np.isnan(scores["trtr"]):
        notes.append("the real test rows hold a single target class; AUC is undefined")

    tstr, trtr = scores["tstr"], scores["trtr"]
    ratio = tstr / trtr if trtr > 0 and not np.isnan(tstr) else None
    if classification:
        metric = "roc_auc" if len(column.categories) == 2 else "roc_auc_ovr_macro"
    else:
        metric = "r2"
    result = {
        "target": target,
        "metric": metric,
        "tstr": None if np.isnan(tstr) else tstr,
        "trtr": None if np.isnan(trtr) else trtr,
        "ratio": ratio,
        "rows": {"real_train": len(data["real training"][1]), "real_test": len(data["real test"][1]),
                 "synthetic": len(data["synthetic"][1])},
        "warnings": notes,
    }
    for note in notes:
        logger.warning("utility: %s", note)
    logger.info("utility (%s): TSTR %s, TRTR %s", metric, result["tstr"], result["trtr"])
    return result
