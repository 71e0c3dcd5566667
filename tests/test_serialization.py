"""Named tensors survive dump/load exactly; corrupt bytes fail clearly; no pickle."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fedcore.serialization import SerializationError, dump_tensors, load_tensors

DTYPES = st.sampled_from([np.float16, np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
TENSORS = st.dictionaries(
    keys=st.text(alphabet="abcdefghij._/0123456789", min_size=1, max_size=12),
    values=DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(tensors=TENSORS)
def test_round_trip_preserves_names_dtypes_shapes_and_values(tensors):
    # Act
    loaded = load_tensors(dump_tensors(tensors))

    # Assert
    assert sorted(loaded) == sorted(tensors)
    for name, original in tensors.items():
        assert loaded[name].dtype == original.dtype
        assert loaded[name].shape == original.shape
        np.testing.assert_array_equal(loaded[name], original)


def test_equal_input_in_any_insertion_order_gives_identical_bytes():
    # Arrange
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones(4)

    # Act
    first = dump_tensors({"b": b, "a": a})
    second = dump_tensors({"a": a.copy(), "b": b.copy()})

    # Assert
    assert first == second


def test_non_contiguous_views_are_written_in_logical_order():
    # Arrange: a transpose is a strided view over the original memory
    view = np.arange(6.0).reshape(2, 3).T

    # Act
    loaded = load_tensors(dump_tensors({"t": view}))

    # Assert
    np.testing.assert_array_equal(loaded["t"], view)


def test_loaded_arrays_are_writable_and_do_not_alias_the_input():
    # Arrange
    data = dump_tensors({"x": np.zeros(3)})

    # Act
    loaded = load_tensors(data)
    loaded["x"][0] = 5.0

    # Assert
    assert load_tensors(data)["x"][0] == 0.0


@pytest.mark.parametrize(
    "corrupt",
    [b"", b"garbage", b"\xff" * 8 + b"{}", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      "],
    ids=["empty", "garbage", "huge-header-length", "bad-json"],
)
def test_corrupt_bytes_raise_serialization_error(corrupt):
    with pytest.raises(SerializationError):
        load_tensors(corrupt)


def test_truncated_data_raises_serialization_error():
    # Arrange
    data = dump_tensors({"x": np.arange(10.0)})

    # Act / Assert
    with pytest.raises(SerializationError):
        load_tensors(data[:-5])


@pytest.mark.parametrize(
    "bad",
    [{"x": [1.0, 2.0]}, {"x": np.array(["a"], dtype=object)}, {"x": np.array(["text"])}, {"": np.zeros(1)}],
    ids=["list", "object-dtype", "string-dtype", "empty-name"],
)
def test_unserializable_input_raises_serialization_error(bad):
    with pytest.raises(SerializationError):
        dump_tensors(bad)


def test_dump_does_not_modify_its_argument():
    # Arrange
    tensors = {"x": np.arange(4.0).reshape(2, 2).T}
    before = {k: v.copy() for k, v in tensors.items()}

    # Act
    dump_tensors(tensors)

    # Assert
    assert list(tensors) == ["x"]
    np.testing.assert_array_equal(tensors["x"], before["x"])
