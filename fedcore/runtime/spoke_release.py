"""A hospital's release for one round: what its trainer job (``containers.trainer``, AWS Batch) runs.

Makes this hospital's one release for a round (setup statistics or the family's round release) and
seals it. Runs inside the hospital's account. Nothing the hub sends can weaken the hospital's privacy:
its epsilon cap, its DP opt-out and the largest delta it accepts come from its own policy
(``SpokePolicy``), never from the run config or the job's environment. It refuses to release
past its cap (kept in its own ledger, which the hub cannot touch), charges that ledger before
anything leaves, and writes its sealed release create-only, so a retried job never releases twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from fedcore.tasks.registry import task_of
from fedcore.families.base import SpokePlan, SpokeRound
from fedcore.federation import spoke
from fedcore.federation.hub import MIN_ROWS
from fedcore.federation.release import ReleaseMeta, model_context
from fedcore.privacy import PrivacyLedger, UnknownSpokeError
from fedcore.runtime import layout
from fedcore.runtime.ports import BlobExistsError, BlobNotFoundError, BlobStore
from fedcore.runtime.run_state import read_encoder, read_run_config, read_schema
from fedcore.runtime.spoke_policy import SpokePolicy
from fedcore.sealing import KeyProvider, open_model
from fedcore.table import TableError, conform_table, read_csv_bytes

logger = logging.getLogger(__name__)

ReleaseMode = Literal["stats", "train"]


class BadSpokeDataError(ValueError):
    """The hospital's table cannot be used: not a CSV, not the run's schema, or too few rows."""


class DpRequiredError(RuntimeError):
    """The run asks for a release without DP (or with a weaker delta) that this hospital never allowed."""


class ForeignReleaseError(RuntimeError):
    """Another party wrote an object at this hospital's release key; it is not this hospital's release."""


@dataclass(frozen=True)
class ReleaseSettings:
    run_id: str
    round: int
    spoke_id: str
    mode: ReleaseMode  # "stats" for round 0, "train" for every later round
    config_sha256: str  # of the run's config as the hub recorded it; the published copy must match


def parse_table(data: bytes, schema) -> pd.DataFrame:
    try:  # the same reader as simulate and schema infer: a repeated header is an error, not age.1
        frame = read_csv_bytes(data, "the hospital's data")
    except TableError as exc:
        raise BadSpokeDataError(str(exc)) from exc
    try:
        frame = conform_table(frame, schema)
    except TableError as exc:
        raise BadSpokeDataError(f"the hospital's data does not match the run's schema: {exc}") from exc
    if len(frame) < MIN_ROWS:
        raise BadSpokeDataError(f"the hospital's table has {len(frame)} rows; at least {MIN_ROWS} are needed")
    return frame


def read_hospital_data(family, data: bytes | Mapping[str, bytes], schema, cfg):
    """The hospital's data as its task reads it: a table conformed to the schema (one CSV object), or the
    task's own reader's result (e.g. images: one .npz, or every object under a prefix)."""
    if family.reads_table:
        if not isinstance(data, (bytes, bytearray)):
            raise BadSpokeDataError(f"task {family.name} reads one CSV object; the data key names a prefix of "
                                    f"{len(data)} objects")
        return parse_table(bytes(data), schema)
    try:
        frame = family.read_data(data, cfg)
    except ValueError as exc:
        raise BadSpokeDataError(f"the hospital's data cannot be read for task {family.name}: {exc}") from exc
    if len(frame) < MIN_ROWS:
        raise BadSpokeDataError(f"the hospital's data has {len(frame)} items; at least {MIN_ROWS} are needed")
    return frame


def make_release(
    settings: ReleaseSettings,
    hub_blobs: BlobStore,
    data: bytes | Mapping[str, bytes],
    keys: KeyProvider,
    local_ledger: PrivacyLedger,
    policy: SpokePolicy,
    rng: np.random.Generator | None = None,  # None: fresh OS entropy (DP noise must not be predictable)
) -> dict:
    """Make, charge and write this hospital's sealed release for ``settings.round``; what was released."""
    if (settings.mode == "stats") != (settings.round == 0):
        raise BadSpokeDataError(f"mode {settings.mode!r} does not fit round {settings.round}")
    cfg = read_run_config(hub_blobs, settings.run_id, settings.config_sha256)
    private = _require_privacy(cfg, policy)
    schema = read_schema(hub_blobs, settings.run_id)
    family = task_of(cfg)
    frame = read_hospital_data(family, data, schema, cfg)
    key = layout.update_key(settings.run_id, settings.round, settings.spoke_id)
    if private:
        _ensure_local_account(local_ledger, settings.spoke_id, policy.epsilon_cap)
    # The job role may write its key but not read or list updates/, so a retry is recognised by
    # the create-only write failing, and told apart from a foreign object by this hospital's ledger.
    charged_before = private and _charged(local_ledger, settings)
    rng = rng if rng is not None else np.random.default_rng()
    if settings.round == 0 and not family.setup_statistics:
        # no statistics: the sealed release carries only the row count, which every plan treats as public
        mechanisms = ()
        release = spoke.seal_release(settings.spoke_id, settings.run_id, 0, {}, ReleaseMeta(len(frame), ()), keys)
    elif settings.round == 0:
        mechanisms = family.setup_mechanisms(cfg) if private else ()
        if private:
            spoke.check_local_cap(local_ledger, settings.spoke_id, mechanisms)
        release = spoke.release_setup_stats(settings.spoke_id, settings.run_id, frame, schema, mechanisms,
                                            cfg.stats_bins, keys, rng)
    else:
        plan = _spoke_plan(hub_blobs, settings, cfg, family, len(frame))
        if settings.round > family.total_rounds(cfg):
            raise BadSpokeDataError(f"round {settings.round} is past the run's {family.total_rounds(cfg)} rounds")
        mechanisms = plan.mechanisms(settings.round) if private else ()
        if private:
            spoke.check_local_cap(local_ledger, settings.spoke_id, mechanisms)
        previous = open_model(hub_blobs.get(layout.model_key(settings.run_id, settings.round - 1)),
                              model_context(settings.run_id, settings.round - 1), keys)
        output = family.release(SpokeRound(
            run_id=settings.run_id, round=settings.round, kind=family.round_kinds(cfg)[settings.round - 1],
            config=cfg, schema=schema, frame=frame, encoder=read_encoder(hub_blobs, settings.run_id),
            previous=previous, plan=plan, private=private, rng=rng, seed=int(rng.integers(2**31 - 1)),
        ))
        # an exact training loss is data-dependent and un-noised: only a hospital that opted out of DP sends it
        # (DESIGN.md section 9); the hub knows the row count, which DP-SGD treats as public
        loss = None if private else output.mean_loss
        release = spoke.seal_release(settings.spoke_id, settings.run_id, settings.round, output.payload,
                                     ReleaseMeta(len(frame), mechanisms, loss), keys)
    if mechanisms:
        local_ledger.charge(settings.spoke_id, settings.run_id, settings.round, mechanisms)
    try:
        hub_blobs.put_new(key, release.blob)
    except BlobExistsError:
        # a release that spends nothing (a count-only round 0) leaves no charge to tell a retry by: it is taken as ours
        return _existing_release(settings, key, private and bool(mechanisms), charged_before)
    return {
        "spoke_id": settings.spoke_id,
        "round": settings.round,
        "status": "RELEASED",
        "bytes": len(release.blob),
        "epsilon_local": local_ledger.spent(settings.spoke_id) if private else None,
    }


def _require_privacy(cfg, policy: SpokePolicy) -> bool:
    """Whether this release is private; refuses what only the hospital itself may allow."""
    if not cfg.privacy.enabled:
        if not policy.allow_no_dp:
            raise DpRequiredError("the run asks for releases without DP and this hospital has not opted out; "
                                  "refusing to release")
        return False
    if cfg.privacy.delta > policy.max_delta:
        raise DpRequiredError(f"the run's delta {cfg.privacy.delta} is above this hospital's maximum "
                              f"{policy.max_delta}; refusing to release")
    return True


def _charged(ledger: PrivacyLedger, settings: ReleaseSettings) -> bool:
    return ledger.charged(settings.spoke_id, settings.run_id, settings.round)  # coalesced charges count too


def _existing_release(settings: ReleaseSettings, key: str, private: bool, charged_before: bool) -> dict:
    """An object at our key is ours only if our own ledger had charged this (run, round) before.

    Otherwise another party wrote it: this hospital refuses to count it as its release (its own
    charge for the release it just made stays, the conservative direction).
    """
    if private and not charged_before:
        raise ForeignReleaseError(f"{key} exists but this hospital never released it; refusing to treat it as "
                                  "released (another party wrote it)")
    logger.info("%s was already released by an earlier attempt; nothing to do", key)
    return {"spoke_id": settings.spoke_id, "round": settings.round, "status": "ALREADY_RELEASED"}


def _ensure_local_account(ledger: PrivacyLedger, spoke_id: str, cap: float) -> None:
    """The hospital's own ledger takes its limit from the hospital's own policy, nothing else."""
    try:
        current = ledger.limit(spoke_id)
    except UnknownSpokeError:
        current = None
    if current != cap:
        ledger.set_limit(spoke_id, cap)


def _spoke_plan(hub_blobs: BlobStore, settings: ReleaseSettings, cfg, family, rows: int) -> SpokePlan:
    """The hub's published plan when it matches what this hospital would plan for itself, else its own.

    Trusting a published plan's noise is safe: the local cap check that follows refuses any
    release that would take this hospital past its own limit, whatever the hub planned. Its
    own plan is recomputed only when the published one is missing or for different rows.
    """
    key = layout.plans_key(settings.run_id)
    try:  # checked first: a read of a missing key answers 403, not 404, under the job role (BlobStore.exists)
        published = json.loads(hub_blobs.get(key)).get(settings.spoke_id) if hub_blobs.exists(key) else None
    except (BlobNotFoundError, ValueError):
        published = None
    if published:
        plan = SpokePlan.from_dict(published)
        if plan.rows == rows and len(plan.releases) == family.total_rounds(cfg) + 1:
            return plan
        logger.warning("the published plan for %s does not match its data; planning locally", settings.spoke_id)
    return family.plan_spoke(cfg, rows)
