"""What a hospital does before anything leaves it: check its own cap, release, seal.

Pure fedcore (no AWS): the trainer job calls these. Only sealed bytes and their DP record
leave a hospital, never rows.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fedcore.federation.release import ReleaseMeta, SealedRelease, attach_meta, update_context
from fedcore.preprocessing.table_stats import compute_table_stats
from fedcore.privacy import PrivacyLedger, StepRecord
from fedcore.schema import Schema
from fedcore.sealing import seal_update
from fedcore.sealing.key_provider import KeyProvider

logger = logging.getLogger(__name__)


class LocalCapExceededError(RuntimeError):
    """The hospital's own epsilon cap forbids this release, whatever the hub says."""


def release_setup_stats(
    spoke: str,
    run_id: str,
    frame: pd.DataFrame,
    schema: Schema,
    mechanisms: tuple[StepRecord, ...],
    bins: int,
    provider: KeyProvider,
    rng: np.random.Generator,
) -> SealedRelease:
    """Round 0: DP histograms over the schema's bounds (one Gaussian mechanism, sensitivity in table_stats)."""
    noise = mechanisms[0].noise_multiplier if mechanisms else None
    stats = compute_table_stats(frame, schema, noise, rng, bins=bins)
    return seal_release(spoke, run_id, 0, stats.to_tensors(), ReleaseMeta(len(frame), mechanisms), provider)


def seal_release(spoke: str, run_id: str, round_: int, payload: dict[str, np.ndarray], meta: ReleaseMeta,
                 provider: KeyProvider, seconds: float = 0.0) -> SealedRelease:
    blob = seal_update(attach_meta(payload, meta), update_context(run_id, round_, spoke), provider)
    return SealedRelease(spoke=spoke, round=round_, blob=blob, meta=meta, seconds=seconds)


def check_local_cap(ledger: PrivacyLedger, spoke: str, planned: tuple[StepRecord, ...]) -> None:
    """Refuse to release when it would cross this hospital's own limit."""
    decision = ledger.check(spoke, list(planned))
    if not decision.allowed:
        raise LocalCapExceededError(
            f"hospital {spoke}: this release would bring epsilon to {decision.epsilon_after:.3f}, "
            f"above its own cap {decision.limit:.3f}; refusing to release"
        )
