"""``fedcore schema infer``: write a schema for a CSV, to review before a real run.

The schema (YAML) goes to stdout or ``--out``; what inference decided about constant,
identifier and discrete columns, and the review reminder, go to stderr so stdout stays YAML.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from fedcore.schema import save_schema
from fedcore.schema_inference import InferenceNote, infer_schema_with_notes
from fedcore.table import read_csv

ACTION_LABELS = {"constant": "kept as constant", "dropped_id": "dropped (identifier)", "discrete": "discrete values"}


def register(commands) -> None:
    schema = commands.add_parser("schema", help="infer a schema from a CSV")
    sub = schema.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    infer = sub.add_parser("infer", help="infer column kinds, bounds, categories and discrete values")
    infer.add_argument("--data", required=True, help="CSV file")
    infer.add_argument("--target", help="column to score utility on")
    infer.add_argument("--out", help="write YAML/JSON here (default: print YAML)")
    infer.set_defaults(handler=_infer)


def _infer(args: argparse.Namespace) -> int:
    console = Console(stderr=True)
    inferred = infer_schema_with_notes(read_csv(args.data), name=Path(args.data).stem, target=args.target)
    schema = inferred.schema
    if args.out:
        save_schema(schema, args.out)
        console.print(f"wrote {args.out}: {len(schema.columns)} columns "
                      f"({len(schema.numeric_columns)} numeric, {len(schema.categorical_columns)} categorical)")
    else:
        print(yaml.safe_dump(schema.to_dict(), sort_keys=False))
    if inferred.notes:
        console.print(notes_table(inferred.notes))
    console.print("[yellow]note:[/] inferred numeric bounds and discrete values are the observed ones; "
                  "widen them to clinical ranges before a real run")
    return 0


def notes_table(notes: tuple[InferenceNote, ...]) -> Table:
    table = Table(title="what inference did", title_justify="left")
    table.add_column("column")
    table.add_column("action")
    table.add_column("why")
    for note in notes:
        table.add_row(note.column, ACTION_LABELS[note.action], note.message)
    return table
