import os

import pytest

from fedcore.audit import AuditLog, InMemoryAuditStore
from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet
from fedcore.privacy import InMemoryLedgerStore, PrivacyLedger
from fedcore.runtime.memory_stores import InMemoryBlobStore, InMemoryRunStore
from fedcore.runtime.ports import HubServices
from fedcore.sealing import LocalKeyProvider



@pytest.fixture(scope="session")
def actg_parts():
    dataset = load_actg175()
    parts = partition_dirichlet(dataset.frame, 3, "arms", seed=0)
    return dataset.schema, {f"s{i}": p.to_csv(index=False).encode() for i, p in enumerate(parts)}


@pytest.fixture
def services():
    return HubServices(
        blobs=InMemoryBlobStore(),
        keys=LocalKeyProvider(os.urandom(32)),
        ledger=PrivacyLedger(InMemoryLedgerStore(), 1e-5),
        audit=AuditLog(InMemoryAuditStore()),
        runs=InMemoryRunStore(),
    )
