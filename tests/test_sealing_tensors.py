"""Sealed named tensors: serialization inside envelope encryption."""

import numpy as np
import pytest

from fedcore.sealing import (
    ContextMismatchError,
    LocalKeyProvider,
    SealContext,
    open_model,
    open_update,
    seal_model,
    seal_update,
)

PROVIDER = LocalKeyProvider(bytes(range(32)))
UPDATE = SealContext(run="run-1", round=2, spoke="hospital-a", kind="update")
MODEL = SealContext(run="run-1", round=2, spoke="hub", kind="model")


def test_update_round_trip_preserves_tensors():
    # Arrange
    tensors = {"layer.weight": np.arange(12, dtype=np.float32).reshape(3, 4), "layer.bias": np.zeros(4)}

    # Act
    opened = open_update(seal_update(tensors, UPDATE, PROVIDER), UPDATE, PROVIDER)

    # Assert
    assert sorted(opened) == sorted(tensors)
    for name, tensor in tensors.items():
        assert opened[name].dtype == tensor.dtype
        np.testing.assert_array_equal(opened[name], tensor)


def test_model_round_trip_and_kind_is_enforced():
    # Arrange
    tensors = {"w": np.ones((2, 2), dtype=np.float32)}
    blob = seal_model(tensors, MODEL, PROVIDER)

    # Act
    opened = open_model(blob, MODEL, PROVIDER)

    # Assert
    np.testing.assert_array_equal(opened["w"], tensors["w"])
    with pytest.raises(ValueError, match="kind 'update'"):
        seal_update(tensors, MODEL, PROVIDER)


def test_update_from_another_spoke_is_rejected():
    # Arrange
    blob = seal_update({"w": np.ones(2)}, UPDATE, PROVIDER)
    other_spoke = SealContext(run="run-1", round=2, spoke="hospital-b", kind="update")

    # Act / Assert
    with pytest.raises(ContextMismatchError):
        open_update(blob, other_spoke, PROVIDER)
