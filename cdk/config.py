"""Typed, validated environment settings read from CDK context (the "environments" block of cdk.json).

Environments differ only in these values; stacks and constructs never branch on the environment name.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
# Spoke ids go into IAM role, bucket, queue and state names, so keep them short and DNS-safe.
_SPOKE_ID = re.compile(r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")
# The hub seals its own objects under these "spoke" names (global models, aggregator state); a spoke
# with one of them could be granted the hub's encryption context.
RESERVED_SPOKE_IDS = frozenset({"hub", "hub-aggregator"})
_NAME = re.compile(r"^[a-z][a-z0-9-]{1,14}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


def _fail(where: str, message: str) -> None:
    raise ValueError(f"cdk.json context {where}: {message}")


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        _fail(where, message)


@dataclass(frozen=True)
class Spoke:
    """One hospital: where its stack is deployed and its privacy policy (its own cap and DP opt-out,
    written to a parameter in its own account by its own stack; the hub enforces the same cap)."""

    id: str  # short slug, e.g. "hosp-a"
    account: str  # the hospital's own AWS account
    region: str  # must equal the hub region (see EnvironmentConfig)
    epsilon_limit: float  # per-spoke override of training.default_epsilon
    allow_no_dp: bool = False  # the hospital itself opts out of DP; only then may a run release without noise
    max_delta: float = 1e-5  # the largest DP delta it accepts (its own ledger accounts at it); default training.delta

    def __post_init__(self) -> None:
        where = f"spoke {self.id!r}"
        _require(bool(_SPOKE_ID.match(self.id)), where, "id must match [a-z][a-z0-9-]{0,14}[a-z0-9]")
        _require(self.id not in RESERVED_SPOKE_IDS, where,
                 f"id is reserved for the hub's own sealed objects ({', '.join(sorted(RESERVED_SPOKE_IDS))})")
        _require(bool(_ACCOUNT.match(self.account)), where, f"account {self.account!r} is not 12 digits")
        _require(bool(_REGION.match(self.region)), where, f"region {self.region!r} is not an AWS region")
        _require(self.epsilon_limit > 0, where, "epsilon_limit must be > 0")
        _require(0 < self.max_delta < 1, where, "max_delta must be in (0, 1)")


@dataclass(frozen=True)
class Training:
    """Federated run defaults handed to the round loop."""

    rounds: int  # training rounds after the setup (statistics) round
    quorum: int  # minimum spokes that must report for a round to count
    default_epsilon: float  # privacy budget per spoke unless the spoke overrides it
    delta: float  # DP delta used by the accountant

    def __post_init__(self) -> None:
        _require(self.rounds >= 1, "training", "rounds must be >= 1")
        _require(self.quorum >= 1, "training", "quorum must be >= 1")
        _require(self.default_epsilon > 0, "training", "default_epsilon must be > 0")
        _require(0 < self.delta < 1, "training", "delta must be in (0, 1)")


# The classes of each spoke's two Batch queues; a run picks one (fedcore's task.compute_class).
COMPUTE_CLASSES = ("cpu", "gpu")
# NVIDIA GPU instance families (g4dn, g5, g6e, gr6, p4d, p5, ...): a GPU class launches only these.
_GPU_FAMILY = re.compile(r"^(g|gr|p)\d")
# Graviton families carry a "g" after the generation (c7g, m6gd, t4g, g5g): the trainer image is linux/amd64.
_ARM_FAMILY = re.compile(r"^[a-z]+\d+[a-z-]*g[a-z-]*\.")


@dataclass(frozen=True)
class ComputeSettings:
    """One compute class of a spoke: its Batch compute environment (0 vCPUs when idle) and trainer job size."""

    compute_class: str  # "cpu" or "gpu": which queue and job definition these settings size
    instance_types: tuple[str, ...]  # x86_64 instance types the compute environment may launch
    max_vcpus: int  # upper bound of the compute environment; the minimum is always 0
    job_vcpus: int  # vCPUs per trainer job
    job_memory_mib: int  # memory per trainer job; below the instance's memory less what ECS keeps for itself
    job_gpus: int  # GPUs per trainer job: >= 1 on the gpu class, 0 on the cpu class
    volume_gib: int  # encrypted root volume of each instance: the ECS AMI plus the trainer image (CUDA, ~10 GB)

    def __post_init__(self) -> None:
        where = f"batch.{self.compute_class}"
        _require(self.compute_class in COMPUTE_CLASSES, "batch", f"unknown compute class {self.compute_class!r}")
        _require(len(self.instance_types) > 0, where, "instance_types must not be empty")
        for instance_type in self.instance_types:
            _require(bool(_INSTANCE_TYPE.match(instance_type)), where, f"bad instance type {instance_type!r}")
            _require(not _ARM_FAMILY.match(instance_type), where,
                     f"{instance_type!r} is an arm64 (Graviton) type; the trainer image is linux/amd64")
            gpu_type = bool(_GPU_FAMILY.match(instance_type))
            _require(gpu_type == (self.compute_class == "gpu"), where,
                     f"{instance_type!r} is {'a GPU' if gpu_type else 'not a GPU'} instance type"
                     f" and this is the {self.compute_class} class")
        _require(self.job_vcpus >= 1, where, "job_vcpus must be >= 1")
        if self.compute_class == "gpu":
            _require(self.job_gpus >= 1, where, "job_gpus must be >= 1")
        else:
            _require(self.job_gpus == 0, where, "job_gpus must be 0 (the cpu class launches no GPU instances)")
        _require(self.max_vcpus >= self.job_vcpus, where, "max_vcpus must be >= job_vcpus")
        _require(self.job_memory_mib >= 1024, where, "job_memory_mib must be >= 1024")
        _require(30 <= self.volume_gib <= 16384, where, "volume_gib must be in [30, 16384] (the ECS AMI needs 30)")


# What an environment's batch.<class> block leaves out.
DEFAULT_COMPUTE = {
    "gpu": ComputeSettings(
        compute_class="gpu",
        instance_types=("g4dn.xlarge",),  # one NVIDIA T4, 4 vCPUs, 16 GiB: the smallest GPU instance
        max_vcpus=8,  # two concurrent jobs
        job_vcpus=4,
        job_memory_mib=14336,  # g4dn.xlarge less what ECS and the agent keep
        job_gpus=1,
        volume_gib=200,
    ),
    "cpu": ComputeSettings(
        compute_class="cpu",
        instance_types=("c7i.xlarge", "m7i.xlarge"),  # 4 vCPUs, 8 and 16 GiB: tabular DP-SGD and marginals
        max_vcpus=8,  # two concurrent jobs
        job_vcpus=4,
        job_memory_mib=6144,  # fits c7i.xlarge (8 GiB) less what ECS and the agent keep
        job_gpus=0,
        volume_gib=100,  # the same (CUDA) image as the gpu class, without the GPU AMI's drivers
    ),
}


@dataclass(frozen=True)
class BatchSettings:
    """Each spoke's two Batch queues (one per compute class) and what their trainer jobs share."""

    gpu: ComputeSettings  # image task by default (fedcore's task.compute_class)
    cpu: ComputeSettings  # every other task by default
    job_timeout_minutes: int  # Batch kills a job after this long (either class)
    queue_wait_minutes: int  # extra time a Task allows for scale-up and queueing before it times out
    data_key: str  # object key of the patient table in each spoke's data bucket

    def __post_init__(self) -> None:
        _require(self.gpu.compute_class == "gpu" and self.cpu.compute_class == "cpu", "batch",
                 "gpu and cpu must hold the settings of their own class")
        _require(self.job_timeout_minutes >= 1, "batch", "job_timeout_minutes must be >= 1")
        _require(self.queue_wait_minutes >= 0, "batch", "queue_wait_minutes must be >= 0")
        _require(bool(self.data_key) and not self.data_key.startswith("/"), "batch", "data_key must be a relative key")

    def compute(self, compute_class: str) -> ComputeSettings:
        """The settings of one class ("cpu" or "gpu")."""
        if compute_class not in COMPUTE_CLASSES:
            raise ValueError(f"unknown compute class {compute_class!r}; valid: {', '.join(COMPUTE_CLASSES)}")
        return self.gpu if compute_class == "gpu" else self.cpu


@dataclass(frozen=True)
class ApiGatewaySettings:
    """Edge protection of the research API."""

    throttle_rate: float  # steady-state requests per second for the stage
    throttle_burst: int  # burst bucket size for the stage
    waf_rate_limit: int  # requests per source IP per 5 minutes before WAF blocks
    reserved_concurrency: int  # reserved concurrency of the API function

    def __post_init__(self) -> None:
        _require(self.throttle_rate > 0 and self.throttle_burst >= 1, "api", "throttling must be positive")
        _require(10 <= self.waf_rate_limit <= 2_000_000_000, "api", "waf_rate_limit must be in [10, 2e9]")
        _require(self.reserved_concurrency >= 1, "api", "reserved_concurrency must be >= 1")


@dataclass(frozen=True)
class Operations:
    """Alarms, retention and capacity knobs."""

    alarm_email: str  # subscribed to the alarm topic
    log_retention_days: int  # every log group
    update_retention_days: int  # lifecycle expiry of updates/ objects in the hub bucket
    function_concurrency: int  # reserved concurrency of each round-loop function
    max_azs: int  # availability zones of each VPC
    run_timeout_hours: int  # whole state machine execution timeout
    termination_protection: bool  # CloudFormation termination protection on every stack

    def __post_init__(self) -> None:
        _require(bool(_EMAIL.match(self.alarm_email)), "operations", "alarm_email is not an e-mail address")
        _require(self.log_retention_days in LOG_RETENTION_DAYS, "operations",
                 f"log_retention_days must be one of {sorted(LOG_RETENTION_DAYS)}")
        _require(self.update_retention_days >= 1, "operations", "update_retention_days must be >= 1")
        _require(self.function_concurrency >= 1, "operations", "function_concurrency must be >= 1")
        _require(1 <= self.max_azs <= 3, "operations", "max_azs must be 1, 2 or 3")
        _require(self.run_timeout_hours >= 1, "operations", "run_timeout_hours must be >= 1")


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything one environment (dev, prod, ...) needs; cross-field rules are checked here."""

    name: str
    project: str
    hub_account: str
    hub_region: str
    spokes: tuple[Spoke, ...]
    training: Training
    batch: BatchSettings
    api: ApiGatewaySettings
    operations: Operations

    def __post_init__(self) -> None:
        where = f"environment {self.name!r}"
        _require(bool(_NAME.match(self.name)), where, "name must match [a-z][a-z0-9-]{1,14}")
        _require(bool(_NAME.match(self.project)), "project", "must match [a-z][a-z0-9-]{1,14}")
        _require(bool(_ACCOUNT.match(self.hub_account)), where, f"hub account {self.hub_account!r} is not 12 digits")
        _require(bool(_REGION.match(self.hub_region)), where, f"hub region {self.hub_region!r} is not a region")
        _require(len(self.spokes) >= 1, where, "needs at least one spoke")
        ids = [spoke.id for spoke in self.spokes]
        _require(len(set(ids)) == len(ids), where, f"spoke ids must be unique, got {ids}")
        for spoke in self.spokes:
            # The data bucket denies the hub account, so a spoke sharing it could not read its own data.
            _require(spoke.account != self.hub_account, where,
                     f"spoke {spoke.id!r} uses the hub account; each hospital needs its own account")
            # VPC endpoints are regional and Step Functions cannot reach other regions, so a
            # spoke VPC without internet egress can only talk to a hub in its own region.
            _require(spoke.region == self.hub_region, where,
                     f"spoke {spoke.id!r} is in {spoke.region}, the hub in {self.hub_region}; they must match")
        _require(self.training.quorum <= len(self.spokes), where,
                 f"quorum {self.training.quorum} exceeds the {len(self.spokes)} spokes")

    @property
    def prefix(self) -> str:
        """Prefix of every physical name in this environment, e.g. "fedsynth-dev"."""
        return f"{self.project}-{self.name}"

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> "EnvironmentConfig":
        """Build the config selected by context["env"] from context["environments"][env]."""
        environments = context.get("environments")
        if not isinstance(environments, Mapping) or not environments:
            raise ValueError("cdk.json context has no 'environments' block")
        name = context.get("env")
        known = ", ".join(sorted(environments))
        if not name:
            raise ValueError(f"no environment selected: pass -c env=<name> (one of: {known})")
        if name not in environments:
            raise ValueError(f"unknown environment {name!r} (one of: {known})")
        return _parse_environment(str(name), str(context.get("project", "")), environments[name])


def read_cdk_json_context(path: Path) -> dict[str, Any]:
    """The "context" block of cdk.json, for running the app without the CDK CLI."""
    with path.open(encoding="utf-8") as handle:
        return dict(json.load(handle).get("context", {}))


def _section(raw: Mapping[str, Any], key: str, where: str, allowed: set[str]) -> dict[str, Any]:
    """Read one block, rejecting unknown and missing keys so that typos fail loudly."""
    value = raw.get(key)
    if not isinstance(value, Mapping):
        _fail(where, f"missing block {key!r}")
    block = {k: v for k, v in value.items() if not k.startswith("_")}
    unknown = set(block) - allowed
    _require(not unknown, f"{where}.{key}", f"unknown keys {sorted(unknown)}")
    return block


def _take(block: Mapping[str, Any], where: str, key: str, kind: type) -> Any:
    if key not in block:
        _fail(where, f"missing key {key!r}")
    value = block[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    _require(isinstance(value, kind) and not (kind is int and isinstance(value, bool)), where,
             f"{key!r} must be {kind.__name__}, got {value!r}")
    return value


def _parse_environment(name: str, project: str, raw: Any) -> EnvironmentConfig:
    where = f"environments.{name}"
    if not isinstance(raw, Mapping):
        _fail(where, "must be an object")
    unknown = {k for k in raw if not k.startswith("_")} - {"hub", "spokes", "training", "batch", "api", "operations"}
    _require(not unknown, where, f"unknown keys {sorted(unknown)}")
    hub = _section(raw, "hub", where, {"account", "region"})
    training = _section(raw, "training", where, {"rounds", "quorum", "default_epsilon", "delta"})
    _reject_single_queue_batch(raw, where)
    batch = _section(raw, "batch", where, {f.name for f in dataclasses.fields(BatchSettings)})
    api = _section(raw, "api", where, {f.name for f in ApiGatewaySettings.__dataclass_fields__.values()})
    ops = _section(raw, "operations", where, {f.name for f in Operations.__dataclass_fields__.values()})
    training_settings = Training(  # first: the spokes' defaults come from it
        rounds=_take(training, f"{where}.training", "rounds", int),
        quorum=_take(training, f"{where}.training", "quorum", int),
        default_epsilon=_take(training, f"{where}.training", "default_epsilon", float),
        delta=_take(training, f"{where}.training", "delta", float),
    )
    default_epsilon, default_delta = training_settings.default_epsilon, training_settings.delta
    spokes_raw = raw.get("spokes")
    _require(isinstance(spokes_raw, list), where, "'spokes' must be a list")
    spokes = []
    for index, spoke in enumerate(spokes_raw):
        spoke_where = f"{where}.spokes[{index}]"
        _require(isinstance(spoke, Mapping), spoke_where, "must be an object")
        extra = {k for k in spoke if not k.startswith("_")} - {"id", "account", "region", "epsilon_limit",
                                                                 "allow_no_dp", "max_delta"}
        _require(not extra, spoke_where, f"unknown keys {sorted(extra)}")
        limit = _take(spoke, spoke_where, "epsilon_limit", float) if "epsilon_limit" in spoke else default_epsilon
        spokes.append(Spoke(
            id=_take(spoke, spoke_where, "id", str),
            account=_take(spoke, spoke_where, "account", str),
            region=_take(spoke, spoke_where, "region", str),
            epsilon_limit=limit,
            allow_no_dp=_take(spoke, spoke_where, "allow_no_dp", bool) if "allow_no_dp" in spoke else False,
            max_delta=_take(spoke, spoke_where, "max_delta", float) if "max_delta" in spoke else default_delta,
        ))

    def fields(block: Mapping[str, Any], block_where: str, types: Mapping[str, type]) -> dict[str, Any]:
        return {key: _take(block, block_where, key, kind) for key, kind in types.items()}

    batch_values = fields(batch, f"{where}.batch", {
        "job_timeout_minutes": int, "queue_wait_minutes": int, "data_key": str})
    compute = {name: _compute_settings(batch, f"{where}.batch", name) for name in COMPUTE_CLASSES}
    return EnvironmentConfig(
        name=name,
        project=project,
        hub_account=_take(hub, f"{where}.hub", "account", str),
        hub_region=_take(hub, f"{where}.hub", "region", str),
        spokes=tuple(spokes),
        training=training_settings,
        batch=BatchSettings(**compute, **batch_values),
        api=ApiGatewaySettings(**fields(api, f"{where}.api", {
            "throttle_rate": float, "throttle_burst": int, "waf_rate_limit": int, "reserved_concurrency": int})),
        operations=Operations(**fields(ops, f"{where}.operations", {
            "alarm_email": str, "log_retention_days": int, "update_retention_days": int,
            "function_concurrency": int, "max_azs": int, "run_timeout_hours": int, "termination_protection": bool})),
    )


_PER_CLASS_KEYS = {f.name for f in dataclasses.fields(ComputeSettings)} - {"compute_class"}


def _reject_single_queue_batch(raw: Mapping[str, Any], where: str) -> None:
    """A batch block written for the single GPU queue names its sizes at the top; say where they went."""
    batch = raw.get("batch")
    flat = sorted(_PER_CLASS_KEYS & set(batch)) if isinstance(batch, Mapping) else []
    _require(not flat, f"{where}.batch",
             f"{flat} are settings of one compute class now: move them into batch.gpu (the former single "
             "queue) and give batch.cpu its own (or leave it out for the defaults)")


def _compute_settings(batch: Mapping[str, Any], where: str, compute_class: str) -> ComputeSettings:
    """batch.<class>: each key left out (or the whole block) is the class's default (DEFAULT_COMPUTE)."""
    default = DEFAULT_COMPUTE[compute_class]
    if compute_class not in batch:
        return default
    block = _section(batch, compute_class, where, _PER_CLASS_KEYS)
    block_where = f"{where}.{compute_class}"
    values: dict[str, Any] = {key: _take(block, block_where, key, int) for key in
                              ("max_vcpus", "job_vcpus", "job_memory_mib", "job_gpus", "volume_gib") if key in block}
    if "instance_types" in block:
        types = _take(block, block_where, "instance_types", list)
        _require(all(isinstance(t, str) for t in types), block_where, "instance_types must be strings")
        values["instance_types"] = tuple(types)
    return dataclasses.replace(default, **values)
