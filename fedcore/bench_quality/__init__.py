"""``python -m fedcore bench quality``: federated families against a floor, a ceiling and central MST.

| file | job |
|---|---|
| `grid.py` | `QualityGrid`: data set, families, epsilons, seeds |
| `runs.py` | one federated run through `fedcore.experiment` |
| `scoring.py` | the one scorer every row goes through |
| `exact_copies.py` | share of synthetic rows equal to a training row |
| `references.py` | the floor table and the fixed central-MST numbers |
| `bench.py` | `run_quality_bench`: the rows, one by one |
| `summary.py`, `render.py` | mean and range over seeds; the rich table |
"""

from fedcore.bench_quality.bench import row_count, run_quality_bench
from fedcore.bench_quality.grid import NO_DP, QualityGrid, parse_epsilons

__all__ = ["NO_DP", "QualityGrid", "parse_epsilons", "row_count", "run_quality_bench"]
