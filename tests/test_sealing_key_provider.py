"""LocalKeyProvider behaves like KMS data keys: context-bound, master-key-bound."""

import pytest

from fedcore.sealing import DataKey, KeyProvider, KeyUnwrapError, LocalKeyProvider

CONTEXT = {"run": "r", "round": "1", "spoke": "a", "kind": "update"}


def test_generated_key_unwraps_under_the_same_context():
    # Arrange
    provider = LocalKeyProvider.generate()

    # Act
    data_key = provider.generate_data_key(CONTEXT)

    # Assert
    assert len(data_key.plaintext) == 32
    assert provider.decrypt_data_key(data_key.wrapped, dict(reversed(list(CONTEXT.items())))) == data_key.plaintext


def test_unwrapping_under_a_different_context_fails():
    # Arrange
    provider = LocalKeyProvider.generate()
    data_key = provider.generate_data_key(CONTEXT)

    # Act / Assert
    with pytest.raises(KeyUnwrapError):
        provider.decrypt_data_key(data_key.wrapped, {**CONTEXT, "round": "2"})


def test_unwrapping_with_another_master_key_fails():
    # Arrange
    data_key = LocalKeyProvider.generate().generate_data_key(CONTEXT)

    # Act / Assert
    with pytest.raises(KeyUnwrapError):
        LocalKeyProvider.generate().decrypt_data_key(data_key.wrapped, CONTEXT)


def test_provider_rebuilt_from_exported_master_key_unwraps():
    # Arrange: the sandbox persists its master key and rebuilds the provider later
    original = LocalKeyProvider.generate()
    data_key = original.generate_data_key(CONTEXT)

    # Act
    rebuilt = LocalKeyProvider(original.export_master_key())

    # Assert
    assert rebuilt.decrypt_data_key(data_key.wrapped, CONTEXT) == data_key.plaintext


def test_data_keys_are_fresh_each_time():
    provider = LocalKeyProvider.generate()
    assert provider.generate_data_key(CONTEXT).plaintext != provider.generate_data_key(CONTEXT).plaintext


@pytest.mark.parametrize("context", [{}, {"round": 1}, {1: "a"}])
def test_context_must_be_non_empty_str_to_str(context):
    with pytest.raises(ValueError):
        LocalKeyProvider.generate().generate_data_key(context)


@pytest.mark.parametrize("master_key", [b"", b"short", bytes(31), bytes(33), "x" * 32])
def test_master_key_must_be_32_bytes(master_key):
    with pytest.raises(ValueError):
        LocalKeyProvider(master_key)


def test_data_key_repr_hides_plaintext_and_local_provider_satisfies_protocol():
    # Arrange
    data_key = DataKey(plaintext=b"k" * 32, wrapped=b"w")

    # Act / Assert
    assert "kkkk" not in repr(data_key)
    assert isinstance(LocalKeyProvider.generate(), KeyProvider)
