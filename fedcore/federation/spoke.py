"""What a hospital does: release setup statistics, train a round, seal what leaves.

Pure fedcore (no AWS): the serverless trainer container and the in-process simulation both
call these. Only sealed bytes and privacy spend leave a hospital, never rows.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from fedcore.federation.privacy_plan import SpokePrivacyPlan
from fedcore.federation.release import ReleaseMeta, SealedRelease, attach_meta, model_context, update_context
from fedcore.model.config import DiffusionConfig
from fedcore.preprocessing.preprocessor import GlobalPreprocessor
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.privacy import PrivacyLedger, StepRecord
from fedcore.schema import Schema
from fedcore.sealing import open_model, seal_update
from fedcore.sealing.key_provider import KeyProvider
from fedcore.training.config import DPConfig, TrainConfig
from fedcore.training.dp_trainer import train_local

logger = logging.getLogger(__name__)

class LocalCapExceededError(RuntimeError):
    """The hospital's own epsilon cap forbids this round, whatever the hub says."""


def release_setup_stats(
    spoke: str,
    run_id: str,
    frame: pd.DataFrame,
    schema: Schema,
    record: StepRecord | None,
    bins: int,
    provider: KeyProvider,
    rng: np.random.Generator,
) -> SealedRelease:
    """Round 0: DP histograms over the schema's bounds, sealed for the hub."""
    noise = record.noise_multiplier if record is not None else None
    stats = compute_table_stats(frame, schema, noise, rng, bins=bins)
    meta = ReleaseMeta(num_examples=len(frame), record=record)
    blob = seal_update(attach_meta(stats.to_tensors(), meta), update_context(run_id, 0, spoke), provider)
    return SealedRelease(spoke=spoke, round=0, blob=blob, meta=meta)


def check_local_cap(ledger: PrivacyLedger, spoke: str, planned: StepRecord) -> None:
    """Refuse to train when the round would cross this hospital's own limit."""
    decision = ledger.check(spoke, [planned])
    if not decision.allowed:
        raise LocalCapExceededError(
            f"hospital {spoke}: this round would bring epsilon to {decision.epsilon_after:.3f}, "
            f"above its own cap {decision.limit:.3f}; refusing to train"
        )


def train_round(
    spoke: str,
    run_id: str,
    round_: int,
    frame: pd.DataFrame,
    preprocessor: GlobalPreprocessor,
    sealed_model: bytes,
    model_config: DiffusionConfig,
    train_config: TrainConfig,
    plan: SpokePrivacyPlan | None,
    provider: KeyProvider,
    seed: int,
) -> SealedRelease:
    """Open the global model, train locally (DP-SGD when ``plan``), seal the new weights."""
    global_weights = open_model(sealed_model, model_context(run_id, round_ - 1), provider)
    data = preprocessor.transform(frame)
    dp = None
    if plan is not None:
        dp = DPConfig(noise_multiplier=plan.noise_multiplier, max_grad_norm=plan.max_grad_norm)
        train_config = replace(train_config, batch_size=plan.batch_size)
    else:
        train_config = replace(train_config, batch_size=min(train_config.batch_size, len(frame)))
    result = train_local(global_weights, data, preprocessor.layout, model_config, train_config, dp, seed)
    record = None
    if plan is not None:
        record = StepRecord(result.noise_multiplier, result.sample_rate, result.steps)
        if record != plan.round_record:
            logger.warning("hospital %s spent %s, planned %s", spoke, record, plan.round_record)
    meta = ReleaseMeta(num_examples=result.num_examples, record=record, mean_loss=result.mean_loss)
    blob = seal_update(attach_meta(result.weights, meta), update_context(run_id, round_, spoke), provider)
    return SealedRelease(spoke=spoke, round=round_, blob=blob, meta=meta, seconds=result.seconds)
