"""``python -m fedcore``: federated DP synthetic health data from the command line."""

from __future__ import annotations

import argparse
import logging
import sys

from fedcore.cli import audit_cmd, bench_cmd, demo_cmd, generate_cmd, predict_cmd, privacy_cmd, schema_cmd, simulate_cmd

EXAMPLES = """examples:
  python -m fedcore demo --out out/demo
  python -m fedcore simulate --data actg175 --spokes 3 --out out/sim
  python -m fedcore simulate --data actg175 --family diffusion --rounds 6 --out out/diff
  python -m fedcore simulate --data patients.csv --schema auto --no-dp --out out/nodp
  python -m fedcore simulate --data actg175 --task risk --target cens --exclude days --out out/risk
  python -m fedcore simulate --data actg175 --task survival --time days --event cens --out out/surv
  python -m fedcore generate --model out/sim/model --rows 1000 --condition arms=1 --out rows.csv
  python -m fedcore privacy epsilon --noise-multiplier 1.5 --sample-rate 0.04 --steps 2250 --delta 1e-5
  python -m fedcore privacy plan --target-epsilon 3 --rows 600 --batch-size 256 --epochs-per-round 5 --rounds 6 --delta 1e-5
  python -m fedcore schema infer --data patients.csv --out schema.yaml
  python -m fedcore bench --json
  python -m fedcore audit verify out/demo/audit.jsonl
"""


class ExactParser(argparse.ArgumentParser):
    """No prefix matching (``allow_abbrev=False``): ``simulate --target cens`` must not be read as
    ``--target-epsilon cens``. Every command's parser is one (add_subparsers uses the parent's class)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = ExactParser(
        prog="python -m fedcore",
        description="Hospitals train one generative model of their patients with differential "
        "privacy; no patient row leaves a hospital.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    simulate_cmd.register(commands)
    generate_cmd.register(commands)
    predict_cmd.register(commands)
    privacy_cmd.register(commands)
    schema_cmd.register(commands)
    bench_cmd.register(commands)
    demo_cmd.register(commands)
    audit_cmd.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
