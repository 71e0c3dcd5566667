"""The parameters each aggregation strategy takes, typed and bounded (one model per strategy).

A run's ``strategy_params`` are checked against these when the run is validated, before any
privacy is spent, so a bad value is refused at POST /runs, InitRun, ``simulate`` and ``demo``
rather than at the first aggregation. Only what the hub's aggregation uses is accepted: the
client learning rate of FedOpt (Flower's ``eta_l``) is the run's ``training.learning_rate``, and
Flower's client-sampling options mean nothing here (every admitted hospital takes part).
Parameters left out take Flower's own defaults (FairFed, not a Flower strategy, has its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["STRATEGY_PARAMS", "validate_strategy_params"]

_Float = Annotated[float, Field(allow_inf_nan=False)]


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FedAvgParams(_Params):
    """Streaming FedAvg (McMahan et al. 2017) takes no parameters."""


class FedProxParams(_Params):
    proximal_mu: Annotated[_Float, Field(ge=0, le=100)]  # strength of the client's proximal term (Li et al. 2020)


class FedOptParams(_Params):
    """FedAdam and FedYogi (Reddi et al. 2021); None = Flower's default for that strategy."""

    eta: Annotated[_Float, Field(gt=0, le=10)] | None = None  # server learning rate
    beta_1: Annotated[_Float, Field(ge=0, lt=1)] | None = None  # first-moment decay
    beta_2: Annotated[_Float, Field(ge=0, lt=1)] | None = None  # second-moment decay
    tau: Annotated[_Float, Field(gt=0, le=1)] | None = None  # adaptivity (denominator floor)


class FedAdagradParams(_Params):
    eta: Annotated[_Float, Field(gt=0, le=10)] | None = None  # server learning rate
    tau: Annotated[_Float, Field(gt=0, le=1)] | None = None  # adaptivity (denominator floor)


class FedTrimmedAvgParams(_Params):
    beta: Annotated[_Float, Field(ge=0, lt=0.5)] | None = None  # share cut from each tail (Yin et al. 2018)


class KrumParams(_Params):
    num_malicious_clients: Annotated[int, Field(ge=0, le=1000)] | None = None  # f (Blanchard et al. 2017)
    num_clients_to_keep: Annotated[int, Field(ge=0, le=1000)] | None = None  # >0: multi-Krum's average


class FairFedParams(_Params):
    """FairFed (Ezzeldin et al. 2023), fedcore's own implementation; the defaults are fedcore's."""

    beta: Annotated[_Float, Field(gt=0, le=10)] = 1.0  # fairness budget: weight moved per unit of gap deviation
    max_weight_ratio: Annotated[_Float, Field(ge=1, le=100)] = 2.0  # a weight stays <= this x the row share


STRATEGY_PARAMS: dict[str, type[_Params]] = {
    "fedavg": FedAvgParams,
    "fedprox": FedProxParams,
    "fedadam": FedOptParams,
    "fedyogi": FedOptParams,
    "fedadagrad": FedAdagradParams,
    "fedtrimmedavg": FedTrimmedAvgParams,
    "fedmedian": FedAvgParams,
    "krum": KrumParams,
    "fairfed": FairFedParams,
}


def validate_strategy_params(strategy: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` typed for ``strategy`` (Krum's ``1.0`` becomes ``1``); only the ones given (a
    default, e.g. FairFed's ``beta``, is the aggregator's own and is left out, as Flower's are).

    Raises ``ValueError`` naming the strategy and the parameter for an unknown strategy, an
    unknown parameter or a value out of bounds.
    """
    if strategy not in STRATEGY_PARAMS:
        raise ValueError(f"unknown aggregation strategy {strategy!r}; valid: {', '.join(STRATEGY_PARAMS)}")
    model = STRATEGY_PARAMS[strategy]
    if not isinstance(params, Mapping):
        raise ValueError(f"strategy_params must be an object, got {type(params).__name__}")
    try:
        typed = model.model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(_describe(strategy, model, e) for e in exc.errors())
        raise ValueError(f"invalid strategy_params for {strategy}: {problems}") from None
    return typed.model_dump(exclude_none=True, exclude_unset=True)


def _describe(strategy: str, model: type[_Params], error: Any) -> str:
    name = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        accepted = ", ".join(model.model_fields) or "none"
        return f"{strategy} takes no parameter {name!r} (accepted: {accepted})"
    return f"{name}: {error['msg']}"
