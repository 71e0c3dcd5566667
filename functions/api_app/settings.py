"""The API's settings, read once from the Lambda environment (or built directly in tests).

Required: ``STATE_MACHINE_ARN`` and ``SPOKE_IDS`` (as for every hub function). Optional, with
the defaults below: ``API_INLINE_ROWS``, ``API_MAX_ROWS``, ``API_MAX_BODY_BYTES``,
``API_MAX_IMAGE_BODY_BYTES``, ``API_PRESIGN_EXPIRY_SECONDS``, and ``DELTA``, ``ACCOUNTANT``, ``ROUNDS``,
``QUORUM`` (the deployment's run defaults, applied by ``fedcore.deployment_defaults`` as InitRun applies them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from fedcore.deployment_defaults import DEFAULT_ACCOUNTANT, DEFAULT_DELTA, DeploymentDefaults

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot outlive a week
# Lambda's synchronous payload is 6 MiB and API Gateway base64-encodes a binary body (4/3 larger) into the
# event: 4.5 MiB of image, less 64 KiB for the event's headers and request context
MAX_LAMBDA_IMAGE_BODY_BYTES = 6 * 2**20 * 3 // 4 - 64 * 1024


@dataclass(frozen=True)
class ApiSettings:
    state_machine_arn: str  # the round loop a POST /runs starts
    spokes: tuple[str, ...]  # the deployment's hospitals, in SPOKE_IDS order
    inline_row_limit: int = 1_000  # up to this many rows come back in the response body
    max_rows: int = 10_000  # per request: default model, 2 vCPUs: 7-14 s, inside API Gateway's 29 s
    max_body_bytes: int = 16 * 1024  # request bodies above this are refused with 413
    max_image_body_bytes: int = 4 * 2**20  # the same, for image bodies (image/png, application/x-npz) of /predict
    presign_expiry_seconds: int = 900  # lifetime of a download link for a large result
    delta: float = DEFAULT_DELTA  # the ledger accounts' delta; a run must account at the same delta
    accountant: str = DEFAULT_ACCOUNTANT  # the ledger accounts' accountant; likewise
    default_rounds: int | None = None  # None: RunConfig's default
    default_quorum: int | None = None  # None: RunConfig's default

    def __post_init__(self) -> None:
        parts = self.state_machine_arn.split(":")
        if len(parts) != 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "stateMachine":
            raise ValueError(f"STATE_MACHINE_ARN is not a state machine ARN: {self.state_machine_arn!r}")
        if not self.spokes or len(set(self.spokes)) != len(self.spokes):
            raise ValueError(f"spokes must be a non-empty list of distinct ids, got {self.spokes!r}")
        if not 1 <= self.inline_row_limit <= self.max_rows:
            raise ValueError(f"inline_row_limit must be in [1, max_rows={self.max_rows}], got {self.inline_row_limit}")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be at least 1024, got {self.max_body_bytes}")
        if not 1024 <= self.max_image_body_bytes <= MAX_LAMBDA_IMAGE_BODY_BYTES:
            raise ValueError(f"max_image_body_bytes must be in [1024, {MAX_LAMBDA_IMAGE_BODY_BYTES}] (Lambda's "
                             f"payload limit, base64-encoded), got {self.max_image_body_bytes}")
        if not 1 <= self.presign_expiry_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"presign_expiry_seconds must be in [1, {MAX_PRESIGN_SECONDS}]")
        self.defaults  # validates delta, accountant, rounds and quorum

    @property
    def defaults(self) -> DeploymentDefaults:
        """What a started run leaves out is filled from these (the same rule as InitRun's)."""
        return DeploymentDefaults(delta=self.delta, accountant=self.accountant, rounds=self.default_rounds,
                                  quorum=self.default_quorum)

    @property
    def region(self) -> str:
        return self.state_machine_arn.split(":")[3]

    @property
    def partition(self) -> str:
        return self.state_machine_arn.split(":")[1]

    def execution_arn(self, run_id: str) -> str:
        """Executions are named after their run, so a run's execution ARN is known without a lookup."""
        prefix, name = self.state_machine_arn.rsplit(":stateMachine:", 1)
        return f"{prefix}:execution:{name}:{run_id}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env

        def optional_int(name: str) -> int | None:
            return int(env[name]) if env.get(name) else None

        defaults = cls.__dataclass_fields__
        return cls(
            state_machine_arn=env["STATE_MACHINE_ARN"],
            spokes=spoke_ids(env["SPOKE_IDS"]),
            inline_row_limit=int(env.get("API_INLINE_ROWS", defaults["inline_row_limit"].default)),
            max_rows=int(env.get("API_MAX_ROWS", defaults["max_rows"].default)),
            max_body_bytes=int(env.get("API_MAX_BODY_BYTES", defaults["max_body_bytes"].default)),
            max_image_body_bytes=int(env.get("API_MAX_IMAGE_BODY_BYTES", defaults["max_image_body_bytes"].default)),
            presign_expiry_seconds=int(env.get("API_PRESIGN_EXPIRY_SECONDS",
                                               defaults["presign_expiry_seconds"].default)),
            delta=float(env.get("DELTA", defaults["delta"].default)),
            accountant=env.get("ACCOUNTANT") or defaults["accountant"].default,
            default_rounds=optional_int("ROUNDS"),
            default_quorum=optional_int("QUORUM"),
        )


def spoke_ids(ids_json: str) -> tuple[str, ...]:
    """SPOKE_IDS: the JSON list of the deployment's hospital ids every hub function gets."""
    ids = json.loads(ids_json)
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise ValueError("SPOKE_IDS must be a JSON list of hospital ids")
    return tuple(ids)
