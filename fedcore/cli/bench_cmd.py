"""``fedcore bench``: throughput ratios measured side by side in one process."""

from __future__ import annotations

import argparse
import json


def register(commands) -> None:
    p = commands.add_parser(
        "bench",
        help="measure DP-SGD vs non-private throughput, aggregation and generation speed",
        description="Runs each measurement next to its baseline in this process and prints ratios.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    p.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke test")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from fedcore.bench import run_benchmarks  # heavy imports only when benchmarking

    results = run_benchmarks(quick=args.quick)
    if args.json:
        print(json.dumps(results))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="fedcore benchmark")
        table.add_column("section")
        table.add_column("measure")
        table.add_column("value", justify="right")
        for section, values in results.items():
            for key, value in values.items():
                table.add_row(section, key, f"{value:.4g}" if isinstance(value, float) else str(value))
        Console().print(table)
    return 0
