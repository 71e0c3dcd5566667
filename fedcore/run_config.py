"""Settings of one federated training run, validated once at the start.

A run holds each component's typed settings: ``privacy`` (PrivacySettings), ``training``
(TrainingSettings: TrainConfig's defaults) and ``model``, the model family's settings keyed on
``model.family``: diffusion takes DiffusionConfig's fields, flat (``model.hidden_dim``); marginal
takes MarginalConfig under ``model.marginal``; hybrid takes both and PretrainConfig under
``model.pretrain``. Each default is written once, in its component's class.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel, ConfigDict, Field, FieldSerializationInfo, ValidationInfo, create_model, field_serializer,
    field_validator, model_validator,
)

from fedcore.aggregation.registry import AGGREGATOR_NAMES, validate_strategy_params
from fedcore.deployment_defaults import DEFAULT_ACCOUNTANT, DEFAULT_DELTA
from fedcore.families.hybrid.config import PretrainConfig
from fedcore.families.marginal.config import MarginalConfig
from fedcore.families.registry import FAMILY_NAMES
from fedcore.model.config import DiffusionConfig
from fedcore.tasks.settings import TaskSettings
from fedcore.training.config import RunMixedPrecision, TrainConfig

AGGREGATION_STRATEGIES = AGGREGATOR_NAMES  # the registry's one list of strategies
# measured best with and without DP on ACTG 175 and healthcare (fedcore/model/README.md)
DEFAULT_FAMILY = "marginal"
# Configs stored and sent before ``training`` carry these at the top level (name there -> name in training).
_EARLIER_TRAINING_KEYS = {"batch_size": "batch_size", "epochs_per_round": "epochs", "learning_rate": "learning_rate"}


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


class TrainingSettings(BaseModel):
    """Each hospital's local training in a round (diffusion and hybrid families).

    The defaults are TrainConfig's, where the measurements behind them are noted; the bounds keep a
    run from asking for what no hospital can do.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(TrainConfig.batch_size, ge=1, le=1_000_000)  # expected Poisson batch; capped at a hospital's rows
    epochs: int = Field(TrainConfig.epochs, ge=1, le=1000)  # local epochs between aggregations
    learning_rate: float = Field(TrainConfig.learning_rate, gt=0, le=10, allow_inf_nan=False)  # AdamW step size
    # predictive and image tasks: "auto" = bfloat16 autocast on a CUDA GPU that supports it; "off" = float32
    mixed_precision: RunMixedPrecision = TrainConfig.mixed_precision


IMAGE_TRAINING_DEFAULTS = {"batch_size": 64, "epochs": 1, "learning_rate": 1e-3}
IMAGE_ROUNDS = 3


class _ModelSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str


DIFFUSION_SETTINGS = tuple(field.name for field in dataclasses.fields(DiffusionConfig))


class _WithDiffusion(_ModelSettings):
    """DiffusionConfig's fields, flat under ``model``; DiffusionConfig checks them, with its own messages."""

    @model_validator(mode="before")
    @classmethod
    def _checked_by_diffusion_config(cls, data: Any) -> Any:
        if isinstance(data, dict):  # exact JSON types, bounds, norm_groups dividing hidden_dim
            DiffusionConfig(**{name: value for name, value in data.items() if name in DIFFUSION_SETTINGS})
        return data

    @property
    def diffusion(self) -> DiffusionConfig:
        """The denoiser's architecture, as the model code takes it."""
        return DiffusionConfig(**{name: getattr(self, name) for name in DIFFUSION_SETTINGS})


def _fields_of(config_class) -> dict[str, Any]:
    """A config dataclass's fields as pydantic field definitions: its own types and defaults."""
    types = typing.get_type_hints(config_class)
    return {field.name: (types[field.name], field.default) for field in dataclasses.fields(config_class)}


_DiffusionFields = create_model("_DiffusionFields", __base__=_WithDiffusion, **_fields_of(DiffusionConfig))


class DiffusionModelSettings(_DiffusionFields):
    """``model`` of family diffusion: the denoiser's architecture (DiffusionConfig's fields)."""

    family: Literal["diffusion"] = "diffusion"


class MarginalModelSettings(_ModelSettings):
    """``model`` of family marginal: the marginal synthesizer's settings under ``marginal``."""

    family: Literal["marginal"] = "marginal"
    marginal: MarginalConfig = Field(default_factory=MarginalConfig)


class HybridModelSettings(_DiffusionFields):
    """``model`` of family hybrid: the denoiser's architecture (flat, as for diffusion), the marginal
    model's settings under ``marginal`` and the hub's pretraining under ``pretrain``."""

    family: Literal["hybrid"] = "hybrid"
    marginal: MarginalConfig = Field(default_factory=MarginalConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)


MODEL_SETTINGS: dict[str, type[_ModelSettings]] = {
    "diffusion": DiffusionModelSettings, "marginal": MarginalModelSettings, "hybrid": HybridModelSettings,
}
ModelSettings = Annotated[DiffusionModelSettings | MarginalModelSettings | HybridModelSettings,
                          Field(discriminator="family")]


class RunConfig(BaseModel):
    """One run: which hospitals, how many rounds, how to aggregate, how private, what to train."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rounds: int = Field(6, ge=1, le=1000)  # after the setup round; more rounds do not help under DP, 20 help without
    quorum: int = Field(2, ge=1)  # fewest hospitals whose updates make a round
    strategy: Literal[AGGREGATION_STRATEGIES] = "fedavg"  # type: ignore[valid-type]
    strategy_params: dict[str, Any] = Field(default_factory=dict)  # typed per strategy, e.g. {"eta": 0.01} for fedadam
    stats_bins: int = Field(32, ge=2, le=1024)  # setup-round histogram bins per numeric column
    numeric_transform: Literal["quantile", "standard"] = "quantile"
    privacy: PrivacySettings = PrivacySettings()
    training: TrainingSettings = TrainingSettings()
    model: ModelSettings  # left out: DEFAULT_FAMILY's defaults (_name_the_family); synthesis only
    task: TaskSettings = TaskSettings()  # what the run trains: synthesis (default), risk or survival
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _no_run_id(cls, data: Any) -> Any:
        """A run's id is its identity, not a setting: RunSpec holds it (fedcore.run_spec)."""
        if isinstance(data, dict) and "run_id" in data:
            raise ValueError("run_id is not a run setting: it is the run's identity, given beside the config "
                             "(RunSpec.run_id; fedcore.run_spec.config_of reads a stored config that carries it)")
        return data

    @model_validator(mode="before")
    @classmethod
    def _from_earlier_shape(cls, data: Any) -> Any:
        """Configs stored and sent before ``training`` existed carry batch_size, epochs_per_round and
        learning_rate (null: TrainConfig's default) at the top level; they move into ``training``."""
        if not isinstance(data, dict) or not data.keys() & _EARLIER_TRAINING_KEYS.keys():
            return data
        training = data.get("training") or {}
        if isinstance(training, TrainingSettings):
            training = training.model_dump(exclude_unset=True)
        if not isinstance(training, dict):
            return data  # validation names the bad training object
        earlier = {new: data[old] for old, new in _EARLIER_TRAINING_KEYS.items()
                   if old in data and not (old == "learning_rate" and data[old] is None)}
        twice = sorted(earlier.keys() & training.keys())
        if twice:
            raise ValueError(f"training.{twice[0]} is given twice: also at the top level, where configs "
                             "written before training settings had their own object carry it")
        rest = {key: value for key, value in data.items() if key not in _EARLIER_TRAINING_KEYS}
        return rest | {"training": training | earlier}

    @model_validator(mode="before")
    @classmethod
    def _name_the_family(cls, data: Any) -> Any:
        """The stored config always names its model family: DEFAULT_FAMILY, with or without DP, unless
        the model holds only diffusion settings (the flat diffusion keys of configs from before families)."""
        if not isinstance(data, dict):
            return data
        model = {} if data.get("model") is None else data["model"]
        if not isinstance(model, dict) or "family" in model:
            return data
        flat_diffusion = bool(model) and set(model) <= set(DiffusionModelSettings.model_fields) - {"family"}
        return data | {"model": model | {"family": "diffusion" if flat_diffusion else DEFAULT_FAMILY}}

    @field_validator("model", mode="before")
    @classmethod
    def _settings_of_its_family(cls, model: Any) -> Any:
        """A known family, and no settings of another one (the message says whose they are)."""
        if not isinstance(model, dict):
            return model
        family = model.get("family")
        if family not in MODEL_SETTINGS:
            raise ValueError(f"model.family must be one of {FAMILY_NAMES}, got {family!r}")
        owners = {key: [name for name, settings in MODEL_SETTINGS.items() if key in settings.model_fields]
                  for key in model if key not in MODEL_SETTINGS[family].model_fields}
        foreign = {key: names for key, names in owners.items() if names}
        if foreign:
            whose = "; ".join(f"model.{key} is a setting of {' and '.join(names)}" for key, names in foreign.items())
            raise ValueError(f"settings of another family mean nothing to family {family!r}: {whose}")
        return model

    @field_validator("strategy_params")
    @classmethod
    def _typed_strategy_params(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Each strategy's own parameters, typed and bounded (fedcore/aggregation/strategy_params.py)."""
        strategy = info.data.get("strategy")
        return params if strategy is None else validate_strategy_params(strategy, params)

    @model_validator(mode="before")
    @classmethod
    def _no_model_for_predictive_tasks(cls, data: Any) -> Any:
        """A predictive task trains its own network (``task.hidden_dim``, ``task.blocks``): a model family's
        settings would be silently ignored, so they are refused."""
        if not isinstance(data, dict):
            return data
        task = data.get("task")
        name = task.get("name") if isinstance(task, dict) else getattr(task, "name", None)
        model = data.get("model")
        if name not in (None, "synthesis") and isinstance(model, dict) and set(model) - {"family"}:
            raise ValueError(f"model settings belong to the synthesis task's model families; task {name!r} "
                             "takes its network's settings under task (hidden_dim, blocks)")
        training = data.get("training")
        if name == "image" and (training is None or isinstance(training, dict)):
            # ResNet-18 from scratch: the tabular defaults' AdamW step (1e-2) diverges and a 256-image batch of
            # per-sample gradients (Opacus) needs about 11 GB; the run's own training settings still win
            data = data | {"training": IMAGE_TRAINING_DEFAULTS | (training or {})}
        if name == "image" and "rounds" not in data:
            data = data | {"rounds": IMAGE_ROUNDS}  # 3 rounds of DP-SGD on ResNet-18 take about 4 minutes on 2 CPU cores
        return data

    @model_validator(mode="after")
    def _check(self) -> "RunConfig":
        if self.strategy == "fairfed" and not self.task.predictive:
            raise ValueError("strategy fairfed weighs hospitals by their fairness gaps, which only the predictive "
                             "tasks (risk, survival) measure; synthesis runs cannot use it")
        if self.strategy == "fedprox" and "proximal_mu" not in self.strategy_params:
            raise ValueError("strategy fedprox needs strategy_params.proximal_mu")
        self.train_config()  # TrainConfig's own checks too, before any privacy is spent
        return self

    @field_serializer("model")
    def _settings_given(self, model: _ModelSettings, info: FieldSerializationInfo) -> dict[str, Any]:
        """The family and the settings the run gave it, not every default: the form in which runs are
        stored and sent (the published model version records the settings in full)."""
        return {"family": model.family} | model.model_dump(mode=info.mode, exclude_unset=True)

    @field_serializer("task")
    def _task_given(self, task: TaskSettings, info: FieldSerializationInfo) -> dict[str, Any]:
        """The task's name and the settings the run gave it (as for ``model``)."""
        return {"name": task.name} | task.model_dump(mode=info.mode, exclude_unset=True)

    @property
    def family(self) -> str:
        return self.model.family

    def train_config(self) -> TrainConfig:
        """What each hospital's local training runs with: the run's training settings, FedProx's mu."""
        return TrainConfig(**self.training.model_dump(),
                           proximal_mu=float(self.strategy_params.get("proximal_mu", 0.0)))
