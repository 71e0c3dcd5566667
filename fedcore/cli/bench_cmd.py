"""``fedcore bench``: throughput ratios measured side by side in one process; ``bench quality``:
synthetic-data quality of each model family against a floor, a ceiling and central MST; ``bench
imports``: hub handlers' cold imports beside torch; ``bench aggregate``: the Aggregate handler's peak
memory beside the model and the round's updates."""

from __future__ import annotations

import argparse
import json

QUICK_ROWS = 500  # synthetic rows per run under --quick

QUALITY_EPILOG = """rows:
  run        a federated run of one family (`simulate`'s pipeline) at one epsilon and seed
  floor      each column drawn independently from the training rows
  ceiling    the real holdout rows as the "synthetic" table (TSTR and DCR cross-fitted on its two
             halves, since the holdout cannot test itself)
  reference  central MST on ACTG 175 at epsilon 3, measured elsewhere, fixed (the libraries do not
             install with this project's pins)
every row is scored the same way: SDMetrics quality against the training rows, TSTR/TRTR on the 20%
holdout no hospital saw, DCR share (0.5 ideal), exact copies of a training row. With --seeds N > 1
the table shows the mean and (min-max) over seeds; --json prints one JSON line per row and seed.

examples:
  python -m fedcore bench quality --quick --json
  python -m fedcore bench quality --epsilons 1,3,10,none --seeds 3 --families marginal
"""


def register(commands) -> None:
    p = commands.add_parser(
        "bench",
        help="measure DP-SGD vs non-private throughput, aggregation and generation speed",
        description="Runs each measurement next to its baseline in this process and prints ratios.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    p.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke test")
    p.set_defaults(handler=run)
    targets = p.add_subparsers(dest="bench_target", metavar="[quality|imports|aggregate|tasks]")
    _register_quality(targets)
    _register_tasks(targets)
    _register_imports(targets)
    _register_aggregate(targets)


def _register_tasks(targets) -> None:
    t = targets.add_parser(
        "tasks", help="risk and survival on ACTG 175 (3 hospitals) and image on the built-in images (5 hospitals): "
                      "federated vs central references, fairness, DP throughput",
        description="Full simulate runs of the predictive tasks at each epsilon: risk (cens without days) with "
        "FedAvg and FairFed, AUC and fairness gaps; survival (days, cens), C-index and integrated Brier score; "
        "each beside central references (same model with and without DP, logistic regression or Cox PH); image "
        "(ResNet-18, 64 px, built-in images) accuracy and AUC beside the same network trained centrally, and "
        "DP-SGD's images/s against non-DP training of the same network, side by side.")
    t.add_argument("--tasks", default="risk,survival,image",
                   help="comma list of risk, survival, image (default %(default)s)")
    t.add_argument("--images", type=int, default=2000, help="image: built-in images (default %(default)s)")
    t.add_argument("--epsilons", default="3,none", help="comma list; none = no DP (default %(default)s)")
    t.add_argument("--rounds", type=int, help="training rounds (default 4; image 3)")
    t.add_argument("--epochs", type=int, help="local epochs per round (default 2; image 1)")
    t.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    t.set_defaults(handler=run_tasks)


def run_tasks(args: argparse.Namespace) -> int:
    from rich.console import Console

    from fedcore.tasks.predictive.bench import run_task_bench

    epsilons = [None if e.strip() == "none" else float(e) for e in args.epsilons.split(",")]
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    unknown = sorted(set(tasks) - {"risk", "survival", "image"})
    if unknown or not tasks:
        raise SystemExit(f"bench tasks: unknown --tasks {unknown}; valid: risk, survival, image")
    console = Console(stderr=True)

    def done(row: dict) -> None:
        console.print(f"done: {row['case']} epsilon {row['epsilon']}")

    tabular = tuple(t for t in tasks if t != "image")
    rows = run_task_bench(epsilons, args.rounds or 4, args.epochs or 2, on_case=done, tasks=tabular) if tabular else []
    image = None
    if "image" in tasks:
        from fedcore.tasks.image.bench import run_image_bench

        image = run_image_bench(epsilons, args.rounds or 3, args.epochs or 1, args.images, on_case=done)
    if args.json:
        print(json.dumps({"tabular": rows, "image": image}))
        return 0
    if rows:
        _print_tabular(rows)
    if image:
        _print_image(image)
    return 0


def _print_image(image: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bench tasks: image (ResNet-18 GroupNorm, 64 px, built-in images, 5 hospitals), exact "
                        "scores on the central holdout")
    for column in ("epsilon", "federated", "central same (no DP)", "central DP same", "seconds"):
        table.add_column(column)
    for row in image["runs"]:
        refs = row["references"]
        table.add_row("none" if row["epsilon"] is None else f"{row['epsilon']:g}", _scores(row["federated"]),
                      _scores(refs.get("central_same_model")), _scores(refs.get("central_dp_same_model")),
                      f"{row['seconds']:.0f}")
    Console(width=max(Console().width, 160)).print(table)
    t = image["throughput"]
    Console().print(f"DP-SGD throughput ({t['image_size']} px, batch {t['batch_size']}, {t['device']}): "
                    f"{t['images_per_s_dp']} images/s vs {t['images_per_s_nondp']} without DP (ratio {t['ratio']})")


def _print_tabular(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="bench tasks: ACTG 175, 3 hospitals, exact scores on the central holdout")
    for column in ("case", "epsilon", "federated", "central same", "central DP same", "central classic",
                   "DP diff (holdout)", "EO diff (holdout)"):
        table.add_column(column)
    for row in rows:
        refs = row["references"]
        classic = refs.get("central_sklearn") or refs.get("central_coxph")
        gaps = row.get("fairness_holdout", {}).get("gender", {})
        table.add_row(row["case"], "none" if row["epsilon"] is None else f"{row['epsilon']:g}",
                      _scores(row["federated"]), _scores(refs.get("central_same_model")),
                      _scores(refs.get("central_dp_same_model")), _scores(classic),
                      _scores({"gender": gaps.get("demographic_parity_difference")}),
                      _scores({"gender": gaps.get("equalized_odds_difference")}))
    Console(width=max(Console().width, 160)).print(table)


def _scores(values: dict | None) -> str:
    if not values:
        return "-"
    return " ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in values.items())


def _register_imports(targets) -> None:
    i = targets.add_parser(
        "imports", help="cold-start import time of each hub Lambda handler beside `import torch`",
        description="Imports each hub handler in a fresh interpreter, alternated with a plain `import torch`, "
        "and prints the median seconds, the ratio to torch and whether the handler loaded torch.")
    i.add_argument("--repeats", type=int, default=3, help="alternations per handler (default %(default)s)")
    i.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    i.set_defaults(handler=run_imports)


def run_imports(args: argparse.Namespace) -> int:
    from fedcore.bench_imports import run_import_bench

    results = run_import_bench(repeats=max(1, args.repeats))
    if args.json:
        print(json.dumps(results))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hub handler imports (fresh interpreter, median)")
    for column in ("module", "seconds", "ratio to import torch", "loads torch"):
        table.add_column(column, justify="left" if column == "module" else "right")
    for name, row in results.items():
        table.add_row(name, f"{row['seconds']:.2f}", f"{row['ratio_to_torch']:.2f}", "yes" if row["loads_torch"] else "no")
    Console().print(table)
    return 0


AGGREGATE_EPILOG = """columns:
  container        cold: the function's first call (service models and lazy imports load during it);
                   warm: a later call
  model, update    MiB of the model's tensors and of one hospital's sealed update
  peak             tracemalloc's peak over the call, MiB
  peak / model     the peak in models: what the handler holds at once
  peak / updates   the peak against all the round's updates: 1 or more means it held them all at
                   once; a streaming aggregate falls as hospitals are added
  RSS              the process's peak resident set before and after the call, MiB
each N is a sandbox (moto) of N hospitals; the handler runs in a process of its own with the
function's environment and role.

examples:
  python -m fedcore bench aggregate --quick --json
  python -m fedcore bench aggregate --spokes 5 20 50 --model '{"hidden_dim": 256}'
"""


def _register_aggregate(targets) -> None:
    a = targets.add_parser(
        "aggregate", help="peak memory of the Aggregate handler over N hospitals' updates, beside their size",
        description="Prepares a round of N sealed updates in the sandbox with the real steps, runs the Aggregate\n"
        "handler in a process of its own (cold, then warm) and prints its peak memory and time beside the\n"
        "model's and the updates' sizes.",
        epilog=AGGREGATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--spokes", type=int, nargs="+", help="hospital counts (default 5 20; --quick: 2)")
    a.add_argument("--model", type=json.loads, help='DiffusionConfig overrides as JSON, e.g. \'{"hidden_dim": 256}\' '
                                                    "(default: the defaults; --quick: hidden_dim 32)")
    a.add_argument("--workdir", default="out/bench-aggregate", help="sandbox folders and logs (default %(default)s)")
    a.add_argument("--json", action="store_true", help="print one JSON list of rows (default: a table)")
    a.add_argument("--quick", action="store_true", help="the smallest round: 2 hospitals, a small model")
    a.set_defaults(handler=run_aggregate)


def run_aggregate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sandbox import DEFAULT_SPOKES, QUICK_MODEL, QUICK_SPOKES, run_aggregate_bench  # the sandbox's public API

    spokes = args.spokes or (QUICK_SPOKES if args.quick else DEFAULT_SPOKES)
    model = args.model if args.model is not None else (QUICK_MODEL if args.quick else {})
    rows = run_aggregate_bench(spokes, model, Path(args.workdir))
    if args.json:
        print(json.dumps(rows))
        return 0
    from rich.console import Console

    Console().print(aggregate_table(rows))
    return 0


AGGREGATE_COLUMNS = {"hospitals": "spokes", "container": "container", "model MiB": "model_mib",
                     "update MiB": "update_mib", "seconds": "seconds", "peak MiB": "traced_peak_mib",
                     "peak / model": "peak_to_model", "peak / updates": "peak_to_updates",
                     "RSS before": "peak_rss_before_call_mib", "RSS after": "peak_rss_after_call_mib"}


def aggregate_table(rows: list[dict]):
    """``bench aggregate``'s rows as a rich table (the columns of AGGREGATE_EPILOG)."""
    from rich.table import Table

    table = Table(title="Aggregate handler (own process), peak beside the model and the round's updates")
    for column in AGGREGATE_COLUMNS:
        table.add_column(column, justify="left" if column == "container" else "right")
    for row in rows:
        table.add_row(*(str(row[key]) for key in AGGREGATE_COLUMNS.values()))
    return table


def _register_quality(targets) -> None:
    from fedcore.families import FAMILY_NAMES

    q = targets.add_parser(
        "quality", help="score each model family and epsilon against a floor, a ceiling and central MST",
        description="Federates each family over 3 simulated hospitals (Dirichlet split as `simulate` does), "
        "generates, and scores every row with one scorer.",
        epilog=QUALITY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("--data", choices=("actg175", "healthcare"), default="actg175", help="built-in data set")
    q.add_argument("--families", help=f"comma-separated model families (default: all: {','.join(FAMILY_NAMES)}; "
                                      "--quick: marginal)")
    q.add_argument("--epsilons", help="comma-separated epsilons per hospital; 'none' adds a run without DP "
                                      "(default 1,3,10; --quick: 3)")
    q.add_argument("--no-dp", action="store_true", help="also run each family without DP (same as adding 'none')")
    q.add_argument("--seeds", type=int, help="seeds 0..N-1, each with its own split (default 1)")
    q.add_argument("--rows", type=int, help=f"synthetic rows per run (default: as many as the training rows; "
                                            f"--quick: {QUICK_ROWS})")
    q.add_argument("--json", action="store_true", help="one JSON object per row and seed (JSON lines)")
    q.add_argument("--quick", action="store_true", help="smallest grid: marginal, epsilon 3, seed 0, fewer rows")
    q.set_defaults(handler=run_quality)


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


def quality_grid(args: argparse.Namespace):
    """The QualityGrid the flags ask for; --quick only changes what was not given."""
    from fedcore.bench_quality import NO_DP, QualityGrid, parse_epsilons
    from fedcore.families import FAMILY_NAMES

    families = tuple(f.strip() for f in args.families.split(",") if f.strip()) if args.families else (
        ("marginal",) if args.quick else FAMILY_NAMES)
    epsilons = parse_epsilons(args.epsilons or ("3" if args.quick else "1,3,10"))
    if args.no_dp and NO_DP not in epsilons:
        epsilons += (NO_DP,)
    rows = args.rows if args.rows is not None else (QUICK_ROWS if args.quick else None)
    return QualityGrid(data=args.data, families=families, epsilons=epsilons, seeds=args.seeds or 1, rows=rows)


def run_quality(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fedcore.bench_quality import row_count, run_quality_bench
    from fedcore.bench_quality.render import quality_table

    grid = quality_grid(args)
    console = Console(stderr=True)
    rows = []
    with Progress(TextColumn("[bold]bench quality"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("grid", total=row_count(grid), status="loading data")
        for row in run_quality_bench(grid, on_step=lambda text: progress.update(task, status=text)):
            rows.append(row)
            progress.update(task, advance=1)
            if args.json:
                print(json.dumps(row), flush=True)
    if not args.json:
        Console().print(quality_table(rows, grid.data))
    return 0
