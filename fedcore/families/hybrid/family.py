"""The hybrid family: the marginal family's rounds, a diffusion model pretrained on its rows, DP-SGD.

Rounds 0-2 are the marginal family's (setup histograms, selection scores, 2-way
measurements), spending ``privacy.measurement_share`` of the target. The measurement round's
Aggregate step fits the marginal model and pretrains the diffusion model on rows sampled
from it (post-processing, ``pretrain.py``). Rounds 3.. fine-tune that model at the hospitals
with DP-SGD, planned so each hospital's whole run lands on the target epsilon. With
``measurement_share`` 1 there are no training rounds: the published model is the pretrained one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from fedcore.families.base import (
    AcceptedRelease, HubRound, ModelFamily, RoundResult, SpokeOutput, SpokePlan, SpokeRound, Tensors,
)
from fedcore.families.diffusion.family import DiffusionFamily, public_training
from fedcore.families.marginal.family import MarginalFamily
from fedcore.federation.privacy_plan import plan_spoke

MARGINAL_KINDS = ("select", "measure")


class HybridFamily(ModelFamily):
    name = "hybrid"

    def __init__(self) -> None:
        self.marginal = MarginalFamily()
        self.diffusion = DiffusionFamily()

    def training_rounds(self, config) -> int:
        private = config.privacy.enabled
        return 0 if private and config.privacy.measurement_share >= 1.0 else config.rounds

    def round_kinds(self, config):
        return MARGINAL_KINDS + ("train",) * self.training_rounds(config)

    def marginal_mechanisms(self, config):
        return self.marginal.release_mechanisms(config, config.privacy.measurement_share)

    def setup_mechanisms(self, config):
        return (self.marginal_mechanisms(config)[0],)

    def plan_spoke(self, config, rows: int) -> SpokePlan:
        training_rounds = self.training_rounds(config)
        if not config.privacy.enabled:
            return SpokePlan(rows, ((),) * (1 + len(MARGINAL_KINDS) + training_rounds), public_training(config, rows))
        marginal = tuple((m,) for m in self.marginal_mechanisms(config))
        if training_rounds == 0:
            return SpokePlan(rows, marginal)
        training = plan_spoke(config, rows, prior_history=tuple(m for ms in marginal for m in ms))
        return SpokePlan(rows, marginal + ((training.round_record,),) * training_rounds, training.to_dict())

    def build_setup(self, config, schema, merged_stats):
        domain, one_way = self.marginal.build_setup(config, schema, merged_stats)
        preprocessor, _ = self.diffusion.build_setup(config, schema, merged_stats)
        return {"marginal": domain, "diffusion": preprocessor}, one_way

    def setup_histograms(self, encoder, setup_model):
        """The marginal part's noisy 1-way counts: round 0 of a hybrid run is the marginal setup."""
        return self.marginal.setup_histograms(encoder["marginal"], setup_model)

    def release(self, spoke_round: SpokeRound) -> SpokeOutput:
        part = self._part(spoke_round.kind)
        return part.release(replace(spoke_round, encoder=spoke_round.encoder[part.name]))

    def validate(self, hub_round: HubRound, payload: Tensors, plan: SpokePlan) -> None:
        part = self._part(hub_round.kind)
        part.validate(replace(hub_round, encoder=hub_round.encoder[part.name]), payload, plan)

    def aggregate(self, hub_round: HubRound, releases: Iterable[AcceptedRelease]) -> RoundResult:
        part = self._part(hub_round.kind)
        result = part.aggregate(replace(hub_round, encoder=hub_round.encoder[part.name]), releases)
        if hub_round.kind != "measure":
            return result
        return self._pretrained(hub_round, result)

    def _pretrained(self, hub_round: HubRound, fitted: RoundResult) -> RoundResult:
        """The diffusion model pretrained on rows of the just-fitted marginal model (no privacy cost)."""
        from fedcore.families.hybrid.pretrain import pretrain_diffusion
        from fedcore.marginal import MarginalDomain, MarginalModel
        from fedcore.model.weights import initial_weights
        from fedcore.preprocessing.preprocessor import GlobalPreprocessor

        config = hub_round.config
        domain = MarginalDomain.from_dict(hub_round.encoder["marginal"])
        preprocessor = GlobalPreprocessor.from_dict(hub_round.encoder["diffusion"])
        initial = initial_weights(preprocessor.layout, config.model.diffusion, seed=config.seed)
        weights, loss = pretrain_diffusion(config, MarginalModel.from_tensors(fitted.model, domain), domain,
                                           preprocessor, initial, config.model.pretrain)
        return RoundResult(model=weights, metrics={**fitted.metrics, "pretrain_loss": loss})

    def can_publish(self, config, last_round: int) -> bool:
        return last_round >= len(MARGINAL_KINDS)  # the pretrained model exists after the measurement round

    def describe(self, config) -> dict:
        return {"family": self.name, "model": config.model.diffusion.to_dict(),
                "marginal": config.model.marginal.model_dump(), "pretrain": config.model.pretrain.model_dump(),
                "measurement_share": config.privacy.measurement_share}

    def generate(self, encoder, model, description, schema, rows, seed, conditions, sampling):
        return self.diffusion.generate(encoder["diffusion"], model, description, schema, rows, seed, conditions,
                                       sampling)

    def _part(self, kind: str) -> ModelFamily:
        return self.marginal if kind in MARGINAL_KINDS else self.diffusion

