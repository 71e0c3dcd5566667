"""DeclaredBlobStore asks the declaration the same question the deployed role is asked for each call."""

import pytest

from fedcore.runtime import layout
from fedcore.runtime.memory_stores import InMemoryBlobStore
from fedcore.runtime.resource_access import DeclaredBlobStore, UndeclaredAccessError


def test_exists_needs_a_declared_check_not_a_read():
    # Arrange: setup_merge reads the schema but never checks for it; it checks for the preprocessor
    inner = InMemoryBlobStore()
    inner.put_new(layout.schema_key("r"), b"{}")
    blobs = DeclaredBlobStore(inner, "setup_merge")

    # Act / Assert
    assert blobs.get(layout.schema_key("r")) == b"{}"
    assert blobs.exists(layout.preprocessor_key("r")) is False
    with pytest.raises(UndeclaredAccessError, match="may not exists"):
        blobs.exists(layout.schema_key("r"))


@pytest.mark.parametrize("step, key", [
    ("setup_merge", layout.preprocessor_key("r")),
    ("aggregate", layout.model_key("r", 2)),
    ("aggregate", layout.aggregator_state_key("r", 1)),
    ("trainer", layout.plans_key("r")),
])
def test_each_key_a_step_checks_for_is_declared(step, key):
    blobs = DeclaredBlobStore(InMemoryBlobStore(), step, spoke="hosp-a" if step == "trainer" else None)

    assert blobs.exists(key) is False


def test_a_step_that_checks_for_nothing_may_not_check():
    blobs = DeclaredBlobStore(InMemoryBlobStore(), "finalize")

    with pytest.raises(UndeclaredAccessError):
        blobs.exists(layout.model_key("r", 1))  # finalize reads models but has no ListBucket
