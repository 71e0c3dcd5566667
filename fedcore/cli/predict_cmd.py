"""``fedcore predict``: predictions of a risk or survival model directory for a CSV of rows, without the API.

A researcher who was given a published predictive version (``simulate`` writes ``DIR/model/``)
predicts here with the same task code the API runs. Each input row gives one output row holding
only the prediction columns: ``p_<class>`` (risk) or ``s_<time>`` (survival, at ``--times`` or the
model's own time grid). Rows are checked against the model's schema first; a value it does not
allow is refused with its row and column, never guessed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from fedcore.runtime.model_directory import load_model_directory
from fedcore.runtime.predict import predict_from_directory
from fedcore.table import read_csv


def register(commands) -> None:
    p = commands.add_parser(
        "predict", help="predictions of a risk or survival model directory for a CSV of rows",
        description="Predict with a published risk or survival model version written as a directory "
                    "(simulate writes DIR/model/). Every file's SHA-256 is checked against the model card first; "
                    "every row is checked against the model's schema (label and excluded columns are ignored, "
                    "empty cells are missing values).",
        allow_abbrev=False,
    )
    p.add_argument("--model", required=True, type=Path, help="the model directory (e.g. out/sim/model)")
    p.add_argument("--data", required=True, type=Path, help="CSV of rows to predict for, with a header")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write: one row per input row")
    p.add_argument("--times", default=None, metavar="T1,T2,...",
                   help="survival only: times at which to give S(t) (default: the model's time grid)")
    p.set_defaults(handler=_predict)


def parse_times(text: str | None) -> list[float] | None:
    """``100,200.5`` as floats; the model checks their range."""
    if text is None:
        return None
    times = []
    for part in text.split(","):
        try:
            times.append(float(part))
        except ValueError:
            raise ValueError(f"--times must be numbers separated by commas, got {part.strip()!r}") from None
    return times


def _predict(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    times = parse_times(args.times)
    model = load_model_directory(args.model)
    rows = read_csv(args.data)
    with console.status(f"predicting {len(rows):,} rows with {model.kind} model {model.card['version']['version']}"):
        predictions = predict_from_directory(model, rows, times)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(args.out, index=False)
    epsilon = model.card["privacy"]["max_epsilon"]
    privacy = "no DP" if epsilon is None else f"epsilon <= {epsilon:.3g} per hospital"
    console.print(f"wrote {args.out}: {len(predictions):,} rows x {predictions.shape[1]} columns "
                  f"({model.kind}, {privacy})")
    return 0
