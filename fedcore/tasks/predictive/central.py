"""Central references for a predictive run, on the same pooled rows the hospitals hold.

- ``central_same_model``: the same network trained on the pooled rows without DP, as many epochs as
  the federated run's rounds x local epochs;
- ``central_dp_same_model``: the same with central DP-SGD (Opacus), noise planned for the run's
  target epsilon over all its steps (one data holder, so no setup or evaluation releases);
- ``central_sklearn`` (risk): scikit-learn's logistic regression; ``central_coxph`` (survival):
  lifelines' Cox proportional hazards model.
All use the federated run's encoder (built from its DP setup statistics), so they differ only in
how the model is fitted. Scored exactly on the holdout (``fedcore.tasks.predictive.scoring``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from fedcore.federation.privacy_plan import batch_schedule
from fedcore.privacy.planner import plan_noise_multiplier
from fedcore.tasks.predictive.encoder import PredictiveEncoder
from fedcore.tasks.predictive.scoring import score_risk, score_survival


def central_references(task, encoder: PredictiveEncoder, config, train: pd.DataFrame, holdout: pd.DataFrame,
                       seed: int, dp: bool = True) -> dict:
    """The references beside a federated run (``dp`` False: leave out central DP-SGD, which costs
    ResNet-18 on CPU several minutes; the image task's ``simulate`` does, ``bench tasks`` does not)."""
    train, holdout = encoder.labelled(train), encoder.labelled(holdout)
    references = {"central_same_model": _score(task, encoder, _fit(task, encoder, config, train, None, seed),
                                               config, train, holdout)}
    if config.privacy.enabled and dp:
        references["central_dp_same_model"] = _score(task, encoder, _fit(task, encoder, config, train, "dp", seed),
                                                     config, train, holdout)
    if task.name == "risk":
        references["central_sklearn"] = _logistic_regression(encoder, train, holdout)
    elif task.name == "survival":
        references["central_coxph"] = _cox_ph(encoder, train, holdout)
    return references


def _fit(task, encoder, config, train, dp_mode, seed):
    from fedcore.tasks.predictive.training import train_predictor
    from fedcore.training.config import DPConfig

    batch, sample_rate, steps = batch_schedule(config, len(train))
    train_config = replace(config.train_config(), batch_size=batch, epochs=config.training.epochs * config.rounds)
    dp = None
    if dp_mode:
        privacy = config.privacy
        sigma = plan_noise_multiplier(target_epsilon=privacy.target_epsilon, sample_rate=sample_rate,
                                      steps=steps * config.rounds, delta=privacy.delta, accountant=privacy.accountant)
        dp = DPConfig(noise_multiplier=sigma, max_grad_norm=privacy.max_grad_norm)
    result = train_predictor(task.network(encoder, config), task.initial_weights(encoder, config),
                             encoder.features(train), task.targets(encoder, train), task.criterion("mean"),
                             train_config, dp, seed)
    return result.weights


def _score(task, encoder, weights, config, train, holdout) -> dict:
    outputs = task.outputs(task.network(encoder, config), weights, encoder.features(holdout))
    return score_outputs(task, encoder, outputs, train, holdout)


def score_outputs(task, encoder: PredictiveEncoder, outputs: np.ndarray, train: pd.DataFrame,
                  holdout: pd.DataFrame) -> dict:
    """Exact holdout scores of a network's outputs for ``holdout`` (labelled rows)."""
    if task.name in ("risk", "image"):
        from fedcore.tasks.risk.task import softmax

        scores = score_risk(encoder, softmax(outputs), holdout)
        if task.name == "image":
            from sklearn.metrics import log_loss

            scores["loss"] = float(log_loss(encoder.class_index(holdout), softmax(outputs),
                                            labels=list(range(len(encoder.labels.classes)))))
            scores.pop("fairness", None)
        return scores
    from fedcore.tasks.survival.task import risk_scores, survival_at, survival_curves

    curves = survival_curves(outputs)
    return score_survival(encoder, risk_scores(encoder, curves), lambda times: survival_at(encoder, curves, times),
                          holdout, train)


def _logistic_regression(encoder, train, holdout) -> dict:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=2000).fit(encoder.features(train), encoder.class_index(train))
    return score_risk(encoder, model.predict_proba(encoder.features(holdout)), holdout)


def _cox_ph(encoder, train, holdout) -> dict:
    from lifelines import CoxPHFitter

    def table(frame):
        x = encoder.features(frame)
        keep = np.std(encoder.features(train), axis=0) > 0  # constant one-hot columns make Cox singular
        data = pd.DataFrame(x[:, keep], columns=[f"x{i}" for i in range(int(keep.sum()))])
        time, event, _ = encoder.survival_labels(frame)
        return data.assign(_time=time, _event=event.astype(int))

    fitter = CoxPHFitter(penalizer=0.1).fit(table(train), duration_col="_time", event_col="_event")
    test = table(holdout).drop(columns=["_time", "_event"])
    risk = np.asarray(fitter.predict_partial_hazard(test), dtype=float)

    def survival_at_times(times):
        return fitter.predict_survival_function(test, times=times).to_numpy().T  # (N, len(times))

    return score_survival(encoder, risk, survival_at_times, holdout, train)
