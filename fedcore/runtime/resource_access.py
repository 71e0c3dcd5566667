"""What each deployed step touches: hub-bucket keys, tables and their actions, sealing kinds, spoke resources.

One declaration, read by the code and by the IAM test (DESIGN.md section 9). The hub handlers wrap their
blob store in ``DeclaredBlobStore`` (a key outside the step's declaration fails in every test, in memory
too); ``tests/cdk/test_role_permissions.py`` checks each synthesized role against this table, both ways: every
access declared here is granted (conditions included) and nothing else is. Key patterns use IAM's ``*``
(any characters, ``/`` included) and are built from ``layout``, so a key that moves moves here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from types import MappingProxyType

from fedcore.runtime import layout
from fedcore.runtime.ports import BlobStore

ANY = "*"
SPOKE = "{spoke}"  # stands for the spoke's own id in spoke-side declarations

# Hub bucket keys, as IAM resource patterns (layout's functions with wildcards for the ids)
CONFIG = layout.config_key(ANY)
SCHEMA = layout.schema_key(ANY)
PLANS = layout.plans_key(ANY)
PREPROCESSOR = layout.preprocessor_key(ANY)
MODEL = f"models/{ANY}/{ANY}.sealed"  # layout.model_key(run, round)
UPDATES = "updates/" + ANY  # layout.update_key(run, round, any spoke)
OWN_UPDATE = f"updates/{ANY}/{ANY}/{SPOKE}"  # layout.update_key(run, round, spoke): exactly its own id
AGGREGATOR_STATE = f"runs/{ANY}/aggregator/{ANY}.sealed"  # layout.aggregator_state_key(run, round)
GENERATED = layout.synthetic_key(ANY)  # generated/<version>/<id>.csv

# DynamoDB actions the adapters call (fedcore.aws.dynamo_*): a TransactWriteItems of conditional Puts is
# authorized as PutItem; nobody scans, updates or deletes items.
GET, QUERY, PUT = "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"
AUDIT_APPEND = (GET, QUERY, PUT)  # find_event, last_entry, the create-only entry
AUDIT_READ = (GET, QUERY)

# Spoke-side objects (the hospital's own bucket), named by the trainer job's settings
DATA_OBJECT = "{data_key}"
LOCAL_LEDGER = "privacy-ledger/{spoke}.json"  # fedcore.aws.s3_ledger's key for a spoke


@dataclass(frozen=True)
class StepAccess:
    """What one step's code does with the hub's resources (and, for the trainer, its own account's)."""

    name: str
    read: tuple[str, ...] = ()  # hub-bucket keys read (GetObject; a missing key answers 403, see exists)
    write: tuple[str, ...] = ()  # hub-bucket keys written (PutObject, create-only)
    list: tuple[str, ...] = ()  # hub-bucket prefixes listed (ListObjectsV2, s3:prefix)
    exists: tuple[str, ...] = ()  # hub-bucket keys that may be missing, checked (ListObjectsV2, s3:prefix = the key)
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # "runs"/"ledger"/"audit" -> actions
    seal: tuple[str, ...] = ()  # encryption-context kinds it seals with the hub key (GenerateDataKey)
    open: tuple[str, ...] = ()  # kinds it opens (Decrypt)
    states: tuple[str, ...] = ()  # Step Functions actions on the round loop (API only)
    spoke_read: tuple[str, ...] = ()  # keys in the hospital's own bucket (trainer only)
    spoke_write: tuple[str, ...] = ()
    spoke_parameters: tuple[str, ...] = ()  # SSM actions on the hospital's policy parameter
    batch: tuple[str, ...] = ()  # Batch actions in the spoke's account (the hub's launch role)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", MappingProxyType(dict(self.tables)))

    def allows(self, operation: str, key: str, spoke: str | None = None) -> bool:
        """Whether ``operation`` ("read", "write", "list" or "exists") on hub-bucket ``key`` is declared."""
        patterns = {"read": self.read, "write": self.write, "list": self.list, "exists": self.exists}[operation]
        return any(fnmatchcase(key, expand(p, spoke)) for p in patterns if spoke is not None or SPOKE not in p)


def expand(pattern: str, spoke: str | None) -> str:
    return pattern if spoke is None else pattern.replace(SPOKE, spoke)


STEPS: Mapping[str, StepAccess] = MappingProxyType({step.name: step for step in (
    StepAccess(
        "init_run", write=(CONFIG, SCHEMA),
        tables={"runs": (GET, PUT), "ledger": (GET, PUT), "audit": AUDIT_APPEND},  # ledger: set_limit of new spokes
    ),
    StepAccess(
        "setup_merge", read=(SCHEMA, PLANS, PREPROCESSOR, UPDATES), write=(PREPROCESSOR, MODEL, PLANS),
        list=(UPDATES,), exists=(PREPROCESSOR,), open=("update",), seal=("model",),
        tables={"runs": (GET, PUT), "ledger": (GET, PUT), "audit": AUDIT_APPEND},  # ledger: charges releases
    ),
    StepAccess(
        "budget_gate", tables={"runs": (GET, PUT), "ledger": (GET,), "audit": AUDIT_APPEND},
    ),
    StepAccess(
        "aggregate", read=(SCHEMA, PREPROCESSOR, MODEL, AGGREGATOR_STATE, UPDATES),
        write=(MODEL, AGGREGATOR_STATE), list=(UPDATES,), exists=(MODEL, AGGREGATOR_STATE),
        open=("update", "model"), seal=("model",),
        tables={"runs": (GET, QUERY, PUT), "ledger": (GET, PUT), "audit": AUDIT_APPEND},
    ),
    StepAccess(
        "finalize", read=(MODEL,),  # hashes the published model; never opens it
        tables={"runs": (GET, QUERY, PUT), "ledger": (GET,), "audit": AUDIT_APPEND},
    ),
    StepAccess(
        "api", read=(SCHEMA, PREPROCESSOR, MODEL, GENERATED), write=(GENERATED,), open=("model",),
        tables={"runs": (GET, QUERY), "ledger": (GET, PUT), "audit": AUDIT_APPEND},  # ledger: admin reset
        states=("states:StartExecution", "states:DescribeExecution", "states:StopExecution"),
    ),
    StepAccess(
        "trainer", read=(CONFIG, SCHEMA, PLANS, PREPROCESSOR, MODEL), write=(OWN_UPDATE,), exists=(PLANS,),
        seal=("update",), open=("model",),
        spoke_read=(DATA_OBJECT, LOCAL_LEDGER), spoke_write=(LOCAL_LEDGER,), spoke_parameters=("ssm:GetParameter",),
    ),
    StepAccess(
        "launch", batch=("batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"),
    ),
)})

HUB_FUNCTIONS = ("init_run", "setup_merge", "budget_gate", "aggregate", "finalize", "api")


class UndeclaredAccessError(PermissionError):
    """A step's code touched a key its declaration (and so its deployed role) does not cover."""


class DeclaredBlobStore:
    """A ``BlobStore`` that lets one step reach only the keys ``STEPS[step]`` declares, as its IAM role would."""

    def __init__(self, inner: BlobStore, step: str, spoke: str | None = None) -> None:
        self._inner = inner
        self._access = STEPS[step]
        self._spoke = spoke

    def _check(self, operation: str, key: str) -> None:
        if not self._access.allows(operation, key, self._spoke):
            raise UndeclaredAccessError(f"{self._access.name} may not {operation} {key!r} "
                                        "(fedcore.runtime.resource_access declares what each step's role allows)")

    def put_new(self, key: str, data: bytes) -> None:
        self._check("write", key)
        self._inner.put_new(key, data)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._check("write", key)
        self._inner.put(key, data, content_type=content_type)

    def get(self, key: str) -> bytes:
        self._check("read", key)
        return self._inner.get(key)

    def exists(self, key: str) -> bool:
        self._check("exists", key)
        return self._inner.exists(key)

    def list_keys(self, prefix: str) -> list[str]:
        self._check("list", prefix + ANY)
        return self._inner.list_keys(prefix)

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)  # hasattr(blobs, "presigned_get") answers as the inner store's
        if name != "presigned_get":
            return attribute

        def presigned_get(key: str, expires_seconds: int) -> str:
            self._check("read", key)  # the link is signed with this role's credentials
            return attribute(key, expires_seconds)
        return presigned_get
