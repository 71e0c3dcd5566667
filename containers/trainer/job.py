"""One trainer job: the hospital's policy, data and ledger, the hub's bucket and key, one exit status.

``run_job`` takes its stores as arguments (``__main__`` builds the AWS ones), so tests run it on
in-memory stores. Each refusal ends the job with its own status and one line logged last, which the
sandbox (and a reader of the job's log in AWS) sees as the reason.
"""

from __future__ import annotations

import json
import logging

from containers.trainer import (EXIT_BAD_INPUT, EXIT_DP_REQUIRED, EXIT_FOREIGN_RELEASE, EXIT_LOCAL_CAP, EXIT_NO_POLICY,
                                EXIT_RELEASED)
from containers.trainer.environment import JobSettings
from fedcore.federation.spoke import LocalCapExceededError
from fedcore.privacy import LedgerStore, PrivacyLedger
from fedcore.run_spec import ConfigCopyMismatchError
from fedcore.runtime.ports import BlobNotFoundError, BlobStore
from fedcore.runtime.spoke_policy import SpokePolicyError, SpokePolicySource
from fedcore.runtime.spoke_release import (BadSpokeDataError, DpRequiredError, ForeignReleaseError, ReleaseSettings,
                                           make_release)
from fedcore.sealing import KeyProvider
from fedcore.table import TableError

logger = logging.getLogger("trainer")


MAX_DATA_OBJECTS = 200_000  # under one prefix (an image folder); more is refused rather than read for hours


def read_data_objects(data_blobs: BlobStore, data_key: str) -> bytes | dict[str, bytes]:
    """The hospital's data: one object's bytes, or, for a key ending in '/', every object under that prefix
    by its name relative to it (an image folder ``class_name/*.png`` or ``.npz`` shards)."""
    if not data_key.endswith("/"):
        return data_blobs.get(data_key)
    keys = data_blobs.list_keys(data_key)
    if not keys:
        raise BlobNotFoundError(f"no objects under the data prefix {data_key!r}")
    if len(keys) > MAX_DATA_OBJECTS:
        raise BadSpokeDataError(f"{len(keys)} objects under {data_key!r}; at most {MAX_DATA_OBJECTS} are read")
    return {key[len(data_key):]: data_blobs.get(key) for key in sorted(keys) if not key.endswith("/")}


def run_job(settings: JobSettings, *, policies: SpokePolicySource, hub_blobs: BlobStore, data_blobs: BlobStore,
            keys: KeyProvider, ledger_store: LedgerStore) -> int:
    """Load the hospital's policy, read its table, make its release; the exit status says how it ended."""
    spoke, round_ = settings.spoke_id, settings.round
    try:
        policy = policies.load(spoke)  # before the data is read: no policy, nothing is touched
    except SpokePolicyError as exc:
        logger.error("spoke %s refuses round %s: no usable privacy policy: %s", spoke, round_, exc)
        return EXIT_NO_POLICY
    # The hospital's own ledger states epsilon at the hospital's own delta, never at one from the job; the
    # policy owns that delta, so the ledger restates its account with it (also after the hospital changes it).
    ledger = PrivacyLedger(ledger_store, delta=policy.max_delta, settings_owner=True)
    try:
        data = read_data_objects(data_blobs, settings.data_key)
        result = make_release(ReleaseSettings(run_id=settings.run_id, round=round_, spoke_id=spoke, mode=settings.mode,
                                              config_sha256=settings.config_sha256),
                              hub_blobs, data, keys, ledger, policy)
    except LocalCapExceededError as exc:
        logger.error("spoke %s refuses round %s: its own epsilon cap: %s", spoke, round_, exc)
        return EXIT_LOCAL_CAP
    except DpRequiredError as exc:
        logger.error("spoke %s refuses round %s: weaker privacy than the hospital allows: %s", spoke, round_, exc)
        return EXIT_DP_REQUIRED
    except ConfigCopyMismatchError as exc:
        logger.error("spoke %s refuses round %s: the published config is not the run's: %s", spoke, round_, exc)
        return EXIT_BAD_INPUT
    except ForeignReleaseError as exc:
        logger.error("spoke %s refuses round %s: %s", spoke, round_, exc)
        return EXIT_FOREIGN_RELEASE
    except (BadSpokeDataError, TableError, BlobNotFoundError) as exc:
        logger.error("spoke %s cannot take part in round %s: %s", spoke, round_, exc)
        return EXIT_BAD_INPUT
    print(json.dumps(result))
    return EXIT_RELEASED
