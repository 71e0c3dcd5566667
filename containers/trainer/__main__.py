"""Spoke trainer entrypoint: ``python -m containers.trainer`` (AWS Batch job or local process).

Settings come from the environment (the Batch job definition and the state machine's
container overrides): RUN_ID, ROUND, SPOKE_ID, TRAINER_MODE (stats|train), HUB_BUCKET,
HUB_KMS_KEY_ID, DATA_BUCKET, DATA_KEY, SPOKE_EPSILON_LIMIT (the hospital's own cap, checked
in its own ledger) and DP_DELTA. Exit status: 0 released (or already released), 2 bad data or
settings, 3 refused by the local privacy cap.
"""

from __future__ import annotations

import json
import logging
import os
import sys

EXIT_BAD_INPUT = 2
EXIT_LOCAL_CAP = 3


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("trainer")
    try:
        env = {name: os.environ[name] for name in
               ("RUN_ID", "ROUND", "SPOKE_ID", "TRAINER_MODE", "HUB_BUCKET", "HUB_KMS_KEY_ID", "DATA_BUCKET", "DATA_KEY")}
    except KeyError as exc:
        log.error("missing setting %s", exc)
        return EXIT_BAD_INPUT
    if env["TRAINER_MODE"] not in ("stats", "train"):
        log.error("TRAINER_MODE must be 'stats' or 'train', not %r", env["TRAINER_MODE"])
        return EXIT_BAD_INPUT

    import boto3  # imported after the settings check, so a misconfigured job fails fast

    from fedcore.aws.kms_keys import KmsKeyProvider
    from fedcore.aws.s3_blobs import S3BlobStore
    from fedcore.aws.s3_ledger import S3LedgerStore
    from fedcore.federation.spoke import LocalCapExceededError
    from fedcore.privacy import PrivacyLedger
    from fedcore.runtime.trainer import BadSpokeDataError, TrainerSettings, run_trainer
    from fedcore.table import TableError

    cap = os.environ.get("SPOKE_EPSILON_LIMIT")
    settings = TrainerSettings(
        run_id=env["RUN_ID"], round=int(env["ROUND"]), spoke_id=env["SPOKE_ID"], mode=env["TRAINER_MODE"],
        local_epsilon_cap=float(cap) if cap else None,
    )
    s3 = boto3.client("s3")
    data_bucket = S3BlobStore(env["DATA_BUCKET"], client=s3)
    ledger = PrivacyLedger(S3LedgerStore(env["DATA_BUCKET"], client=s3),
                           delta=float(os.environ.get("DP_DELTA", "1e-5")))
    try:
        data = data_bucket.get(env["DATA_KEY"])
        result = run_trainer(settings, S3BlobStore(env["HUB_BUCKET"], client=s3), data,
                             KmsKeyProvider(env["HUB_KMS_KEY_ID"]), ledger)
    except (BadSpokeDataError, TableError, KeyError) as exc:
        log.error("spoke %s cannot take part in round %s: %s", settings.spoke_id, settings.round, exc)
        return EXIT_BAD_INPUT
    except LocalCapExceededError as exc:
        log.error("%s", exc)
        return EXIT_LOCAL_CAP
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
