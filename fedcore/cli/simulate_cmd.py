"""``fedcore simulate``: a scored federated run with simulated hospitals, in one process."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedcore.experiment import ExperimentSpec, run_experiment
from fedcore.families import FAMILY_NAMES
from fedcore.tasks.registry import TASK_NAMES, task_of
from fedcore.model.config import SamplingConfig
from fedcore.run_config import AGGREGATION_STRATEGIES, DEFAULT_FAMILY, PrivacySettings, RunConfig


def register(commands) -> None:
    p = commands.add_parser(
        "simulate",
        help="federated DP training across simulated hospitals, then generate and score",
        description="Split a table across simulated hospitals, train one synthesis model through the "
        "deployment's round steps (by default federated marginals; --family diffusion or hybrid "
        "train with DP-SGD and federated averaging), generate synthetic rows and score them on held-out "
        "real rows. Writes synthetic.csv, report.json, report.html and model/ (for `generate`) to --out.",
    )
    p.add_argument("--data", help="built-in data set (actg175, the default), a CSV path; for --task image "
                                  "images:builtin (the default) or images:DIR (one folder or .npz per hospital)")
    p.add_argument("--schema", help="schema file (YAML/JSON), 'auto' to infer, or a built-in schema name")
    p.add_argument("--spokes", type=int, default=ExperimentSpec.spokes, help="simulated hospitals (default %(default)s)")
    defaults, privacy = RunConfig(), PrivacySettings()
    p.add_argument("--rounds", type=int,
                   help=f"training rounds of the diffusion family and the predictive tasks (default "
                        f"{defaults.rounds}; 3 for --task image); "
                        "the marginal family always runs one select and one measure round")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    dp = p.add_mutually_exclusive_group()
    dp.add_argument("--target-epsilon", type=float, default=privacy.target_epsilon,
                    help="epsilon per hospital over the whole run (default %(default)s)")
    dp.add_argument("--no-dp", action="store_true", help="train without differential privacy")
    p.add_argument("--noise-multiplier", type=float, help="fixed DP-SGD noise multiplier instead of planning one")
    p.add_argument("--delta", type=float, default=privacy.delta, help="default %(default)s")
    p.add_argument("--accountant", choices=("rdp", "prv"), default=privacy.accountant, help="default %(default)s")
    p.add_argument("--measurement-share", type=float, default=privacy.measurement_share,
                   help="hybrid family: share of the target for the marginal releases, the rest for DP-SGD "
                        "fine-tuning; 1 = publish the pretrained model (default %(default)s)")
    p.add_argument("--strategy", choices=AGGREGATION_STRATEGIES, default=defaults.strategy,
                   help="aggregation strategy (default %(default)s)")
    p.add_argument("--quorum", type=int, default=defaults.quorum, help="default %(default)s, at most --spokes")
    p.add_argument("--epochs-per-round", type=int,
                   help=f"local epochs per training round (default {defaults.training.epochs})")
    p.add_argument("--batch-size", type=int, help=f"DP-SGD batch size (default {defaults.training.batch_size})")
    p.add_argument("--rows", type=int, help="synthetic rows (default: as many as the real training rows)")
    p.add_argument("--sampling-steps", type=int,
                   help=f"denoising steps when generating (default {SamplingConfig().steps})")
    p.add_argument("--family", choices=FAMILY_NAMES,
                   help=f"model family (default: {DEFAULT_FAMILY}, with or without DP)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    task = p.add_argument_group("task", "what the run trains: synthesis (default), or a predictive task scored "
                                "on a central holdout against central references")
    task.add_argument("--task", choices=TASK_NAMES, default="synthesis", help="default %(default)s")
    task.add_argument("--target", help="risk: the class column (default: the schema's target)")
    task.add_argument("--exclude", action="append", default=[], metavar="COL[,COL...]",
                      help="risk, survival: columns that are not features (comma list; may repeat)")
    task.add_argument("--time", help="survival: time to event or censoring (default: the schema's target)")
    task.add_argument("--event", help="survival: the event column (its last category = event observed)")
    task.add_argument("--images", type=int,
                      help="image: built-in images over all hospitals, before the 20%% holdout (default 2000)")
    task.add_argument("--image-size", type=int, help="image: pixels per side (default 64; 224 on a GPU)")
    task.add_argument("--early-stopping-patience", type=int,
                      help="risk, survival: stop after this many rounds without a better federated validation "
                           "metric and publish the best model (default: train every round, publish the last)")
    p.set_defaults(handler=run)


TRAINING_FLAGS = {"rounds": "--rounds", "epochs_per_round": "--epochs-per-round", "batch_size": "--batch-size",
                  "noise_multiplier": "--noise-multiplier", "sampling_steps": "--sampling-steps"}


def task_from_args(args: argparse.Namespace) -> dict:
    """``task: {name, target, exclude, time, event, ...}`` from the flags; a flag of another task is refused."""
    exclude = [c.strip() for given in args.exclude for c in given.split(",") if c.strip()]
    given = {"target": args.target, "exclude": exclude or None, "time": args.time, "event": args.event,
             "early_stopping_patience": args.early_stopping_patience}
    given = {key: value for key, value in given.items() if value is not None}
    image_flags = [flag for flag, value in (("--images", args.images), ("--image-size", args.image_size))
                   if value is not None]
    if args.task != "image" and image_flags:
        raise SystemExit(f"simulate: {', '.join(image_flags)} belong to --task image")
    if args.task == "image":
        tabular = ", ".join(f"--{key.replace('_', '-')}" for key in given if key != "early_stopping_patience")
        if tabular:
            raise SystemExit(f"simulate: {tabular} name table columns; the image task reads labelled images")
        if args.image_size is not None:
            given["image"] = {"size": args.image_size}
    if args.task == "synthesis" and given:
        flags = ", ".join(f"--{key.replace('_', '-')}" for key in given)
        raise SystemExit(f"simulate: {flags} belong to the predictive tasks; pass --task risk or --task survival")
    if args.task != "synthesis" and args.family:
        raise SystemExit(f"simulate: --family names a synthesis model family; task {args.task} trains its own network")
    return {"name": args.task, **given}


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    task = task_from_args(args)
    privacy = PrivacySettings(
        enabled=not args.no_dp,
        target_epsilon=args.target_epsilon,
        delta=args.delta,
        accountant=args.accountant,
        noise_multiplier=args.noise_multiplier,
        measurement_share=args.measurement_share,
    )
    strategy_params = {"proximal_mu": 0.01} if args.strategy == "fedprox" else {}
    given = {"rounds": args.rounds, "training": {"batch_size": args.batch_size, "epochs": args.epochs_per_round}}
    given["training"] = {key: value for key, value in given["training"].items() if value is not None}
    config = RunConfig(
        quorum=min(args.quorum, args.spokes), strategy=args.strategy, strategy_params=strategy_params,
        privacy=privacy, seed=args.seed, model={"family": args.family} if args.family else {}, task=task,
        **{key: value for key, value in given.items() if value is not None},
    )
    if config.family == "marginal" and not config.task.predictive:
        given = [flag for key, flag in TRAINING_FLAGS.items() if getattr(args, key) is not None]
        if given:
            raise SystemExit(f"simulate: {', '.join(given)} mean nothing to the marginal family (it trains no "
                             "network); pass --family diffusion to train one")
    sampling = SamplingConfig()
    if args.sampling_steps:
        sampling = replace(sampling, steps=args.sampling_steps)
    data = args.data or ("images:builtin" if config.task.name == "image" else "actg175")
    if (config.task.name == "image") != data.startswith("images:"):
        raise SystemExit(f"simulate: --data {data} does not fit --task {config.task.name} (images:builtin or "
                         "images:DIR are the image task's data, and only its)")
    if config.task.name == "image" and args.schema:
        raise SystemExit("simulate: the image task has no table schema; its spec is task.image (--image-size)")
    extra = {"images": args.images} if args.images is not None else {}
    return ExperimentSpec(data=data, spokes=args.spokes, schema=args.schema, config=config,
                          sampling=sampling, rows=args.rows, extra=extra)


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    spec = spec_from_args(args)
    if args.schema == "auto":
        _show_inference(console, args.data, spec.config.privacy.enabled)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console, transient=False,
    ) as progress:
        rounds = task_of(spec.config).total_rounds(spec.config) + 1  # the setup round, then the family's
        task = progress.add_task("federated rounds", total=rounds, status="loading data")
        on_event = _progress_handler(progress, task, rounds)
        report = run_experiment(spec, args.out, on_event)
    if spec.config.task.predictive:
        _print_predictive_summary(console, report, args.out)
    else:
        _print_summary(console, report, args.out)
    return 0 if report["run"]["status"] != "FAILED" else 1


def _show_inference(console: Console, data: str, dp: bool) -> None:
    """What ``--schema auto`` does with each column, and under DP that the inferred schema is outside the guarantee."""
    from fedcore.cli.schema_cmd import notes_table
    from fedcore.schema_inference import infer_schema_with_notes, inferred_schema_dp_warning
    from fedcore.table import read_csv

    inferred = infer_schema_with_notes(read_csv(data), name=Path(data).stem)
    if inferred.notes:
        console.print(notes_table(inferred.notes))
    warning = inferred_schema_dp_warning("auto", dp)
    if warning:
        console.print(f"[yellow]warning:[/] {warning}")


def _progress_handler(progress: Progress, task, rounds: int):
    def on_event(event: str, data: dict) -> None:
        if event == "data":
            sizes = ", ".join(f"{k} {v}" for k, v in data["spokes"].items())
            progress.update(task, status=f"{data['name']}: {data['train']} training rows ({sizes})")
        elif event == "round_start":
            progress.update(task, status=f"round {data['round']}: releases at {len(data['spokes'])} hospitals")
        elif event == "spoke_done":
            progress.update(task, status=f"round {data['round']}: {data['spoke']} {data['result']['status']}")
        elif event == "round_done":
            metrics = data.get("metrics") or {}
            eps = ", ".join(f"{k} {v:.2f}" for k, v in (metrics.get("epsilon") or {}).items() if v is not None)
            loss = f" loss {data['loss']:.4f}" if data.get("loss") is not None else ""
            progress.update(task, advance=1, status=f"round {data['round']} ({data.get('kind')}):{loss}"
                            + (f"  epsilon {eps}" if eps else ""))
        elif event == "stopped":
            progress.update(task, status=f"stopped: {data['status']}")
        elif event == "generate":
            progress.update(task, status=f"generating {data['rows']} synthetic rows")
        elif event == "evaluate":
            progress.update(task, status="scoring against held-out real rows")
        elif event == "references":
            progress.update(task, status="training the central references")
    return on_event


def _print_summary(console: Console, report: dict, out: Path) -> None:
    table = Table(title=f"{report['data']['name']}: run {report['run']['status']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    q, u, p = report["quality"], report["utility"], report["privacy"]
    table.add_row("column shapes", f"{q['column_shapes']:.3f}")
    table.add_row("column pair trends", f"{q['column_pair_trends']:.3f}")
    table.add_row(f"utility TSTR ({u.get('metric', '')})", f"{u['tstr']:.3f}")
    table.add_row("utility TRTR", f"{u['trtr']:.3f}")
    table.add_row("DCR share (0.5 ideal)", f"{p['dcr_share']:.3f}")
    for name, eps in p["epsilon"].items():
        table.add_row(f"epsilon {name}", "no DP" if eps is None else f"{eps:.3f}")
    table.add_row("delta", f"{p['delta']:g}")
    console.print(table)
    console.print(f"wrote {out / 'synthetic.csv'}, {out / 'report.json'}, {out / 'report.html'} and {out / 'model'}/")


def _print_predictive_summary(console: Console, report: dict, out: Path) -> None:
    """The federated model's exact holdout scores beside the central references, then its fairness gaps."""
    measures = {"risk": ("auc", "accuracy", "f1"), "image": ("auc", "accuracy", "loss")}.get(
        report["task"], ("c_index", "integrated_brier"))
    table = Table(title=f"{report['data']['name']} ({report['task']}): run {report['run']['status']}, "
                        "scored on the central holdout")
    table.add_column("model")
    for measure in measures:
        table.add_column(measure, justify="right")
    rows = {"federated": report["metrics"]["final"], **report["baseline"]}
    for name, scores in rows.items():
        table.add_row(name, *(_number(scores.get(m)) for m in measures))
    console.print(table)
    for name, hospital in (report["metrics"].get("per_hospital") or {}).items():
        noisy, exact = hospital.get("federated_validation") or {}, hospital.get("holdout") or {}
        console.print(f"{name}: {hospital['images']} images; holdout AUC {_number(exact.get('auc'))}, noisy "
                      f"federated validation AUC {_number(noisy.get('auc'))}")
    for attribute, gaps in (report.get("fairness") or {}).items():
        if attribute != "hospital_spread" and gaps:
            console.print(f"fairness {attribute} (noisy federated counts): demographic parity difference "
                          f"{_number(gaps.get('demographic_parity_difference'))}, equalized odds difference "
                          f"{_number(gaps.get('equalized_odds_difference'))}")
    eps = ", ".join(f"{k} {v:.2f}" for k, v in report["privacy"]["epsilon"].items())
    console.print(f"epsilon per hospital: {eps or 'no DP'}")
    console.print(f"wrote {out / 'report.json'} and {out / 'model'}/")


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"
