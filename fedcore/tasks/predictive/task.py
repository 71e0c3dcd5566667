"""What the predictive tasks share as round plans: DP-SGD rounds with federated evaluation.

Each round's job first scores the model it received on the hospital's validation split and
releases the counts with Gaussian noise (their L2 sensitivity is the subclass's
``count_sensitivity``, written next to the counting), then trains. The hub sums the noisy counts
into the round's validation metrics, per group of each sensitive attribute and per hospital, and
averages the weights with the run's strategy (FairFed reads each hospital's fairness gap from its
own noisy counts). Torch is imported only where a network trains or predicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fedcore.families.base import (
    AcceptedRelease, HubRound, ModelFamily, RoundResult, SpokeOutput, SpokePlan, SpokeRound, Tensors,
)
from fedcore.federation.privacy_plan import SpokePrivacyPlan, setup_record
from fedcore.tasks.metrics.from_counts import spread
from fedcore.tasks.predictive import plan
from fedcore.tasks.predictive.encoder import PredictiveEncoder, label_columns

EVAL = "eval/"  # names of evaluation counts in a release
AGGREGATOR = "aggregator/"  # the strategy's state inside the task's state
EARLY = "early_stopping/"  # the best validation metric so far and rounds since (the task's state)


class PredictiveTask(ModelFamily):
    """Shared by ``risk`` and ``survival``; a subclass names its loss, its counts and its metrics."""

    serves = "predict"
    primary_metric: ClassVar[str]  # the validation metric early stopping and model selection read (higher = better)
    fairness_measure: ClassVar[str]  # the per-attribute gap FairFed compares (e.g. equalized_odds_difference)
    per_hospital_metrics: ClassVar[tuple[str, ...]] = ()  # each hospital's metrics (from its own noisy counts)
    prediction_batch: ClassVar[int] = 4096  # rows per forward pass when scoring or predicting
    prediction_device: ClassVar[str] = "cpu"  # tiny MLPs score fastest on CPU; "auto" = CUDA when present

    # -- what a subclass defines -----------------------------------------------------------------
    def encoder_from_dict(self, data: dict):
        """The run's shared encoding from its published JSON (the tabular tasks' PredictiveEncoder)."""
        return PredictiveEncoder.from_dict(data)

    def criterion(self, reduction: str):
        raise NotImplementedError

    def targets(self, encoder: PredictiveEncoder, frame: pd.DataFrame) -> np.ndarray:
        """(N, L) float32 training targets; a row without its labels is marked so its loss is 0."""
        raise NotImplementedError

    def count_shapes(self, encoder: PredictiveEncoder, config) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    def exact_counts(self, encoder: PredictiveEncoder, outputs: np.ndarray, frame: pd.DataFrame,
                     config) -> tuple[dict[str, np.ndarray], float]:
        """The validation rows' exact counts and their L2 sensitivity (add or remove one row)."""
        raise NotImplementedError

    def metrics_from_counts(self, encoder: PredictiveEncoder, counts: dict[str, np.ndarray]) -> dict:
        raise NotImplementedError

    def predictions(self, encoder: PredictiveEncoder, outputs: np.ndarray, times: list[float] | None) -> pd.DataFrame:
        raise NotImplementedError

    def fairness_gap(self, validation: dict, local: dict) -> float | None:
        """FairFed's |F_global - F_k| on the first sensitive attribute's ``fairness_measure``, from the global
        and one hospital's validation metrics (both read off noisy counts); None when either is undefined."""
        for name, report in (validation.get("fairness") or {}).items():
            mine = (local.get("fairness") or {}).get(name, {}).get(self.fairness_measure)
            if report.get(self.fairness_measure) is None or mine is None:
                return None
            return abs(report[self.fairness_measure] - mine)
        return None

    # -- the round plan ------------------------------------------------------------------------------
    def round_kinds(self, config):
        return plan.round_kinds(config)

    def setup_mechanisms(self, config):
        return (setup_record(config),)

    def plan_spoke(self, config, rows: int) -> SpokePlan:
        return plan.plan_predictive_spoke(config, rows, self.setup_mechanisms(config))

    def check_schema(self, config, schema) -> None:
        label_columns(config.task, schema)

    def build_setup(self, config, schema, merged_stats):
        encoder = PredictiveEncoder.build(config.task, schema, merged_stats, config.numeric_transform)
        return encoder.to_dict(), self.initial_weights(encoder, config)

    def initial_weights(self, encoder: PredictiveEncoder, config) -> Tensors:
        from fedcore.tasks.predictive.network import initial_network_weights

        task = config.task
        return initial_network_weights(encoder.input_dim, task.hidden_dim, task.blocks, encoder.labels.outputs,
                                       config.seed)

    def network(self, encoder: PredictiveEncoder, description_or_config):
        from fedcore.tasks.predictive.network import build_network

        settings = _network_settings(description_or_config)
        return build_network(encoder.input_dim, settings["hidden_dim"], settings["blocks"], encoder.labels.outputs, 0)

    # -- a hospital's release -------------------------------------------------------------------------
    def release(self, spoke_round: SpokeRound) -> SpokeOutput:
        config, encoder = spoke_round.config, self.encoder_from_dict(spoke_round.encoder)
        mechanisms = spoke_round.plan.mechanisms(spoke_round.round) if spoke_round.private else ()
        training_rows, validation_rows = plan.validation_split(spoke_round.run_id, len(spoke_round.frame), config)
        payload: Tensors = {}
        if plan.evaluates(config, spoke_round.round):
            frame = encoder.labelled(spoke_round.frame.iloc[validation_rows])
            network = self.network(encoder, config)
            outputs = self.outputs(network, spoke_round.previous, encoder.features(frame))
            counts, sensitivity = self.exact_counts(encoder, outputs, frame, config)
            sigma = mechanisms[-1].noise_multiplier if spoke_round.private else 0.0
            for name, exact in counts.items():
                # Gaussian mechanism: noise std = noise multiplier x the counts' L2 sensitivity
                # (``exact_counts`` derives the sensitivity next to the counting)
                noise = spoke_round.rng.normal(0.0, sigma * sensitivity, size=exact.shape) if sigma else 0.0
                payload[f"{EVAL}{name}"] = np.asarray(exact + noise, dtype=np.float64)
        loss = None
        if plan.trains(config, spoke_round.round):
            result = self._train(spoke_round, encoder, spoke_round.frame.iloc[training_rows])
            payload.update(result.weights)
            loss = result.mean_loss
        return SpokeOutput(payload, loss)

    def _train(self, spoke_round: SpokeRound, encoder: PredictiveEncoder, frame: pd.DataFrame):
        from fedcore.tasks.predictive.training import train_predictor
        from fedcore.training.config import DPConfig

        config, schedule = spoke_round.config, SpokePrivacyPlan.from_dict(spoke_round.plan.training)
        if len(frame) != schedule.rows:
            raise ValueError(f"the plan trains on {schedule.rows} rows, the hospital has {len(frame)} after validation")
        dp = None
        if spoke_round.private:
            if schedule.round_record not in spoke_round.plan.mechanisms(spoke_round.round):
                raise ValueError("the plan charges no DP-SGD record for this training round; refusing it")
            dp = DPConfig(noise_multiplier=schedule.noise_multiplier, max_grad_norm=schedule.max_grad_norm)
        train_config = replace(config.train_config(), batch_size=schedule.batch_size)
        result = train_predictor(self.network(encoder, config), spoke_round.previous, encoder.features(frame),
                                 self.targets(encoder, frame), self.criterion("mean"), train_config, dp,
                                 spoke_round.seed)
        if dp is not None and (result.noise_multiplier, result.sample_rate, result.steps) != (
                schedule.noise_multiplier, schedule.sample_rate, schedule.steps_per_round):
            raise RuntimeError(f"DP-SGD spent (sigma {result.noise_multiplier}, q {result.sample_rate}, "
                               f"{result.steps} steps), not the planned {schedule.round_record}; refusing to release")
        return result

    # -- the hub ---------------------------------------------------------------------------------------
    def validate(self, hub_round: HubRound, payload: Tensors, plan_: SpokePlan) -> None:
        from fedcore.aggregation.validation import validate_update

        config = hub_round.config
        counts = {k[len(EVAL):]: v for k, v in payload.items() if k.startswith(EVAL)}
        weights = {k: v for k, v in payload.items() if not k.startswith(EVAL)}
        expected = self.count_shapes(self.encoder_from_dict(hub_round.encoder), config) \
            if plan.evaluates(config, hub_round.round) else {}
        if set(counts) != set(expected):
            raise ValueError(f"evaluation counts {sorted(counts)} are not the expected {sorted(expected)}")
        for name, shape in expected.items():
            value = counts[name]
            if not isinstance(value, np.ndarray) or value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(f"evaluation counts {name!r} must be finite, of shape {shape}")
        if plan.trains(config, hub_round.round):
            validate_update(hub_round.previous, weights)
        elif weights:
            raise ValueError(f"an evaluation-only round carries tensors {sorted(weights)[:5]}")

    def aggregate(self, hub_round: HubRound, releases: Iterable[AcceptedRelease]) -> RoundResult:
        config, encoder = hub_round.config, self.encoder_from_dict(hub_round.encoder)
        released = list(releases)  # the networks are small: every release is held at once
        state = dict(hub_round.state or {})
        metrics: dict[str, Any] = {}
        gaps: dict[str, float] = {}
        if plan.evaluates(config, hub_round.round) and released:
            counts = {r.spoke: {k[len(EVAL):]: v for k, v in r.payload.items() if k.startswith(EVAL)}
                      for r in released}
            total = {name: sum(c[name] for c in counts.values()) for name in next(iter(counts.values()))}
            validation = self.metrics_from_counts(encoder, total)
            local = {spoke: self.metrics_from_counts(encoder, c) for spoke, c in counts.items()}
            validation["hospital_spread"] = spread({s: m.get(self.primary_metric) for s, m in local.items()})
            validation["per_hospital"] = {s: {k: m.get(k) for k in self.per_hospital_metrics} for s, m in local.items()}
            validation["model_round"] = hub_round.round - 1
            metrics["validation"] = validation
            gaps = {s: g for s, m in local.items() if (g := self.fairness_gap(validation, m)) is not None}
            stop, state = _early_stopping(config, state, validation.get(self.primary_metric), hub_round.round)
        else:
            stop = False
        if not plan.trains(config, hub_round.round):
            return RoundResult(model=hub_round.previous, loss=None, state=state or None, metrics=metrics)
        from fedcore.aggregation import ClientUpdate, make_aggregator

        aggregator = make_aggregator(config.strategy, **config.strategy_params)
        own = {k[len(AGGREGATOR):]: v for k, v in state.items() if k.startswith(AGGREGATOR)}
        if own:
            aggregator.load_state(own)
        updates = (ClientUpdate(spoke=r.spoke, num_examples=r.rows,
                                weights={k: v for k, v in r.payload.items() if not k.startswith(EVAL)},
                                metrics=({"loss": r.mean_loss} if r.mean_loss is not None else {})
                                | ({"fairness_gap": gaps[r.spoke]} if r.spoke in gaps else {}))
                   for r in released)
        result = aggregator.aggregate(hub_round.previous, updates, on_invalid=hub_round.reject)
        state = {k: v for k, v in state.items() if not k.startswith(AGGREGATOR)}
        state |= {f"{AGGREGATOR}{k}": v for k, v in aggregator.state().items()}
        if getattr(aggregator, "last_weights", None):
            metrics["aggregation_weights"] = {s: round(float(w), 6) for s, w in aggregator.last_weights.items()}
        if stop:
            metrics["stopped_early"] = True
        return RoundResult(model=result.weights, loss=result.metrics.get("loss"), state=state or None,
                           metrics=metrics, stop=stop)

    # -- publishing and serving -------------------------------------------------------------------------
    def describe(self, config) -> dict:
        task = config.task
        return {"task": self.name, "family": None,
                "model": {"network": "residual_mlp_groupnorm", "hidden_dim": task.hidden_dim, "blocks": task.blocks},
                "settings": task.model_dump(mode="json")}

    def can_publish(self, config, last_round: int) -> bool:
        return last_round > 0

    def published_round(self, config, rounds: list[dict]) -> int:
        """With early stopping, the model with the best federated validation metric (restore-best); else the last."""
        if config.task.early_stopping_patience is None:  # the last trained model (the evaluation round scored it)
            return max((m["round"] for m in rounds if m.get("kind") == "train"), default=0)
        scored = [(m["validation"][self.primary_metric], m["validation"]["model_round"]) for m in rounds
                  if (m.get("validation") or {}).get(self.primary_metric) is not None
                  and m["validation"]["model_round"] >= 1]
        if not scored:
            return super().published_round(config, rounds)
        return max(scored, key=lambda pair: (pair[0], pair[1]))[1]

    def published_metrics(self, config, rounds: list[dict], published_round: int) -> dict:
        evaluated = [m["validation"] for m in rounds
                     if (m.get("validation") or {}).get("model_round") == published_round]
        if not evaluated:
            return {"metrics": None, "fairness": None}
        validation = dict(evaluated[-1])
        fairness = validation.pop("fairness", None)
        return {"metrics": validation, "fairness": fairness}

    def predict(self, encoder, model, description, schema, frame, times=None):
        coder = self.encoder_from_dict(encoder)
        outputs = self.outputs(self.network(coder, description), model, coder.features(frame))
        return self.predictions(coder, outputs, times)

    def outputs(self, network, weights: Tensors, features: np.ndarray) -> np.ndarray:
        """(N, outputs) float64 logits of ``network`` with ``weights`` in evaluation mode."""
        from fedcore.tasks.predictive.training import predict_outputs

        return predict_outputs(network, weights, features, self.prediction_batch, self.prediction_device)


def _network_settings(source) -> dict:
    """hidden_dim and blocks from a RunConfig or from a published version's description."""
    if isinstance(source, dict):
        return source["model"]
    return {"hidden_dim": source.task.hidden_dim, "blocks": source.task.blocks}


def _early_stopping(config, state: Tensors, value: float | None, round_: int) -> tuple[bool, Tensors]:
    """Whether to stop after this round: no improvement of the validation metric for ``patience`` evaluations."""
    patience = config.task.early_stopping_patience
    best = float(state[f"{EARLY}best"][0]) if f"{EARLY}best" in state else -np.inf
    since = int(state[f"{EARLY}since"][0]) if f"{EARLY}since" in state else 0
    if value is not None and value > best:
        best, since = value, 0
    else:
        since += 1
    state = state | {f"{EARLY}best": np.array([best]), f"{EARLY}since": np.array([since])}
    return bool(patience is not None and since >= patience and round_ <= config.rounds), state
