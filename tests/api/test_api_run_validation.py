"""POST /runs refuses bad strategy, model and training settings before anything starts (issue 9, item 8)."""

from __future__ import annotations

import json

import pytest
from apigw import ADMIN, Gateway
from conftest import api_settings  # at module level: in a whole-suite run a later `conftest` is another folder's

from fedcore.aggregation import AGGREGATOR_NAMES


def _nothing_started(services, app, sfn) -> None:
    arn = app.state.api_context.settings.state_machine_arn
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    assert services.runs.list_runs() == []
    assert services.blobs.list_keys("") == []
    assert services.ledger._store.list_spokes() == []
    assert [e for e in services.audit.entries() if e.action == "run.start_requested"] == []


@pytest.mark.parametrize("body, message", [
    ({"strategy": "fedavg", "strategy_params": {"eta": -1}}, "fedavg takes no parameter 'eta'"),
    ({"strategy": "fedprox", "strategy_params": {"proximal_mu": -1}}, "proximal_mu"),
    ({"strategy": "fedadam", "strategy_params": {"eta_l": 0.1}}, "fedadam takes no parameter 'eta_l'"),
    ({"strategy": "krum", "strategy_params": {"num_malicious_clients": 1.5}}, "num_malicious_clients"),
    ({"model": {"family": "diffusion", "hidden_dim": 1e9}}, "hidden_dim must be an integer"),
    ({"model": {"family": "diffusion", "hidden_dim": 10**9}}, "hidden_dim must be in [1, 4096]"),
    ({"model": {"family": "diffusion", "timesteps": 10**7}}, "timesteps"),
])
def test_a_bad_run_is_refused_with_a_specific_message_and_nothing_is_stored(empty_hub, body, message):
    # Arrange
    services, app, sfn = empty_hub

    # Act
    reply = Gateway(app)("POST", "/runs", ADMIN, body=body)

    # Assert
    assert (reply.status, reply.code) == (422, "invalid_run_config"), reply.text
    assert message in reply.json()["error"]["message"]
    _nothing_started(services, app, sfn)


def test_krum_parameters_arrive_typed_and_every_registry_strategy_can_be_chosen(empty_hub):
    # Arrange
    services, app, sfn = empty_hub
    gateway = Gateway(app)

    # Act
    krum = gateway("POST", "/runs", ADMIN, body={"run_id": "krum-1", "strategy": "krum",
                                                  "strategy_params": {"num_malicious_clients": 1}})
    others = {name: gateway("POST", "/runs", ADMIN, body={"run_id": f"s-{name}", "strategy": name,
                                                         **({"strategy_params": {"proximal_mu": 0.01}}
                                                            if name == "fedprox" else {}),
                                                         # fairfed weighs fairness gaps: predictive tasks only
                                                         **({"task": {"name": "risk"}} if name == "fairfed" else {})})
              for name in AGGREGATOR_NAMES}

    # Assert
    assert krum.status == 202, krum.text
    execution = sfn.describe_execution(executionArn=krum.json()["execution_arn"])
    sent = json.loads(execution["input"])["config"]["strategy_params"]
    assert sent == {"num_malicious_clients": 1} and isinstance(sent["num_malicious_clients"], int)
    assert {"fedyogi", "fedadagrad"} <= set(AGGREGATOR_NAMES)
    assert {name: reply.status for name, reply in others.items()} == {name: 202 for name in AGGREGATOR_NAMES}


def test_the_api_applies_the_deployment_defaults_exactly_as_init_run_does(sfn):
    # Arrange: one deployment's defaults, seen by the API (settings) and by InitRun (DeploymentDefaults)
    import os

    from fedcore.audit import AuditLog, InMemoryAuditStore
    from fedcore.deployment_defaults import DeploymentDefaults
    from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
    from fedcore.run_config import RunConfig
    from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
    from fedcore.runtime.ports import HubServices
    from fedcore.sealing import LocalKeyProvider
    from functions.api_app import create_app

    client, arn = sfn
    services = HubServices(InMemoryBlobStore(), LocalKeyProvider(os.urandom(32)),
                           PrivacyLedger(InMemoryLedgerStore(), 1e-6, "prv"), AuditLog(InMemoryAuditStore()),
                           InMemoryRunStore())
    settings = api_settings(arn, delta=1e-6, accountant="prv", default_rounds=4, default_quorum=3,
                            inline_row_limit=100, max_rows=100)
    app = create_app(services, settings, sfn_client=client)
    defaults = DeploymentDefaults(delta=1e-6, accountant="prv", rounds=4, quorum=3)

    # Act
    reply = Gateway(app)("POST", "/runs", ADMIN, body={"run_id": "same", "target_epsilon": 2.0})
    from_sandbox = RunConfig.model_validate(defaults.apply({"privacy": {"target_epsilon": 2.0}}))

    # Assert
    assert reply.status == 202, reply.text
    sent = json.loads(client.describe_execution(executionArn=reply.json()["execution_arn"])["input"])["config"]
    sent.pop("schema")
    assert sent == from_sandbox.model_dump(mode="json", exclude={"run_id"})
    assert (sent["rounds"], sent["quorum"], sent["privacy"]["delta"], sent["privacy"]["accountant"]) == (4, 3, 1e-6, "prv")
