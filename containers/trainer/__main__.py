"""Spoke trainer entrypoint: ``python -I -m containers.trainer`` (AWS Batch job or local process).

Always an isolated interpreter (``-I``: no PYTHON* variables, no user site, no working directory on
the path) of the installed package: a SubmitJob override can set any variable, and those act at
interpreter start-up, before any line here. The first thing done here is dropping every variable
outside the allow-list (``containers.trainer.environment``), before any library is imported.

Settings from the environment: RUN_ID, ROUND, SPOKE_ID, TRAINER_MODE (stats|train), HUB_BUCKET,
HUB_KMS_KEY_ID, DATA_BUCKET, DATA_KEY. The hospital's epsilon cap, DP opt-out and delta never come
from the environment: they are its policy parameter in its own account (``fedcore.aws.ssm_policy``).
Exit status (``containers.trainer``): 0 released (or already released), 2 bad data or settings,
3 refused by the hospital's epsilon cap, 4 refused because the run has no DP (or a larger delta)
and the hospital has not allowed it, 5 the hospital's policy is missing or malformed, 6 its release
key holds an object it never released. The last line logged says why.
"""

from __future__ import annotations

import logging
import os
import sys

from containers.trainer import EXIT_BAD_INPUT
from containers.trainer.environment import JobSettings, allowed_environment


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("trainer")
    kept = allowed_environment(os.environ)
    dropped = sorted(set(os.environ) - set(kept))
    os.environ.clear()  # before any import below reads a variable (numpy, torch, boto3, matplotlib)
    os.environ.update(kept)
    if dropped:
        log.warning("ignored %d variable(s) outside the allow-list: %s", len(dropped), ", ".join(dropped))
    if argv:
        log.error("the trainer takes no arguments (a job command override?), got %d", len(argv))
        return EXIT_BAD_INPUT
    try:
        settings = JobSettings.from_environ(os.environ)
    except ValueError as exc:
        log.error("%s", exc)
        return EXIT_BAD_INPUT

    import boto3

    from containers.trainer.job import run_job
    from fedcore.aws.kms_keys import KmsKeyProvider
    from fedcore.aws.s3_blobs import S3BlobStore
    from fedcore.aws.s3_ledger import S3LedgerStore
    from fedcore.aws.ssm_policy import SsmSpokePolicySource

    s3 = boto3.client("s3")
    return run_job(
        settings, policies=SsmSpokePolicySource(), hub_blobs=S3BlobStore(settings.hub_bucket, client=s3),
        data_blobs=S3BlobStore(settings.data_bucket, client=s3), keys=KmsKeyProvider(settings.hub_key_id),
        ledger_store=S3LedgerStore(settings.data_bucket, client=s3))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
