"""Flower's server strategies (flwr 1.41, ``flwr.server.strategy``) behind ``Aggregator``.

Each round the wrapper converts ``ClientUpdate``s to ``FitRes`` (tensors in sorted-name
order, serialized by Flower's own ``ndarrays_to_parameters``, which never pickles), calls
the strategy's ``aggregate_fit`` and converts the result back to named tensors with the
global weights' dtypes. Algorithms:

- FedProx (Li et al. 2020, https://arxiv.org/abs/1812.06127): server aggregation is
  FedAvg; the proximal term is applied by the client's loss, so ``proximal_mu`` is exposed
  for the trainer (Flower sends it in the fit config the same way).
- FedAdam / FedYogi / FedAdagrad (Reddi et al. 2021, https://arxiv.org/abs/2003.00295):
  server optimizer over the FedAvg pseudo-gradient; moments m_t/v_t and the round count
  are this aggregator's state.
- FedTrimmedAvg (Yin et al. 2018, https://arxiv.org/abs/1803.01498), FedMedian (same
  paper), Krum (Blanchard et al. 2017, NeurIPS): robust rules; Flower ignores
  num_examples in them (except multi-Krum's final average).

Unlike ``StreamingFedAvg`` these hold every update of the round in memory
(O(model x spokes)): Flower's ``aggregate_fit`` takes the whole list at once.

Flower quirks handled here: FedOpt strategies require ``initial_parameters`` and keep
their own ``current_weights``; the wrapper instead sets ``current_weights`` to the global
weights it is given every round (the published global model is the source of truth, and
a restarted hub then reproduces an uninterrupted one exactly). FedOpt's bias correction
uses ``server_round``, which is the number of rounds this aggregator (or the state it
loaded) has aggregated, plus one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import strategy as flwr_strategies
from flwr.server.client_proxy import ClientProxy

from fedcore.aggregation.aggregator import AggregationResult, ClientUpdate
from fedcore.aggregation.round_tally import OnInvalidUpdate, RoundTally

logger = logging.getLogger(__name__)

__all__ = ["FLOWER_STRATEGIES", "FlowerStrategyAggregator"]

FLOWER_STRATEGIES: dict[str, str] = {
    "fedavg": "FedAvg",
    "fedprox": "FedProx",
    "fedadam": "FedAdam",
    "fedyogi": "FedYogi",
    "fedadagrad": "FedAdagrad",
    "fedtrimmedavg": "FedTrimmedAvg",
    "fedmedian": "FedMedian",
    "krum": "Krum",
}
_SERVER_OPTIMIZERS = {"fedadam", "fedyogi", "fedadagrad"}  # FedOpt subclasses: m_t, v_t
_RESERVED_KWARGS = {"initial_parameters", "fit_metrics_aggregation_fn"}


class _SpokeProxy(ClientProxy):
    """Stands in for a Flower client: aggregate_fit only needs the (proxy, FitRes) pairs."""

    def _not_connected(self, *_: Any, **__: Any) -> Any:
        raise NotImplementedError("fedcore spokes are not reachable through Flower proxies")

    get_properties = get_parameters = fit = evaluate = reconnect = _not_connected


class FlowerStrategyAggregator:
    """An ``Aggregator`` backed by a Flower strategy, e.g. ``("krum", num_malicious_clients=1)``."""

    def __init__(self, name: str, **strategy_kwargs: Any) -> None:
        if name not in FLOWER_STRATEGIES:
            raise ValueError(
                f"unknown Flower strategy {name!r}; choose from {sorted(FLOWER_STRATEGIES)}"
            )
        reserved = sorted(_RESERVED_KWARGS & set(strategy_kwargs))
        if reserved:
            raise ValueError(
                f"{reserved} are set by fedcore (global weights come with each round; "
                "metrics are averaged by num_examples)"
            )
        self.name = name
        kwargs: dict[str, Any] = {"fit_metrics_aggregation_fn": lambda _: {}, **strategy_kwargs}
        if name in _SERVER_OPTIMIZERS:
            kwargs["initial_parameters"] = ndarrays_to_parameters([])  # replaced every round
        strategy_class = getattr(flwr_strategies, FLOWER_STRATEGIES[name])
        try:
            self._strategy = strategy_class(**kwargs)
        except TypeError as error:  # e.g. FedProx without proximal_mu, a misspelled option
            raise ValueError(
                f"invalid options for Flower {strategy_class.__name__}: {error}"
            ) from error
        self._rounds = 0  # rounds aggregated so far (FedOpt's bias correction needs it)
        self._moment_names: list[str] = []  # tensor order of the strategy's m_t / v_t

    @property
    def proximal_mu(self) -> float | None:
        """FedProx's proximal coefficient for the client loss; None for other strategies."""
        return float(self._strategy.proximal_mu) if self.name == "fedprox" else None

    def aggregate(
        self, global_weights: Mapping[str, np.ndarray], updates: Iterable[ClientUpdate],
        on_invalid: OnInvalidUpdate | None = None,
    ) -> AggregationResult:
        tally = RoundTally(global_weights, on_invalid)
        names = sorted(global_weights)
        results = [_to_fit_result(update, names) for update in tally.admitted(updates)]
        spokes, total_examples, metrics = tally.finish()
        if self.name in _SERVER_OPTIMIZERS:
            self._check_moments(global_weights, names)
            self._strategy.current_weights = [np.array(global_weights[n]) for n in names]
        parameters, _ = self._strategy.aggregate_fit(self._rounds + 1, results, [])
        if parameters is None:
            raise RuntimeError(f"Flower {self.name} returned no parameters")
        new_weights = {}
        for name, array in zip(names, parameters_to_ndarrays(parameters), strict=True):
            expected = global_weights[name]
            if array.shape != expected.shape:
                raise RuntimeError(f"Flower {self.name} returned shape {array.shape} for {name!r}")
            new_weights[name] = array.astype(expected.dtype)
        self._rounds += 1
        logger.info("%s over %d spokes, %d examples", self.name, len(spokes), total_examples)
        return AggregationResult(new_weights, spokes, total_examples, metrics)

    def state(self) -> dict[str, np.ndarray]:
        """FedOpt strategies: round count and moments as named tensors; others: ``{}``."""
        if self.name not in _SERVER_OPTIMIZERS:
            return {}
        state = {"rounds": np.array(self._rounds, dtype=np.int64)}
        for moment in ("m_t", "v_t"):
            values = getattr(self._strategy, moment)
            if values is not None:
                for name, value in zip(self._moment_names, values, strict=True):
                    state[f"{moment}/{name}"] = np.array(value, copy=True)
        return state

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore ``state()`` output; checks what it loads (names, counters, pairs)."""
        if self.name not in _SERVER_OPTIMIZERS:
            if state:
                raise ValueError(f"{self.name} is stateless; got state entries {sorted(state)}")
            return
        if not state:
            self._rounds, self._strategy.m_t, self._strategy.v_t = 0, None, None
            return
        unknown = sorted(k for k in state if k != "rounds" and not k.startswith(("m_t/", "v_t/")))
        if "rounds" not in state or unknown:
            raise ValueError(
                f"{self.name} state needs 'rounds', 'm_t/*', 'v_t/*'; unexpected {unknown}"
            )
        rounds = np.asarray(state["rounds"])
        if rounds.shape != () or not np.issubdtype(rounds.dtype, np.integer) or rounds < 0:
            raise ValueError(f"{self.name} state 'rounds' must be a non-negative integer scalar")
        m_names = sorted(k[len("m_t/") :] for k in state if k.startswith("m_t/"))
        v_names = sorted(k[len("v_t/") :] for k in state if k.startswith("v_t/"))
        if m_names != v_names:
            raise ValueError(f"{self.name} state has mismatched m_t/v_t tensors")
        for key in state:
            if key != "rounds" and not np.isfinite(state[key]).all():
                raise ValueError(f"{self.name} state tensor {key!r} is not finite")
        self._rounds = int(rounds)
        self._moment_names = m_names
        self._strategy.m_t = [np.array(state[f"m_t/{n}"]) for n in m_names] or None
        self._strategy.v_t = [np.array(state[f"v_t/{n}"]) for n in v_names] or None

    def _check_moments(self, global_weights: Mapping[str, np.ndarray], names: list[str]) -> None:
        """Loaded moments must belong to this model (same names and shapes)."""
        if self._strategy.m_t is None:
            self._moment_names = names
            return
        if self._moment_names != names:
            raise ValueError(
                f"{self.name} state was saved for tensors {self._moment_names}, model has {names}"
            )
        for name, m, v in zip(names, self._strategy.m_t, self._strategy.v_t, strict=True):
            if m.shape != global_weights[name].shape or v.shape != global_weights[name].shape:
                raise ValueError(f"{self.name} state tensor {name!r} does not match the model")


def _to_fit_result(update: ClientUpdate, names: list[str]) -> tuple[ClientProxy, FitRes]:
    """A Flower (proxy, FitRes) pair; tensors in ``names`` order, metrics kept by fedcore."""
    parameters = ndarrays_to_parameters([update.weights[n] for n in names])
    fit_res = FitRes(Status(Code.OK, ""), parameters, update.num_examples, metrics={})
    return _SpokeProxy(update.spoke), fit_res
