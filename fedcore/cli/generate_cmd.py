"""``fedcore generate``: synthetic rows from a model directory, without the API.

A researcher who was given a published model version (``simulate`` writes ``DIR/model/``)
generates from it here with the same family code the API runs. ``--condition col=value``
fixes a categorical column exactly (the model is clamped, not rejection-sampled).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from fedcore.runtime.generate import serving_task
from fedcore.runtime.model_directory import generate_from_directory, load_model_directory
from fedcore.schema import CategoricalColumn, Schema

MAX_ROWS = 10_000_000  # a bound on memory, not on privacy: generation is post-processing


def register(commands) -> None:
    p = commands.add_parser(
        "generate", help="synthetic rows from a model directory (simulate's DIR/model)",
        description="Generate synthetic rows from a published model version written as a directory "
                    "(simulate writes DIR/model/). Every file's SHA-256 is checked against the model card first.",
    )
    p.add_argument("--model", required=True, type=Path, help="the model directory (e.g. out/sim/model)")
    p.add_argument("--rows", required=True, type=int, help="number of rows to generate")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same rows (default 0)")
    p.add_argument("--condition", action="append", default=[], metavar="COL=VALUE",
                   help="fix a categorical column to one of its categories; may repeat")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write")
    p.set_defaults(handler=_generate)


def parse_conditions(texts: list[str], schema: Schema) -> dict[str, object]:
    """``col=value`` pairs as the schema's own category values (``race=1`` becomes the int 1)."""
    conditions: dict[str, object] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise ValueError(f"--condition must look like COL=VALUE, got {text!r}")
        if name not in schema.names:
            raise ValueError(f"--condition names {name!r}, which is not a column of the model's schema")
        column = schema.column(name)
        if not isinstance(column, CategoricalColumn):
            raise ValueError(f"--condition {name}: only categorical columns can be conditioned on; {name!r} is numeric")
        matches = [c for c in column.categories if str(c) == value]
        if not matches:
            raise ValueError(f"--condition {name}={value}: not a category of {name!r} "
                             f"(categories: {', '.join(map(str, column.categories))})")
        if name in conditions:
            raise ValueError(f"--condition {name} is given twice")
        conditions[name] = matches[0]
    return conditions


def _generate(args: argparse.Namespace) -> int:
    if not 1 <= args.rows <= MAX_ROWS:
        raise ValueError(f"--rows must be between 1 and {MAX_ROWS:,}, got {args.rows}")
    console = Console(stderr=True)
    model = load_model_directory(args.model)
    serving_task(model.card["version"], "generate")  # a risk or survival model predicts (``fedcore predict``)
    conditions = parse_conditions(args.condition, model.schema)
    with console.status(f"generating {args.rows:,} rows from {model.kind} model {model.card['version']['version']}"):
        frame = generate_from_directory(model, args.rows, args.seed, conditions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    epsilon = model.card["privacy"]["max_epsilon"]
    privacy = "no DP" if epsilon is None else f"epsilon <= {epsilon:.3g} per hospital"
    console.print(f"wrote {args.out}: {len(frame):,} rows x {frame.shape[1]} columns ({model.kind}, {privacy})")
    return 0
