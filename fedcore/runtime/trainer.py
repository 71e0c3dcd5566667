"""The spoke job (AWS Batch): release setup statistics, or train one round, and seal it.

Runs inside the hospital's account. It refuses to train past the hospital's own epsilon
cap (kept in the hospital's own ledger, which the hub cannot touch), charges that ledger
before anything leaves, and writes its sealed release create-only, so a retried job never
releases twice.
"""

from __future__ import annotations

import io
import json
import math
import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from fedcore.federation import spoke
from fedcore.federation.privacy_plan import SpokePrivacyPlan, plan_spoke, setup_record
from fedcore.privacy import PrivacyLedger, UnknownSpokeError
from fedcore.runtime import layout
from fedcore.runtime.ports import BlobExistsError, BlobNotFoundError, BlobStore
from fedcore.runtime.run_state import read_preprocessor, read_run_config, read_schema
from fedcore.sealing import KeyProvider
from fedcore.table import TableError, conform_table

logger = logging.getLogger(__name__)

TrainerMode = Literal["stats", "train"]


class BadSpokeDataError(ValueError):
    """The hospital's table cannot be used: not a CSV, or not the run's schema."""


@dataclass(frozen=True)
class TrainerSettings:
    run_id: str
    round: int
    spoke_id: str
    mode: TrainerMode
    local_epsilon_cap: float | None  # the hospital's own limit; None = the run's target


def parse_table(data: bytes, schema) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadSpokeDataError(f"the hospital's data is not a readable CSV: {exc}") from exc
    try:
        return conform_table(frame, schema)
    except TableError as exc:
        raise BadSpokeDataError(f"the hospital's data does not match the run's schema: {exc}") from exc


def run_trainer(
    settings: TrainerSettings,
    hub_blobs: BlobStore,
    data: bytes,
    keys: KeyProvider,
    local_ledger: PrivacyLedger,
) -> dict:
    cfg = read_run_config(hub_blobs, settings.run_id)
    schema = read_schema(hub_blobs, settings.run_id)
    frame = parse_table(data, schema)
    key = layout.update_key(settings.run_id, settings.round, settings.spoke_id)
    if hub_blobs.exists(key):
        logger.info("%s was already released by an earlier attempt; nothing to do", key)
        return {"spoke_id": settings.spoke_id, "round": settings.round, "status": "ALREADY_RELEASED"}
    dp = cfg.privacy.enabled
    plan = _spoke_plan(hub_blobs, settings, cfg, len(frame)) if dp and settings.mode == "train" else None
    if dp:
        _ensure_local_account(local_ledger, settings, cfg.privacy.target_epsilon)
        planned = setup_record(cfg) if settings.mode == "stats" else plan.round_record
        spoke.check_local_cap(local_ledger, settings.spoke_id, planned)
    if settings.mode == "stats":
        rng = np.random.default_rng()  # DP noise must not be reproducible by anyone else
        release = spoke.release_setup_stats(
            settings.spoke_id, settings.run_id, frame, schema, setup_record(cfg) if dp else None,
            cfg.stats_bins, keys, rng,
        )
    else:
        preprocessor = read_preprocessor(hub_blobs, settings.run_id)
        sealed_model = hub_blobs.get(layout.model_key(settings.run_id, settings.round - 1))
        release = spoke.train_round(
            settings.spoke_id, settings.run_id, settings.round, frame, preprocessor, sealed_model,
            cfg.diffusion_config(), cfg.train_config(), plan, keys,
            seed=int.from_bytes(np.random.default_rng().bytes(4), "little"),
        )
    if release.meta.record is not None:
        local_ledger.charge(settings.spoke_id, settings.run_id, settings.round, release.meta.record)
    try:
        hub_blobs.put_new(key, release.blob)
    except BlobExistsError:
        logger.info("%s appeared while training (a concurrent attempt); keeping the first", key)
    return {
        "spoke_id": settings.spoke_id,
        "round": settings.round,
        "status": "RELEASED",
        "bytes": len(release.blob),
        "loss": release.meta.mean_loss,
        "epsilon_local": local_ledger.spent(settings.spoke_id) if dp else None,
    }


def _ensure_local_account(ledger: PrivacyLedger, settings: TrainerSettings, run_target: float) -> None:
    cap = settings.local_epsilon_cap if settings.local_epsilon_cap is not None else run_target
    try:
        current = ledger.limit(settings.spoke_id)
    except UnknownSpokeError:
        current = None
    if current != cap:
        ledger.set_limit(settings.spoke_id, cap)


def _spoke_plan(hub_blobs: BlobStore, settings: TrainerSettings, cfg, rows: int) -> SpokePrivacyPlan:
    """The hub's published plan for this spoke if it is consistent with this spoke's own data
    and the run's settings, else a fresh plan (the bisection costs seconds per job).

    Trusting the published noise multiplier is safe: the local cap check that follows refuses
    any round that would take this hospital past its own limit, whatever the hub planned.
    """
    try:
        published = json.loads(hub_blobs.get(layout.plans_key(settings.run_id))).get(settings.spoke_id)
    except (BlobNotFoundError, ValueError):
        published = None
    if published:
        plan = SpokePrivacyPlan.from_dict(published)
        batch = min(cfg.batch_size, rows)
        batches = math.ceil(rows / batch)
        expected = (rows, batch, 1.0 / batches, batches * cfg.epochs_per_round, cfg.privacy.max_grad_norm)
        if (plan.rows, plan.batch_size, plan.sample_rate, plan.steps_per_round, plan.max_grad_norm) == expected:
            if cfg.privacy.noise_multiplier is None or plan.noise_multiplier == cfg.privacy.noise_multiplier:
                return plan
        logger.warning("the published plan for %s does not match its data; planning locally", settings.spoke_id)
    return plan_spoke(cfg, rows)
