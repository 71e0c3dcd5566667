"""Dependency layers (DESIGN.md section 2, STYLE.md 1) held by import-linter's contracts in
``.importlinter``: the repository keeps them, and a copy of it with one wrong import breaks the
contract that forbids that import."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
ROOT_PACKAGES = ("fedcore", "functions", "containers", "cdk", "sandbox")
_LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
CORE_UP = "fedcore never imports functions, containers, cdk or the sandbox"
CORE_BELOW = "only the CLI sits above fedcore's core"
NOT_THE_SANDBOX = "functions, containers and cdk never import the sandbox or fedcore's CLI"
SANDBOX_PUBLIC = "the sandbox reaches functions, containers and cdk only through their public entry points"
CDK = "cdk never imports fedcore"
NO_TORCH = "aggregation, privacy and marginal math never import torch"
CONTRACTS = 6


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """Runs lint-imports over the root packages found from ``cwd`` (no cache written anywhere)."""
    env = {**os.environ, "PYTHONPATH": str(cwd), "COLUMNS": "400"}  # one line per contract name
    return subprocess.run([sys.executable, "-c", _LINT, "--no-cache", "--no-logo", str(CONFIG)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_repository_keeps_every_contract():
    # Act
    completed = lint_imports(ROOT)

    # Assert
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in completed.stdout


# (file of the copy, line appended to it, the contract it breaks)
VIOLATIONS = {
    "core imports a handler": ("fedcore/runtime/layout.py", "import functions.aggregate", CORE_UP),
    "core imports cdk lazily": (
        "fedcore/privacy/ledger.py", "def _f():\n    from cdk import naming", CORE_UP),
    "the CLI reaches up from another module": ("fedcore/cli/main.py", "import containers.trainer.job", CORE_UP),
    "the CLI reaches past the sandbox's API": ("fedcore/cli/demo_cmd.py", "import sandbox.moto_dispatch", CORE_UP),
    "core imports the sandbox": ("fedcore/runtime/layout.py", "import sandbox", CORE_UP),
    "core imports the CLI": ("fedcore/runtime/layout.py", "import fedcore.cli.main", CORE_BELOW),
    "a handler imports the sandbox": ("functions/aggregate.py", "import sandbox.calls", NOT_THE_SANDBOX),
    "the trainer imports the CLI": ("containers/trainer/job.py", "from fedcore.cli import demo_cmd", NOT_THE_SANDBOX),
    "the sandbox builds a step's adapters": (
        "sandbox/lambda_runtime.py", "from functions.init_run import step_services", SANDBOX_PUBLIC),
    "the sandbox imports cdk beyond the exporter": ("sandbox/emulator.py", "import cdk.naming", SANDBOX_PUBLIC),
    "the sandbox imports the trainer's job": ("sandbox/batch_runtime.py", "import containers.trainer.job",
                                              SANDBOX_PUBLIC),
    "cdk imports fedcore": ("cdk/naming.py", "from fedcore.runtime import layout", CDK),
    "marginal math imports torch": ("fedcore/marginal/cells.py", "import torch", NO_TORCH),
    "aggregation reaches torch through the model code": (
        "fedcore/aggregation/fedavg.py", "import fedcore.model", NO_TORCH),
    "privacy imports opacus": ("fedcore/privacy/planner.py", "import opacus", NO_TORCH),
}


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory):
    """The root packages' Python files, copied once; each test copies this copy and breaks it."""
    copy = tmp_path_factory.mktemp("clean")
    for package in ROOT_PACKAGES:
        shutil.copytree(ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "cdk.out", "node_modules"))
    return copy


@pytest.mark.parametrize("violation", VIOLATIONS, ids=list(VIOLATIONS))
def test_one_wrong_import_breaks_its_contract(violation, clean_copy, tmp_path):
    # Arrange
    path, line, contract = VIOLATIONS[violation]
    tree = tmp_path / "tree"
    shutil.copytree(clean_copy, tree)
    target = tree / path
    target.write_text(target.read_text() + "\n" + line + "\n")

    # Act
    completed = lint_imports(tree)

    # Assert
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert f"Contracts: {CONTRACTS - 1} kept, 1 broken." in completed.stdout, completed.stdout
    assert contract in completed.stdout.split("Broken contracts")[1]
