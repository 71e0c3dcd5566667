import pandas as pd
import pytest

from fedcore.datasets import load_actg175
from fedcore.partition import partition_dirichlet, train_holdout_split


def test_partition_is_deterministic_disjoint_and_complete():
    frame = load_actg175().frame
    a = partition_dirichlet(frame, 3, "arms", seed=4)
    b = partition_dirichlet(frame, 3, "arms", seed=4)
    assert [len(p) for p in a] == [len(p) for p in b]
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert sum(len(p) for p in a) == len(frame)
    assert len({len(p) for p in a}) == 3  # unequal sizes


def test_partition_is_non_iid_over_the_column():
    frame = load_actg175().frame
    parts = partition_dirichlet(frame, 3, "arms", seed=0, alpha=0.5)
    shares = [p["arms"].value_counts(normalize=True).reindex([0, 1, 2, 3], fill_value=0) for p in parts]
    assert max(abs(shares[0] - shares[1]).max(), abs(shares[1] - shares[2]).max()) > 0.1


def test_partition_refuses_impossible_splits():
    frame = load_actg175().frame.head(100)
    with pytest.raises(ValueError, match="at least"):
        partition_dirichlet(frame, 3, "arms", seed=0)
    with pytest.raises(ValueError, match="not a column"):
        partition_dirichlet(frame, 1, "nope", seed=0)


def test_holdout_split_is_disjoint():
    frame = load_actg175().frame.reset_index()
    train, hold = train_holdout_split(frame, 0.2, seed=1)
    assert len(hold) == 428 and len(train) + len(hold) == len(frame)
    assert not set(train["index"]) & set(hold["index"])
