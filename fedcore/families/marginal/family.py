"""The marginal family: MST adapted to federated hospitals (McKenna et al. 2021; FLAIM, Maddock et al. 2023).

Round 0 releases the setup statistics (DP histograms), which give the discretized domain and
the 1-way marginals. Round 1 ("select"): every hospital releases noisy selection scores of all
column pairs; the hub sums them and picks a maximum spanning tree. Round 2 ("measure"): every
hospital releases the noisy 2-way tables of the tree's pairs; the hub sums them and fits the
graphical model with private-pgm inside the Aggregate step (a few seconds for ACTG 175). The
noise of each release is planned from the run's settings alone (``plan_release_sigmas``); its
sensitivity is written next to the code that adds it (fedcore/marginal/measure.py). Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable

from fedcore.families.base import (
    AcceptedRelease, HubRound, ModelFamily, RoundResult, SpokeOutput, SpokePlan, SpokeRound, Tensors,
)
from fedcore.families.marginal import rounds
from fedcore.families.marginal.histograms import measured_marginals, measured_to_tensors, setup_histograms
from fedcore.marginal import (
    MarginalDomain, MarginalModel, SpokeRelease, build_domain, candidate_pairs, check_marginal_release,
    check_score_release, fit_marginal_model, measure_marginals, sample_rows,
    scores_to_tensors, select_cliques, selection_scores, sum_marginal_releases, sum_score_releases,
    marginals_to_tensors,
)
from fedcore.privacy import StepRecord
from fedcore.privacy.release_planner import plan_release_sigmas

KINDS = ("select", "measure")


class MarginalFamily(ModelFamily):
    name = "marginal"

    def round_kinds(self, config):
        return KINDS

    def release_mechanisms(self, config, budget_share: float = 1.0) -> tuple[StepRecord, StepRecord, StepRecord]:
        """(setup, select, measure) Gaussian releases whose composition is ``budget_share`` of the target."""
        privacy, settings = config.privacy, config.model.marginal
        shares = (privacy.setup_epsilon_share, settings.select_share,
                  1.0 - privacy.setup_epsilon_share - settings.select_share)
        if shares[2] <= 0:
            raise ValueError("setup_epsilon_share + marginal.select_share must leave a share for the measurements")
        sigmas = plan_release_sigmas(privacy.target_epsilon * budget_share, shares, privacy.delta, privacy.accountant)
        return tuple(StepRecord(sigma, 1.0, 1) for sigma in sigmas)

    def setup_mechanisms(self, config):
        return (self.release_mechanisms(config)[0],)

    def plan_spoke(self, config, rows: int) -> SpokePlan:
        if not config.privacy.enabled:
            return SpokePlan(rows, ((),) * 3)
        return SpokePlan(rows, tuple((m,) for m in self.release_mechanisms(config)))

    def build_setup(self, config, schema, merged_stats):
        domain = build_domain(schema, merged_stats, config.model.marginal.max_cells)
        return domain.to_dict(), rounds.one_way_to_tensors(domain, domain.one_way_from_stats(merged_stats))

    def release(self, spoke_round: SpokeRound) -> SpokeOutput:
        domain = MarginalDomain.from_dict(spoke_round.encoder)
        codes = domain.encode(spoke_round.frame)
        sigma = spoke_round.plan.mechanisms(spoke_round.round)[0].noise_multiplier if spoke_round.private else None
        if spoke_round.kind == "select":
            # each spoke's own 1-way baseline: a global one turned the tree into a star around a
            # column whose mix differs between hospitals (measured: pair trends 0.80 vs 0.87)
            scores = selection_scores(codes, domain, candidate_pairs(domain), None, sigma, spoke_round.rng)
            return SpokeOutput(scores_to_tensors(scores))
        cliques = rounds.cliques_from_tensor(domain, spoke_round.previous["cliques"])
        return SpokeOutput(marginals_to_tensors(measure_marginals(codes, domain, cliques, sigma, spoke_round.rng)))

    def validate(self, hub_round: HubRound, payload: Tensors, plan: SpokePlan) -> None:
        domain = MarginalDomain.from_dict(hub_round.encoder)
        release = _spoke_release(hub_round, payload, plan)
        if hub_round.kind == "select":
            check_score_release(release, len(candidate_pairs(domain)))
        else:
            check_marginal_release(release, domain, rounds.cliques_from_tensor(domain, hub_round.previous["cliques"]))

    def aggregate(self, hub_round: HubRound, releases: Iterable[AcceptedRelease]) -> RoundResult:
        domain = MarginalDomain.from_dict(hub_round.encoder)
        accepted = {r.spoke: _spoke_release(hub_round, r.payload, hub_round.plans[r.spoke]) for r in releases}
        if not accepted:
            raise ValueError("no valid release to combine")
        one_way = rounds.one_way_from_tensors(domain, hub_round.previous)
        if hub_round.kind == "select":
            candidates = candidate_pairs(domain)
            summed = sum_score_releases(accepted, len(candidates))
            cliques = select_cliques(domain, candidates, summed.scores)
            model = rounds.one_way_to_tensors(domain, one_way) | {"cliques": rounds.cliques_to_tensor(domain, cliques)}
            return RoundResult(model=model, metrics={"selected": [list(c) for c in cliques]})
        cliques = rounds.cliques_from_tensor(domain, hub_round.previous["cliques"])
        summed = sum_marginal_releases(accepted, domain, cliques)
        setup_rows = sum(plan.rows for plan in hub_round.plans.values())
        scale = setup_rows / summed.rows  # hospitals missing from this round: scale the tables to the setup's total
        two_way = {c: (table * scale, summed.noise_std * scale) for c, table in summed.tables.items()}
        model = fit_marginal_model(domain, one_way, two_way, hub_round.config.model.marginal.fit_iterations,
                                   total=float(setup_rows))
        return RoundResult(model=model.to_tensors() | measured_to_tensors(two_way))

    def can_publish(self, config, last_round: int) -> bool:
        return last_round >= len(KINDS)  # before the measurement there is no fitted model

    def describe(self, config) -> dict:
        return {"family": self.name, "model": {"family": self.name, **config.model.marginal.model_dump()}}

    def generate(self, encoder, model, description, schema, rows, seed, conditions, sampling):
        domain = MarginalDomain.from_dict(encoder)
        return sample_rows(MarginalModel.from_tensors(model, domain), domain, rows, seed, conditions)

    def setup_histograms(self, encoder, setup_model):
        """The noisy 1-way counts of round 0 (kept as the setup model) over the domain's cells."""
        return setup_histograms(MarginalDomain.from_dict(encoder), setup_model())

    def measured_marginals(self, encoder, model):
        """The noisy 2-way tables published beside the model (None for a model published without them)."""
        return measured_marginals(MarginalDomain.from_dict(encoder), model())


def _spoke_release(hub_round: HubRound, payload: Tensors, plan: SpokePlan) -> SpokeRelease:
    private = hub_round.config.privacy.enabled
    sigma = plan.mechanisms(hub_round.round)[0].noise_multiplier if private else None
    return SpokeRelease(payload, plan.rows, sigma)
