"""The trainer's environment allow-list.

A SubmitJob's ContainerOverrides can set any variable, and the trainer cannot tell an override from
the job definition. Interpreter- and library-level variables (PYTHON*, LD_*, BROWSER, MPLBACKEND,
AWS_ENDPOINT_URL_*, proxies, CA bundles, ...) would act before or beside any check of ours, so
rather than name what is dangerous, the trainer keeps only what it needs and drops the rest.

Dropping rather than refusing: the platform adds variables of its own that change over time
(AWS_BATCH_*, ECS_*, HOSTNAME, the base image's NVIDIA_* and CUDA_*), and a refusal would fail on
those; a dropped variable leaves the process as if it had never been set. The names (never the
values) are logged, so an attempted override shows in the hospital's own logs.

Three layers use these lists: ``containers/trainer/entrypoint.sh`` (the image's ENTRYPOINT, passes
on only ``PASSED_BY_WRAPPER`` to ``python -I``), ``__main__`` (drops anything outside ``ALLOWED``
before importing a library), and the sandbox's Batch runtime (passes on ``PASSED_BY_WRAPPER`` from
the job, as the wrapper does, then adds what a local runtime provides).

``passed_by_wrapper`` is public, beside the command ``python -I -m containers.trainer``: it is the
image's environment contract, what a job's environment can reach the trainer with, so a runtime that
starts the trainer without the image (the sandbox) applies it instead of copying the wrapper's list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# What the trainer itself reads: where things are, and which run, round and mode, and the SHA-256 the hub
# recorded of the run's config (the published copy must match it). Never privacy settings: the cap and
# the DP opt-out come from the hospital's policy parameter.
SETTINGS = ("RUN_ID", "ROUND", "SPOKE_ID", "TRAINER_MODE", "HUB_BUCKET", "HUB_KMS_KEY_ID", "DATA_BUCKET", "DATA_KEY",
            "CONFIG_SHA256")
# Set by the job definition or the ECS agent; the AWS SDK needs them (the job role's credentials).
AWS_RUNTIME = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
# What the job may pass on to the interpreter; the image's wrapper names exactly these (a test compares).
PASSED_BY_WRAPPER = SETTINGS + AWS_RUNTIME
# Fixed by whoever starts the process (the wrapper sets constants; the sandbox copies its own).
PROCESS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "LD_LIBRARY_PATH")
# Only a local runtime sets these (the sandbox: emulator endpoint, STS credentials of the job role, its
# share of the cores). The image's wrapper never passes them on, so in AWS no job override reaches them.
LOCAL_RUNTIME = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "OMP_NUM_THREADS", "MKL_NUM_THREADS")
ALLOWED = frozenset(PASSED_BY_WRAPPER + PROCESS + LOCAL_RUNTIME)


def allowed_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``environ`` that the trainer keeps."""
    return {name: value for name, value in environ.items() if name in ALLOWED}


def passed_by_wrapper(environ: Mapping[str, str]) -> dict[str, str]:
    """What the image's wrapper lets through from a job's environment (definition plus overrides)."""
    return {name: value for name, value in environ.items() if name in PASSED_BY_WRAPPER}


@dataclass(frozen=True)
class JobSettings:
    """The trainer's settings (``SETTINGS``), read once from the allow-listed environment."""

    run_id: str
    round: int
    spoke_id: str
    mode: str  # "stats" (setup statistics) or "train"
    hub_bucket: str
    hub_key_id: str
    data_bucket: str
    data_key: str
    config_sha256: str  # models/<run>/config.json must have this SHA-256 (the runs table's record holds it)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "JobSettings":
        """ValueError naming the first missing or malformed setting."""
        missing = [name for name in SETTINGS if not environ.get(name)]
        if missing:
            raise ValueError(f"missing setting {missing[0]}")
        if environ["TRAINER_MODE"] not in ("stats", "train"):
            raise ValueError(f"TRAINER_MODE must be 'stats' or 'train', not {environ['TRAINER_MODE']!r}")
        try:
            round_ = int(environ["ROUND"])
        except ValueError:
            raise ValueError(f"ROUND must be an integer, not {environ['ROUND']!r}") from None
        if round_ < 0:
            raise ValueError(f"ROUND must be >= 0, not {round_}")
        return cls(environ["RUN_ID"], round_, environ["SPOKE_ID"], environ["TRAINER_MODE"], environ["HUB_BUCKET"],
                   environ["HUB_KMS_KEY_ID"], environ["DATA_BUCKET"], environ["DATA_KEY"], environ["CONFIG_SHA256"])
