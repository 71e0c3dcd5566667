"""What a hub function reads from its environment: its step's adapters (built once per Lambda
container) and the deployment's settings (spokes, default epsilon, run defaults). Code outside
``functions`` calls the handlers (``functions.<step>.handler``, as the Lambda runtime does) and
``cold_start``; ``step_services`` is the handlers' own.

Settings are read with ``os.environ[...]`` so a missing one fails at the first invocation
with the variable's name, never later with an empty string.
"""

from __future__ import annotations

import os
from functools import lru_cache

import boto3

from fedcore.audit import AuditLog
from fedcore.aws.dynamo_audit import DynamoAuditStore
from fedcore.aws.dynamo_ledger import DynamoLedgerStore
from fedcore.aws.dynamo_runs import DynamoRunStore
from fedcore.aws.kms_keys import KmsKeyProvider
from fedcore.aws.s3_blobs import S3BlobStore
from fedcore.deployment_defaults import DeploymentDefaults
from fedcore.privacy import PrivacyLedger
from fedcore.runtime.ports import HubServices
from fedcore.runtime.resource_access import DeclaredBlobStore


@lru_cache(maxsize=None)
def step_services(step: str) -> HubServices:
    """The adapters of one step (``fedcore.runtime.resource_access.STEPS``): its blob store refuses any key
    the step's declaration, and so its deployed role, does not cover."""
    env = os.environ
    return HubServices(
        blobs=DeclaredBlobStore(S3BlobStore(env["HUB_BUCKET"]), step),
        keys=KmsKeyProvider(env["HUB_KMS_KEY_ID"]),
        ledger=_ledger(DynamoLedgerStore(env["LEDGER_TABLE"])),
        audit=AuditLog(DynamoAuditStore(env["AUDIT_TABLE"])),
        runs=DynamoRunStore(env["RUNS_TABLE"]),
    )


def cold_start() -> None:
    """Forget what earlier invocations built in this process (each step's adapters, boto3's default session),
    as a new Lambda container starts without them: the next invocation builds them from the environment it
    then has. Deployed, every container is a new process and never needs this; the sandbox runs every
    function in one process and calls it when the function's identity or endpoint changes."""
    boto3.DEFAULT_SESSION = None
    step_services.cache_clear()


def deployment_spokes(spokes: object) -> list[dict]:
    """The deployment's spoke descriptors, as the state machine's definition passes them to InitRun."""
    if not isinstance(spokes, list) or not all(isinstance(s, dict) and "spoke_id" in s for s in spokes):
        raise ValueError("InitRun's spokes must be a list of objects with a spoke_id (the state machine's payload)")
    return spokes


def default_epsilon() -> float:
    return float(os.environ["DEFAULT_EPSILON"])


def deployment_defaults() -> DeploymentDefaults:
    """DELTA, ACCOUNTANT, ROUNDS, QUORUM: what a run leaves out, and what new ledger accounts account with."""
    return DeploymentDefaults.from_env(os.environ)


def _ledger(store: DynamoLedgerStore) -> PrivacyLedger:
    defaults = deployment_defaults()
    return PrivacyLedger(store, defaults.delta, defaults.accountant)
