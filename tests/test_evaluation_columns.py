"""Category codes: the same category in any dtype gets the same code, from the schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from fedcore.evaluation.columns import MISSING, UNKNOWN, category_codes, category_labels
from fedcore.schema import CategoricalColumn

KARNOF = CategoricalColumn(name="karnof", categories=(70, 80, 90, 100))


def test_int_float_and_string_spellings_share_a_code():
    values = pd.Series([80, 80.0, "80", " 80 ", np.nan, None, "eighty", 85], dtype=object)

    codes = category_codes(values, KARNOF)

    assert codes.tolist() == [1, 1, 1, 1, MISSING, MISSING, UNKNOWN, UNKNOWN]


def test_labels_are_the_schema_spelling_and_keep_unknown_text():
    values = pd.Series([100.0, "70", np.nan, "x"], index=[10, 11, 12, 13])

    labels = category_labels(values, KARNOF)

    assert labels.index.tolist() == [10, 11, 12, 13]
    assert labels.iloc[[0, 1, 3]].tolist() == ["100", "70", "x"]
    assert pd.isna(labels.iloc[2])


@given(st.lists(st.one_of(st.none(), st.sampled_from([70, 80, 90, 100])), max_size=30))
def test_codes_index_the_declared_categories(raw):
    values = pd.Series(raw, dtype=object)

    codes = category_codes(values, KARNOF)

    expected = [MISSING if v is None else KARNOF.categories.index(v) for v in raw]
    assert codes.tolist() == expected
