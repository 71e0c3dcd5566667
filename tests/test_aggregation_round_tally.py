"""The round tally: the one place an update is checked, and where a round's mean loss is kept."""

import numpy as np
import pytest

from fedcore.aggregation import ClientUpdate, InvalidUpdateError, StreamingFedAvg, make_aggregator
from fedcore.aggregation.round_tally import RoundTally

GLOBAL = {"w": np.zeros((4, 3), np.float32)}


def update(spoke: str, value: float, examples: int, loss: float | None = None) -> ClientUpdate:
    metrics = {} if loss is None else {"loss": loss}
    return ClientUpdate(spoke, {"w": np.full((4, 3), value, np.float32)}, examples, metrics)


def test_metric_means_are_weighted_by_examples_and_skip_a_non_finite_value():
    # Arrange
    tally = RoundTally(GLOBAL)
    updates = [update("a", 0.0, 100, 1.0), update("b", 0.0, 300, 3.0), update("c", 0.0, 50, float("nan")),
               update("d", 0.0, 50)]

    # Act
    admitted = list(tally.admitted(updates))
    spokes, total, metrics = tally.finish()

    # Assert
    assert [u.spoke for u in admitted] == list(spokes) == ["a", "b", "c", "d"] and total == 500
    assert metrics == {"loss": pytest.approx((1.0 * 100 + 3.0 * 300) / 400)}


@pytest.mark.parametrize("strategy", ["fedavg", "fedmedian"])
def test_with_on_invalid_a_bad_update_is_reported_and_left_out(strategy):
    # Arrange
    good = [update("a", 1.0, 10, 0.5), update("b", 3.0, 30, 1.5)]
    bad = update("bad", np.nan, 1000, 9.0)
    reported = []

    # Act
    result = make_aggregator(strategy).aggregate(GLOBAL, [good[0], bad, good[1]],
                                                 on_invalid=lambda spoke, error: reported.append((spoke, error)))
    without = make_aggregator(strategy).aggregate(GLOBAL, good)

    # Assert
    [(spoke, error)] = reported
    assert spoke == "bad" and isinstance(error, InvalidUpdateError) and "'bad'" not in str(error)
    assert "NaN" in str(error)
    assert result.spokes == ("a", "b") and result.total_examples == 40
    assert np.array_equal(result.weights["w"], without.weights["w"])
    assert result.metrics == without.metrics


def test_without_on_invalid_a_bad_update_fails_the_round_naming_the_spoke():
    with pytest.raises(InvalidUpdateError, match="spoke 'bad': update tensor 'w' contains NaN"):
        StreamingFedAvg().aggregate(GLOBAL, [update("a", 1.0, 10), update("bad", np.inf, 10)])
