"""make_aggregator builds every named aggregator and rejects unknown names."""

import pytest

from fedcore.aggregation import AGGREGATOR_NAMES, Aggregator, StreamingFedAvg, make_aggregator


def test_fedavg_is_the_streaming_implementation():
    assert isinstance(make_aggregator("fedavg"), StreamingFedAvg)


@pytest.mark.parametrize("name", ["fedavg", "fedadam", "fedtrimmedavg", "fedmedian", "krum"])
def test_known_names_build_aggregators(name):
    assert isinstance(make_aggregator(name), Aggregator)


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError) as raised:
        make_aggregator("fedsomething")
    for name in ("fedavg", "fedprox", "fedadam", "fedtrimmedavg", "fedmedian", "krum"):
        assert name in str(raised.value)
    assert set(AGGREGATOR_NAMES) >= {"fedavg", "fedprox", "fedadam", "fedtrimmedavg", "fedmedian", "krum"}


def test_fedavg_takes_no_parameters():
    with pytest.raises(ValueError):
        make_aggregator("fedavg", eta=0.1)
