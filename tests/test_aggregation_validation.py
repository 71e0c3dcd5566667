"""Update validation: names, shapes, dtypes and finiteness, with the tensor named."""

import numpy as np
import pytest

from fedcore.aggregation import ClientUpdate, InvalidUpdateError, validate_reference, validate_update

REFERENCE = {"encoder.weight": np.zeros((3, 2), np.float32), "encoder.bias": np.zeros(2, np.float32)}


def good_update():
    return {name: np.ones_like(t) for name, t in REFERENCE.items()}


def test_matching_update_passes():
    validate_update(REFERENCE, good_update())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda u: u.pop("encoder.bias"), r"missing tensors \['encoder.bias'\]"),
        (lambda u: u.update(extra=np.zeros(1, np.float32)), r"unexpected tensors \['extra'\]"),
        (lambda u: u.update({"encoder.weight": np.zeros((2, 3), np.float32)}), "'encoder.weight' has shape"),
        (lambda u: u.update({"encoder.bias": np.zeros(2, np.int64)}), "'encoder.bias' has non-floating"),
        (lambda u: u.update({"encoder.bias": np.array([0.0, np.nan], np.float32)}), "'encoder.bias' contains NaN"),
        (lambda u: u.update({"encoder.weight": np.full((3, 2), np.inf, np.float32)}), "'encoder.weight' contains"),
        (lambda u: u.update({"encoder.bias": [0.0, 1.0]}), "'encoder.bias' is a list"),
    ],
    ids=["missing", "extra", "shape", "dtype", "nan", "inf", "not-array"],
)
def test_invalid_updates_are_rejected_naming_the_tensor(change, message):
    # Arrange
    update = good_update()
    change(update)

    # Act / Assert
    with pytest.raises(InvalidUpdateError, match=message):
        validate_update(REFERENCE, update)


def test_invalid_update_error_is_a_value_error():
    assert issubclass(InvalidUpdateError, ValueError)


def test_reference_must_be_non_empty_and_finite():
    with pytest.raises(ValueError):
        validate_reference({})
    with pytest.raises(ValueError):
        validate_reference({"w": np.array([np.nan])})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"spoke": "", "weights": {}, "num_examples": 1},
        {"spoke": "a", "weights": {}, "num_examples": -1},
        {"spoke": "a", "weights": {}, "num_examples": 1.5},
        {"spoke": "a", "weights": [], "num_examples": 1},
        {"spoke": "a", "weights": {}, "num_examples": 1, "metrics": {"loss": "low"}},
    ],
)
def test_client_update_rejects_invalid_fields(kwargs):
    with pytest.raises(ValueError):
        ClientUpdate(**kwargs)
