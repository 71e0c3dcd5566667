"""A bad run is refused when it is validated, before round 0 spends anything (issue 9, item 8)."""

from __future__ import annotations

import os

import pytest

from fedcore.aggregation import AGGREGATOR_NAMES
from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.datasets import load_actg175
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.run_config import AGGREGATION_STRATEGIES, RunConfig
from fedcore.runtime.init_run import init_run
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.sealing import LocalKeyProvider

SPOKES = [{"spoke_id": s} for s in ("s0", "s1", "s2")]
BAD_RUNS = {
    "fedavg with eta": {"strategy": "fedavg", "strategy_params": {"eta": -1}},
    "negative proximal mu": {"strategy": "fedprox", "strategy_params": {"proximal_mu": -1}},
    "misspelled krum option": {"strategy": "krum", "strategy_params": {"num_malicious": 1}},
    "trimmed mean cutting everything": {"strategy": "fedtrimmedavg", "strategy_params": {"beta": 0.7}},
    "huge model": {"model": {"family": "diffusion", "hidden_dim": 1e9}},
    "non-finite learning rate": {"learning_rate": float("inf"), "model": {"family": "diffusion"}},
}


def _services() -> HubServices:
    return HubServices(InMemoryBlobStore(), LocalKeyProvider(os.urandom(32)),
                       PrivacyLedger(InMemoryLedgerStore(), 1e-5), AuditLog(InMemoryAuditStore()),
                       InMemoryRunStore())


@pytest.mark.parametrize("name", sorted(BAD_RUNS))
def test_init_run_refuses_a_bad_run_and_stores_nothing(name):
    # Arrange
    services = _services()

    # Act
    with pytest.raises(ValueError):
        init_run(services, "bad-run", BAD_RUNS[name], load_actg175().schema, SPOKES, 3.0)

    # Assert
    assert services.runs.list_runs() == []
    assert services.blobs.list_keys("") == []
    assert services.ledger._store.list_spokes() == []
    assert list(services.audit.entries()) == []


def test_strategy_parameters_are_typed_per_strategy():
    krum = RunConfig(strategy="krum", strategy_params={"num_malicious_clients": 1.0})
    adam = RunConfig(strategy="fedadam", strategy_params={"eta": 0.05, "beta_1": 0.8})

    assert krum.strategy_params == {"num_malicious_clients": 1}
    assert type(krum.strategy_params["num_malicious_clients"]) is int
    assert adam.strategy_params == {"eta": 0.05, "beta_1": 0.8}
    assert RunConfig.model_validate(krum.model_dump(mode="json")) == krum  # a stored config re-validates


def test_the_registry_is_the_one_list_of_strategies_and_each_builds_its_aggregator():
    from fedcore.aggregation import make_aggregator

    assert AGGREGATION_STRATEGIES == AGGREGATOR_NAMES
    assert {"fedyogi", "fedadagrad"} <= set(AGGREGATION_STRATEGIES)
    for name in AGGREGATOR_NAMES:
        params = {"proximal_mu": 0.01} if name == "fedprox" else {}
        task = {"name": "risk"} if name == "fairfed" else {}  # fairfed weighs fairness gaps: predictive tasks only
        config = RunConfig(strategy=name, strategy_params=params, **({"task": task} if task else {}))
        assert make_aggregator(config.strategy, **config.strategy_params) is not None
