"""``fedcore schema infer``: write a schema for a CSV, to review before a real run."""

from __future__ import annotations

import argparse

from fedcore.schema import save_schema
from fedcore.schema_inference import infer_schema
from fedcore.table import read_csv


def register(commands) -> None:
    schema = commands.add_parser("schema", help="infer a schema from a CSV")
    sub = schema.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    infer = sub.add_parser("infer", help="infer column kinds, bounds and categories")
    infer.add_argument("--data", required=True, help="CSV file")
    infer.add_argument("--target", help="column to score utility on")
    infer.add_argument("--out", help="write YAML/JSON here (default: print YAML)")
    infer.set_defaults(handler=_infer)


def _infer(args: argparse.Namespace) -> int:
    frame = read_csv(args.data)
    schema = infer_schema(frame, name=args.data.rsplit("/", 1)[-1].rsplit(".", 1)[0], target=args.target)
    if args.out:
        save_schema(schema, args.out)
        print(f"wrote {args.out}: {len(schema.columns)} columns "
              f"({len(schema.numeric_columns)} numeric, {len(schema.categorical_columns)} categorical)")
    else:
        import yaml

        print(yaml.safe_dump(schema.to_dict(), sort_keys=False))
    print("note: inferred numeric bounds are the observed min/max; widen them to clinical ranges before a real run")
    return 0
