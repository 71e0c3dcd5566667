"""The predictive tasks' round plan: which releases each round makes and how much noise each gets.

Rounds: 0 setup statistics (the image task: none, only the public row count); 1 training; 2..R training plus the evaluation of the model received
(the previous round's global model); R + 1 evaluation only, of the last model. Round 1 does not
evaluate: the model it receives is the data-independent initial one. The evaluation releases
together spend ``task.evaluation.epsilon_share`` of the target, the setup release its own share,
and DP-SGD's noise is planned so the whole run lands on the target (one accountant over all of it).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from fedcore.families.base import SpokePlan
from fedcore.federation.privacy_plan import SpokePrivacyPlan, batch_schedule, plan_spoke, setup_record
from fedcore.privacy.accountant import StepRecord
from fedcore.privacy.planner import plan_noise_multiplier


def round_kinds(config) -> tuple[str, ...]:
    return ("train",) * config.rounds + ("evaluate",)


def evaluates(config, round_: int) -> bool:
    """Whether round ``round_``'s release carries evaluation counts."""
    return 2 <= round_ <= config.rounds + 1


def trains(config, round_: int) -> bool:
    return 1 <= round_ <= config.rounds


def validation_rows(config, rows: int) -> int:
    """Rows a hospital of ``rows`` rows keeps for validation: a share, at most the public cap, leaving two to train."""
    settings = config.task.evaluation
    return max(1, min(math.ceil(settings.validation_share * rows), settings.max_validation_rows, rows - 2))


def validation_split(run_id: str, rows: int, config) -> tuple[np.ndarray, np.ndarray]:
    """(training row positions, validation row positions): the same every round of a run, and chosen
    without looking at the data (a permutation seeded by the run's id)."""
    seed = int.from_bytes(hashlib.sha256(f"{run_id}/validation".encode()).digest()[:8], "big")
    order = np.random.default_rng(seed).permutation(rows)
    held = validation_rows(config, rows)
    return np.sort(order[held:]), np.sort(order[:held])


def evaluation_record(config) -> StepRecord:
    """One evaluation release as a full-batch Gaussian step; the run's R of them spend the evaluation share."""
    privacy = config.privacy
    sigma = plan_noise_multiplier(target_epsilon=privacy.target_epsilon * config.task.evaluation.epsilon_share,
                                  sample_rate=1.0, steps=config.rounds, delta=privacy.delta,
                                  accountant=privacy.accountant)
    return StepRecord(sigma, 1.0, 1)


def plan_predictive_spoke(config, rows: int, setup: tuple[StepRecord, ...] | None = None) -> SpokePlan:
    """``setup``: the setup release's mechanisms under DP (default: the setup statistics' one record;
    ``()`` for a task whose round 0 releases no statistics, such as ``image``)."""
    train_rows = rows - validation_rows(config, rows)
    if train_rows < 2:
        raise ValueError(f"a hospital of {rows} rows leaves {train_rows} to train after validation")
    if not config.privacy.enabled:
        batch, sample_rate, steps = batch_schedule(config, train_rows)
        training = SpokePrivacyPlan(train_rows, batch, sample_rate, steps, 0.0, config.privacy.max_grad_norm)
        return SpokePlan(rows, ((),) * (config.rounds + 2), training.to_dict())
    setup = (setup_record(config),) if setup is None else tuple(setup)
    evaluation = evaluation_record(config)
    training = plan_spoke(config, train_rows, prior_history=setup + (evaluation,) * config.rounds)
    releases = [setup]
    for round_ in range(1, config.rounds + 2):
        releases.append(tuple(([training.round_record] if trains(config, round_) else [])
                              + ([evaluation] if evaluates(config, round_) else [])))
    return SpokePlan(rows, tuple(releases), training.to_dict())
