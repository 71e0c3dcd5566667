"""How much noise each hospital adds, planned so its whole run lands on the target epsilon.

A hospital's run is the setup-round Gaussian release plus ``rounds`` rounds of DP-SGD with
Poisson sampling (sample rate q = 1 / ceil(rows / batch), as Opacus' DPDataLoader uses). Each hospital plans its own noise
multiplier from its own row count, so small and large hospitals end at the same epsilon.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from fedcore.privacy.accountant import StepRecord
from fedcore.privacy.planner import plan_noise_multiplier
from fedcore.run_config import RunConfig


@dataclass(frozen=True)
class SpokePrivacyPlan:
    """What one hospital will spend: one setup release, then identical rounds."""

    rows: int
    batch_size: int  # expected Poisson batch, at most the hospital's rows
    sample_rate: float
    steps_per_round: int
    noise_multiplier: float  # DP-SGD noise multiplier for every training step
    max_grad_norm: float

    @property
    def round_record(self) -> StepRecord:
        return StepRecord(self.noise_multiplier, self.sample_rate, self.steps_per_round)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SpokePrivacyPlan":
        return cls(**data)


def setup_record(config: RunConfig) -> StepRecord:
    """The setup round's Gaussian release as one full-batch step (sample rate 1)."""
    privacy = config.privacy
    sigma = plan_noise_multiplier(
        target_epsilon=privacy.target_epsilon * privacy.setup_epsilon_share,
        sample_rate=1.0,
        steps=1,
        delta=privacy.delta,
        accountant=privacy.accountant,
    )
    return StepRecord(sigma, 1.0, 1)


def batch_schedule(config: RunConfig, rows: int) -> tuple[int, float, int]:
    """(expected batch, sample rate, steps per round) for a hospital of ``rows`` rows.

    Opacus' DPDataLoader samples each row with q = 1 / ceil(rows / batch) and takes
    ceil(rows / batch) steps per epoch; plan with exactly the numbers it will use.
    """
    batch = min(config.training.batch_size, rows)
    batches_per_epoch = math.ceil(rows / batch)
    return batch, 1.0 / batches_per_epoch, batches_per_epoch * config.training.epochs


def plan_spoke(config: RunConfig, rows: int, prior_history: tuple[StepRecord, ...] | None = None,
               ) -> SpokePrivacyPlan:
    """Plan a hospital's training noise given its rows and the releases made before training
    (``prior_history``; default: the setup release alone)."""
    if rows < 2:
        raise ValueError(f"a hospital needs at least 2 rows to train, not {rows}")
    privacy = config.privacy
    batch, sample_rate, steps = batch_schedule(config, rows)
    if privacy.noise_multiplier is not None:
        sigma = privacy.noise_multiplier
    else:
        sigma = plan_noise_multiplier(
            target_epsilon=privacy.target_epsilon,
            sample_rate=sample_rate,
            steps=steps * config.rounds,
            delta=privacy.delta,
            accountant=privacy.accountant,
            prior_history=(setup_record(config),) if prior_history is None else tuple(prior_history),
        )
    return SpokePrivacyPlan(rows, batch, sample_rate, steps, sigma, privacy.max_grad_norm)

