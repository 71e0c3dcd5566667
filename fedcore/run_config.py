"""Settings of one federated training run, validated once at the start."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from fedcore.aggregation.registry import AGGREGATOR_NAMES, validate_strategy_params
from fedcore.deployment_defaults import DEFAULT_ACCOUNTANT, DEFAULT_DELTA

AGGREGATION_STRATEGIES = AGGREGATOR_NAMES  # the registry's one list of strategies
MODEL_FAMILIES = ("diffusion", "marginal", "hybrid")
DEFAULT_FAMILY = "marginal"  # for DP runs (measured best, fedcore/model/README.md); without DP: diffusion
_NON_DIFFUSION_KEYS = ("family", "marginal", "pretrain")


class PrivacySettings(BaseModel):
    """Record-level DP per hospital over the whole run (setup round + every training round)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    target_epsilon: float = Field(3.0, gt=0)  # per hospital, whole run; pair trends ~0.73-0.79 on ACTG 175 here
    # delta and accountant must be those of every hospital's ledger account (deployment_defaults.py);
    # a deployment fills them in when a run leaves them out
    delta: float = Field(DEFAULT_DELTA, gt=0, lt=1)  # well below 1/rows for hospitals of a few hundred patients
    accountant: Literal["rdp", "prv"] = DEFAULT_ACCOUNTANT  # RDP is conservative; PRV is tighter but slower
    noise_multiplier: float | None = Field(None, gt=0)  # given: used as is; None: planned from target
    max_grad_norm: float = Field(1.0, gt=0)  # DP-SGD's per-row clipping bound C (DPConfig gets it through the plan)
    setup_epsilon_share: float = Field(0.1, gt=0, lt=1)  # share of the target spent on setup statistics
    # hybrid family: share of the target for the marginal releases (setup, select, measure);
    # the rest goes to DP-SGD fine-tuning. The marginal family spends the whole target on them.
    measurement_share: float = Field(0.5, gt=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _no_ledger_limit(cls, data: Any) -> Any:
        """The ledger limit is each hospital's account's (deployment config, then admins), never the run's.

        Configs stored before this rule carry ``epsilon_limit: null``; it is dropped.
        """
        if isinstance(data, dict) and "epsilon_limit" in data:
            if data["epsilon_limit"] is not None:
                raise ValueError("privacy.epsilon_limit is not a run setting: each hospital's ledger account holds "
                                 "its limit (set by the deployment's spoke config and by admins)")
            data = {k: v for k, v in data.items() if k != "epsilon_limit"}
        return data


class RunConfig(BaseModel):
    """One run: which hospitals, how many rounds, how to aggregate, how private."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field("run-local", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
    rounds: int = Field(6, ge=1, le=1000)  # after the setup round; more rounds do not help under DP, 20 help without
    quorum: int = Field(2, ge=1)  # fewest hospitals whose updates make a round
    strategy: Literal[AGGREGATION_STRATEGIES] = "fedavg"  # type: ignore[valid-type]
    strategy_params: dict[str, Any] = Field(default_factory=dict)  # typed per strategy, e.g. {"eta": 0.01} for fedadam
    batch_size: int = Field(256, ge=1, le=1_000_000)  # expected Poisson batch; capped at a hospital's rows
    epochs_per_round: int = Field(5, ge=1, le=1000)  # local epochs between aggregations
    stats_bins: int = Field(32, ge=2, le=1024)  # setup-round histogram bins per numeric column
    numeric_transform: Literal["quantile", "standard"] = "quantile"
    privacy: PrivacySettings = PrivacySettings()
    model: dict[str, Any] = Field(default_factory=dict)  # {"family": ..., diffusion overrides, "marginal": {...}}
    learning_rate: float | None = Field(None, gt=0, le=10, allow_inf_nan=False)  # None = TrainConfig's default
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _name_the_family(cls, data: Any) -> Any:
        """The stored config always names its model family (default: DEFAULT_FAMILY for DP runs)."""
        if isinstance(data, dict):
            model = dict(data.get("model") or {})
            if "family" not in model:
                privacy = data.get("privacy") or {}
                enabled = privacy.enabled if isinstance(privacy, PrivacySettings) else privacy.get("enabled", True)
                model["family"] = DEFAULT_FAMILY if enabled else "diffusion"
            data = dict(data) | {"model": model}
        return data

    @field_validator("strategy_params")
    @classmethod
    def _typed_strategy_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Each strategy's own parameters, typed and bounded (fedcore/aggregation/strategy_params.py)."""
        strategy = info.data.get("strategy")
        return params if strategy is None else validate_strategy_params(strategy, params)

    @model_validator(mode="after")
    def _check(self) -> "RunConfig":
        if self.strategy == "fedprox" and "proximal_mu" not in self.strategy_params:
            raise ValueError("strategy fedprox needs strategy_params.proximal_mu")
        if self.family not in MODEL_FAMILIES:
            raise ValueError(f"model.family must be one of {MODEL_FAMILIES}, got {self.family!r}")
        self.train_config()  # training settings are checked here too, before any privacy is spent
        if self.family in ("diffusion", "hybrid"):
            self.diffusion_config()  # model overrides are checked here, not at first training
        if self.family in ("marginal", "hybrid"):
            self.marginal_config()
        elif "marginal" in self.model:
            raise ValueError(f"model.marginal settings mean nothing to family {self.family!r}")
        if self.family == "hybrid":
            self.pretrain_config()
        elif "pretrain" in self.model:
            raise ValueError(f"model.pretrain settings mean nothing to family {self.family!r}")
        unknown = set(self.model) - {"family", "marginal"}
        if self.family == "marginal" and unknown:
            raise ValueError(f"unknown model setting for family marginal: {sorted(unknown)}; "
                             "its settings go under model.marginal")
        return self

    @property
    def family(self) -> str:
        return str(self.model.get("family", "diffusion"))

    def diffusion_config(self):
        from fedcore.model.config import DiffusionConfig

        settings = {k: v for k, v in self.model.items() if k not in _NON_DIFFUSION_KEYS}
        try:
            return DiffusionConfig(**settings)
        except TypeError as exc:
            raise ValueError(f"unknown model setting: {exc}") from exc

    def marginal_config(self):
        from fedcore.families.marginal.config import MarginalConfig

        return MarginalConfig.model_validate(self.model.get("marginal") or {})

    def pretrain_config(self):
        from fedcore.families.hybrid.config import PretrainConfig

        return PretrainConfig.model_validate(self.model.get("pretrain") or {})

    def train_config(self):
        from fedcore.training.config import TrainConfig

        extra = {"learning_rate": self.learning_rate} if self.learning_rate else {}
        return TrainConfig(
            batch_size=self.batch_size, epochs=self.epochs_per_round,
            proximal_mu=float(self.strategy_params.get("proximal_mu", 0.0)), **extra,
        )
