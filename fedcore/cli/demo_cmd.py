"""``fedcore demo``: the whole platform in a local sandbox, with live progress and a report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fedcore.families import FAMILY_NAMES
from fedcore.run_config import DEFAULT_FAMILY, IMAGE_ROUNDS, PrivacySettings, RunConfig

STATUS_MARK = {"RUNNING": "[yellow]…[/]", "SUCCEEDED": "[green]✓[/]", "FAILED": "[red]✗[/]"}


def register(commands) -> None:
    p = commands.add_parser(
        "demo",
        help="run the deployed system locally: emulated AWS accounts, real handlers and trainers",
        description="Start a local sandbox (moto emulating the hub and one account per hospital), run the "
        "round-loop state machine synthesized by the CDK app on ACTG 175 split across hospitals, generate "
        "synthetic patients from the published model and score them. Writes report.json, report.html, "
        "synthetic.csv, execution_history.json and audit.jsonl to --out.",
    )
    defaults = RunConfig()
    p.add_argument("--rounds", type=int, help=f"training rounds (default {defaults.rounds}; 3 for --task image)")
    p.add_argument("--spokes", type=int,
                   help="hospitals, each its own emulated account (default 3; 5 for --task image, its five profiles)")
    p.add_argument("--target-epsilon", type=float, default=PrivacySettings().target_epsilon,
                   help="epsilon per hospital over the whole run (default %(default)s)")
    p.add_argument("--no-dp", action="store_true",
                   help="train without differential privacy: the run asks for it and every simulated hospital "
                        "opts out in its own policy (without the opt-out a hospital refuses such a run)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default %(default)s)")
    p.add_argument("--config", type=json.loads, default={},
                   help="further run settings as JSON, as a run config holds them, e.g. "
                        '\'{"training": {"epochs": 1}, "model": {"family": "diffusion", "hidden_dim": 32}}\'')
    p.add_argument("--rows", type=int, help="synthetic rows (default: as many as the real training rows)")
    p.add_argument("--family", choices=FAMILY_NAMES,
                   help=f"model family (default: {DEFAULT_FAMILY} with DP, diffusion without); "
                        "same as --config model.family")
    p.add_argument("--task", choices=tuple(DEMO_TASKS), default="synthesis",
                   help="synthesis (default); risk predicts cens without days; survival models days and cens "
                        "(all on ACTG 175); image classifies the built-in lesion images (64 px, --images of them)")
    p.add_argument("--images", type=int, default=2000,
                   help="image: built-in images over all hospitals, before the 20%% holdout (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    p.add_argument("--serve", action="store_true", help="after the run, keep the sandbox up and serve the API")
    p.add_argument("--port", type=int, default=8000, help="port for --serve (default %(default)s)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from sandbox import DemoSpec, run_demo  # the sandbox's public API; boto3 and moto only when asked for

    console = Console(stderr=True)
    spokes = args.spokes or (5 if args.task == "image" else 3)
    if args.task != "image" and args.images != 2000:
        raise SystemExit("demo: --images belongs to --task image")
    rounds = args.rounds or (IMAGE_ROUNDS if args.task == "image" else RunConfig().rounds)
    spec = DemoSpec(spokes=spokes, rounds=rounds, target_epsilon=args.target_epsilon,
                    config=_with_task(_with_family(args.config, args.family), args.task), rows=args.rows,
                    seed=args.seed, no_dp=args.no_dp, images=args.images)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("federated rounds", total=spec.rounds, status="starting the sandbox")
        report = run_demo(spec, args.out, on_progress=lambda p: _show(progress, task, p),
                          on_ready=_server(args, console, progress) if args.serve else None)
    _print_summary(console, report, args.out)
    return 0 if report["run"]["status"] in ("COMPLETED", "BUDGET_EXHAUSTED") else 1


def _show(progress: Progress, task, state) -> None:
    jobs = " ".join(f"{spoke} {STATUS_MARK.get(status, status)}" for spoke, status in sorted(state.jobs.items()))
    loss = f"  loss {state.loss:.4f}" if state.loss is not None else ""
    epsilon = "  ε " + ", ".join(f"{s} {e:.2f}" for s, e in sorted(state.epsilon.items())) if state.epsilon else ""
    where = "setup" if state.round == 0 else f"round {state.round}"
    progress.update(task, completed=state.rounds_done, total=state.rounds or None,
                    status=f"{where} {state.state}: {jobs}{loss}{epsilon}")


def _server(args: argparse.Namespace, console: Console, progress: Progress):
    def serve(running, run_id: str) -> None:  # the running Sandbox
        from sandbox import serve_api

        progress.stop()
        console.print(f"run {run_id} finished; serving the research API on port {args.port} (Ctrl-C to stop)")
        try:
            serve_api(running, args.port, report=args.out / "report.json")
        except KeyboardInterrupt:
            pass
    return serve


def _print_summary(console: Console, report: dict, out: Path) -> None:
    run = report["run"]
    table = Table(title=f"sandbox run {run['execution_name']}: {run['status']} "
                        f"({run['rounds_completed']} rounds, {report['sandbox']['seconds']:.0f} s)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    q, u, p = report.get("quality"), report.get("utility"), report.get("privacy", {})
    final = (report.get("metrics") or {}).get("final") or {}
    for measure in ("auc", "accuracy", "f1", "loss", "c_index", "integrated_brier"):
        if final.get(measure) is not None:
            table.add_row(f"{measure} (holdout, exact)", _number(final[measure]))
    if q and u:
        table.add_row("column shapes", f"{q['column_shapes']:.3f}")
        table.add_row("column pair trends", _number(q.get("column_pair_trends")))
        table.add_row(f"utility TSTR ({u.get('metric', '')})", _number(u.get("tstr")))
        table.add_row("utility TRTR", _number(u.get("trtr")))
        table.add_row("DCR share (0.5 ideal)", _number(p.get("dcr_share")))
    for name, eps in sorted((p.get("epsilon") or {}).items()):
        table.add_row(f"epsilon {name}", _number(eps))
    if p.get("delta") is not None:
        table.add_row("delta", f"{p['delta']:g}")
    table.add_row("audit entries", str(report["sandbox"]["audit_entries"]))
    console.print(table)
    written = [n for n in ("report.json", "report.html", "synthetic.csv", "execution_history.json", "audit.jsonl")
               if (out / n).exists()]
    console.print(f"wrote {', '.join(str(out / n) for n in written)}")


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# the demo's table is ACTG 175: what each task reads from it
DEMO_TASKS = {"synthesis": None,
              "risk": {"name": "risk", "target": "cens", "exclude": ["days"]},
              "survival": {"name": "survival", "time": "days", "event": "cens"},
              "image": {"name": "image"}}  # the built-in images, not ACTG 175


def _with_task(config: dict, task: str) -> dict:
    if DEMO_TASKS[task] is None:
        return config
    if "model" in config:
        raise SystemExit(f"demo: --family and --config model name a synthesis model; task {task} trains its own network")
    return config | {"task": {**DEMO_TASKS[task], **config.get("task", {})}}


def _with_family(config: dict, family: str | None) -> dict:
    if family is None:
        return config
    return config | {"model": {**config.get("model", {}), "family": family}}
