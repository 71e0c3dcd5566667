"""``bench imports``: hub handlers imported in fresh interpreters beside ``import torch``."""

import pytest

from fedcore.bench_imports import run_import_bench


@pytest.mark.slow  # fresh interpreters for each handler and for torch (about 5 s)
def test_the_budget_gate_and_finalize_start_without_torch_and_are_timed_against_it():
    result = run_import_bench(repeats=1, handlers=("budget_gate", "finalize"))
    assert result["torch"]["loads_torch"] and result["torch"]["ratio_to_torch"] == 1.0
    for handler in ("budget_gate", "finalize"):
        assert result[handler]["loads_torch"] is False  # their privacy math is torch-free
        assert result[handler]["seconds"] > 0 and result[handler]["ratio_to_torch"] > 0
