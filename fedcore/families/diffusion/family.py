"""The diffusion family: setup statistics, then rounds of local DP-SGD averaged by a strategy.

Torch is imported inside the methods that train or sample, so a hub step of another family
never loads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from fedcore.families.base import (
    AcceptedRelease, HubRound, ModelFamily, RoundResult, SpokeOutput, SpokePlan, SpokeRound, Tensors,
)
from fedcore.federation.privacy_plan import SpokePrivacyPlan, batch_schedule, plan_spoke, setup_record


class DiffusionFamily(ModelFamily):
    name = "diffusion"

    def round_kinds(self, config):
        return ("train",) * config.rounds

    def setup_mechanisms(self, config):
        return (setup_record(config),)

    def plan_spoke(self, config, rows: int) -> SpokePlan:
        if not config.privacy.enabled:
            training = public_training(config, rows)
            return SpokePlan(rows, ((),) * (config.rounds + 1), training)
        plan = plan_spoke(config, rows)
        releases = (self.setup_mechanisms(config),) + ((plan.round_record,),) * config.rounds
        return SpokePlan(rows, releases, plan.to_dict())

    def build_setup(self, config, schema, merged_stats):
        from fedcore.model.weights import initial_weights
        from fedcore.preprocessing.preprocessor import build_preprocessor

        preprocessor = build_preprocessor(schema, merged_stats, config.numeric_transform)
        weights = initial_weights(preprocessor.layout, config.model.diffusion, seed=config.seed)
        return preprocessor.to_dict(), weights

    def release(self, spoke_round: SpokeRound) -> SpokeOutput:
        from fedcore.preprocessing.preprocessor import GlobalPreprocessor
        from fedcore.training.config import DPConfig
        from fedcore.training.local_training import train_local

        config, plan = spoke_round.config, spoke_round.plan
        training = SpokePrivacyPlan.from_dict(plan.training)
        if spoke_round.private and plan.mechanisms(spoke_round.round) != (training.round_record,):
            raise ValueError(f"the plan charges {plan.mechanisms(spoke_round.round)} but trains with "
                             f"{training.round_record}; refusing an inconsistent plan")
        preprocessor = GlobalPreprocessor.from_dict(spoke_round.encoder)
        train_config = replace(config.train_config(), batch_size=training.batch_size)
        dp = None
        if spoke_round.private:
            dp = DPConfig(noise_multiplier=training.noise_multiplier, max_grad_norm=training.max_grad_norm)
        result = train_local(spoke_round.previous, preprocessor.transform(spoke_round.frame), preprocessor.layout,
                             config.model.diffusion, train_config, dp, spoke_round.seed)
        if dp is not None and (result.noise_multiplier, result.sample_rate, result.steps) != (
                training.noise_multiplier, training.sample_rate, training.steps_per_round):
            raise RuntimeError(
                f"DP-SGD spent (sigma {result.noise_multiplier}, q {result.sample_rate}, {result.steps} steps), "
                f"not the planned {training.round_record}; refusing to release")
        return SpokeOutput(result.weights, result.mean_loss)

    def validate(self, hub_round: HubRound, payload: Tensors, plan: SpokePlan) -> None:
        """Nothing before aggregating: the aggregator's ``RoundTally`` checks each update against the
        global model as it streams, and reports an invalid one to ``hub_round.reject``."""

    def aggregate(self, hub_round: HubRound, releases: Iterable[AcceptedRelease]) -> RoundResult:
        from fedcore.aggregation import ClientUpdate, make_aggregator

        config = hub_round.config
        aggregator = make_aggregator(config.strategy, **config.strategy_params)
        if hub_round.state:
            aggregator.load_state(hub_round.state)
        # weighted by the rows in the hospital's authenticated plan, never by a claim; the tally averages the loss
        updates = (ClientUpdate(spoke=release.spoke, weights=release.payload, num_examples=release.rows,
                                metrics={} if release.mean_loss is None else {"loss": release.mean_loss})
                   for release in releases)
        result = aggregator.aggregate(hub_round.previous, updates, on_invalid=hub_round.reject)
        return RoundResult(model=result.weights, loss=result.metrics.get("loss"), state=aggregator.state() or None)

    def describe(self, config) -> dict:
        return {"family": self.name, "model": config.model.diffusion.to_dict()}

    def generate(self, encoder, model, description, schema, rows, seed, conditions, sampling):
        from fedcore.model.config import DiffusionConfig, SamplingConfig
        from fedcore.preprocessing.preprocessor import GlobalPreprocessor
        from fedcore.synthesize import generate_synthetic

        options = sampling if isinstance(sampling, SamplingConfig) else SamplingConfig(**(sampling or {}))
        return generate_synthetic(model, GlobalPreprocessor.from_dict(encoder),
                                  DiffusionConfig.from_dict(description["model"]), rows, options, seed, conditions)


def public_training(config, rows: int) -> dict:
    """Batch settings of a run without DP (the hospital opted out): no noise, no accounting."""
    batch, sample_rate, steps = batch_schedule(config, rows)
    return SpokePrivacyPlan(rows, batch, sample_rate, steps, 0.0, config.privacy.max_grad_norm).to_dict()
