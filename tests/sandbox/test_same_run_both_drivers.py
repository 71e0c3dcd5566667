"""The simulation and the sandbox differ only in who calls the steps (STYLE.md 14, issue 10 item 1).

The same run (same run id, config, seed, hospitals, rows, policies and deployment settings) goes
once through the synthesized state machine in the sandbox and once through ``drive_run`` over
in-memory stores. Both must charge every hospital the same releases, in both its hub account and
its own ledger, and append the same audit entries in the same order. The hub steps run one after
another in both (the state machine's Map runs only the spoke jobs in parallel, and they write no
audit entry), so the order is compared, not just the multiset.
"""

from __future__ import annotations

import json
import os

import pytest

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.aws.s3_ledger import S3LedgerStore
from fedcore.datasets import builtin_schema
from fedcore.deployment_defaults import DeploymentDefaults
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime.driver import LocalHospital, drive_run
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.runtime.spoke_policy import SpokePolicy, policy_parameter_name
from fedcore.sealing import LocalKeyProvider
from sandbox_helpers import partitions, run, tiny_config

pytestmark = pytest.mark.slow

CONFIGS = {
    "diffusion": tiny_config(),
    "marginal": {"schema": "actg175", "model": {"family": "marginal", "marginal": {"fit_iterations": 200}},
                 "privacy": {"target_epsilon": 1.0}},
}


def charges(ledger: PrivacyLedger, spoke: str, run_id: str) -> list[tuple]:
    """The spoke's charges for the run, without what differs between any two runs (time)."""
    return [(c.round, c.records) for c in ledger.history(spoke) if c.run == run_id]


def own_ledger(sandbox, spoke: str) -> PrivacyLedger:
    """The hospital's own ledger, read from its data bucket with its own account's credentials."""
    bucket = sandbox.deployment.spokes[spoke].data_bucket
    delta = float(sandbox.hub.functions["aggregate"].environment["DELTA"])
    return PrivacyLedger(S3LedgerStore(bucket, client=sandbox.spoke_client(spoke, "s3")), delta)


def audit_trail(audit: AuditLog, run_id: str) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.event_id) for e in audit.entries() if e.details.get("run_id") == run_id]


def drive_like_the_sandbox(sandbox, run_id: str, config: dict):
    """``drive_run`` with what the deployment gives the sandbox's steps: InitRun's settings, each
    hospital's policy (its own parameter) and rows, and a ledger for each kept as its job keeps it."""
    env = sandbox.hub.functions["init_run"].environment
    defaults = DeploymentDefaults.from_env(env)
    body = dict(config)
    schema = builtin_schema(body.pop("schema"))
    services = HubServices(blobs=InMemoryBlobStore(), keys=LocalKeyProvider(os.urandom(32)),
                           ledger=PrivacyLedger(InMemoryLedgerStore(), defaults.delta, defaults.accountant),
                           audit=AuditLog(InMemoryAuditStore()), runs=InMemoryRunStore())
    hospitals = []
    for spoke, table in partitions(sandbox.spoke_ids).items():
        parameter = sandbox.spoke_client(spoke, "ssm").get_parameter(Name=policy_parameter_name(spoke))
        policy = SpokePolicy.from_json(parameter["Parameter"]["Value"])
        hospitals.append(LocalHospital(spoke, table, policy,
                                       PrivacyLedger(InMemoryLedgerStore(), delta=policy.max_delta,
                                                     settings_owner=True)))
    assert json.loads(env["SPOKE_IDS"]) == sandbox.spoke_ids
    final = drive_run(services, run_id, defaults.apply(body), schema, hospitals, float(env["DEFAULT_EPSILON"]),
                      seed=body.get("seed", 0))
    return final, services, {h.spoke_id: h.ledger for h in hospitals}


@pytest.mark.parametrize("family", CONFIGS)
def test_the_sandbox_and_the_driver_charge_and_audit_the_same_run_alike(sandbox, family):
    # Arrange
    run_id, config = f"same-{family}", CONFIGS[family]

    # Act
    result, hub = run(sandbox, run_id, config)
    final, local, local_ledgers = drive_like_the_sandbox(sandbox, run_id, config)

    # Assert
    assert result.status == "SUCCEEDED" and hub.runs.get_run(run_id)["status"] == "COMPLETED"
    assert final["status"] == "COMPLETED"
    for spoke in sandbox.spoke_ids:
        assert charges(hub.ledger, spoke, run_id), spoke
        assert charges(local.ledger, spoke, run_id) == charges(hub.ledger, spoke, run_id), spoke
        own = own_ledger(sandbox, spoke)
        assert charges(local_ledgers[spoke], spoke, run_id) == charges(own, spoke, run_id), spoke
    trail = audit_trail(hub.audit, run_id)
    assert (trail[0][1], trail[-1][1]) == ("run.started", "run.finished")
    assert audit_trail(local.audit, run_id) == trail
