"""``fedcore audit verify FILE``: check an exported audit chain for edits, gaps and reordering."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fedcore.audit import verify_chain
from fedcore.audit.log import read_jsonl


def register(commands) -> None:
    p = commands.add_parser("audit", help="work with exported audit chains",
                            description="Audit-chain tools (DESIGN.md section 6).")
    actions = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser(
        "verify", help="check an exported chain (JSON lines)",
        description="Exit 0 and print 'ok N entries' if every entry's hash and link are intact and the "
        "sequence has no gaps; otherwise exit 1 and name the first bad entry.")
    verify.add_argument("file", type=Path, help="audit.jsonl, as written by the demo or the API's export")
    verify.add_argument("--head", metavar="SHA256",
                        help="hash of the newest entry, kept apart from the file (the demo's report.json "
                        "sandbox.audit_head): without it, removing entries from the end is undetectable")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    if not args.file.exists():
        raise FileNotFoundError(f"no such file: {args.file}")
    try:
        entries = read_jsonl(args.file)
    except ValueError as exc:
        print(f"FAILED: {args.file}: {exc}", file=sys.stderr)
        return 1
    if not entries:
        print(f"FAILED: {args.file} holds no audit entries", file=sys.stderr)
        return 1
    result = verify_chain(entries)
    if result.ok and args.head and entries[-1].hash != args.head:
        print(f"FAILED at entry {entries[-1].seq + 1}: the newest entry's hash is not --head; entries were "
              "removed from the end or added after it was recorded", file=sys.stderr)
        return 1
    if result.ok:
        print(f"ok {result.count} entries")
        return 0
    print(f"FAILED at entry {result.first_bad_seq}: {result.reason} ({result.count} entries before it are intact)",
          file=sys.stderr)
    return 1
