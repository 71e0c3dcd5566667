"""The bench's rich table (built here, printed by the CLI)."""

from __future__ import annotations

from rich.table import Table

from fedcore.bench_quality.references import FIXED_LABEL
from fedcore.bench_quality.summary import summarise

HEADERS = {"column_shapes": "shapes", "column_pair_trends": "pair trends", "tstr_over_trtr": "TSTR/TRTR",
           "dcr_share": "DCR share", "exact_copy_share": "exact copies"}


def quality_table(rows: list[dict], data: str) -> Table:
    """Mean over seeds, and (min-max) when there are two or more."""
    table = Table(title=f"bench quality: {data} (mean over seeds, (min-max) when seeds > 1)")
    for header in ("kind", "family", "epsilon", "seeds"):
        table.add_column(header)
    for header in HEADERS.values():
        table.add_column(header, justify="right")
    for summary in summarise(rows):
        kind = FIXED_LABEL if summary["kind"] == "reference" else summary["kind"]
        epsilon = "-" if summary["kind"] in ("floor", "ceiling") else (
            "none" if summary["epsilon"] is None else f"{summary['epsilon']:g}")
        seeds = "-" if summary["kind"] == "reference" else str(summary["seeds"])
        table.add_row(kind, summary["family"], epsilon, seeds, *(summary[m].text() for m in HEADERS))
    return table
