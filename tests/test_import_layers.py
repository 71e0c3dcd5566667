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
ROOT_PACKAGES = ("fedcore", "functions", "containers", "cdk")
_LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
CORE_UP = "fedcore never imports functions, containers or cdk"
CORE_BELOW = "only the CLI and the sandbox sit above fedcore's core"
CDK = "cdk never imports fedcore"
NO_TORCH = "aggregation, privacy and marginal math never import torch"


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
    assert "Contracts: 4 kept, 0 broken." in completed.stdout


# (file of the copy, line appended to it, the contract it breaks)
VIOLATIONS = {
    "core imports a handler": ("fedcore/runtime/layout.py", "import functions.aggregate", CORE_UP),
    "core imports cdk lazily": (
        "fedcore/privacy/ledger.py", "def _f():\n    from cdk import naming", CORE_UP),
    "a second sandbox module reaches up": ("fedcore/sandbox/emulator.py", "import cdk.naming", CORE_UP),
    "the CLI reaches up from another module": ("fedcore/cli/main.py", "import containers.trainer.job", CORE_UP),
    "core imports the sandbox": ("fedcore/runtime/layout.py", "import fedcore.sandbox.calls", CORE_BELOW),
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
    assert "Contracts: 3 kept, 1 broken." in completed.stdout, completed.stdout
    assert contract in completed.stdout.split("Broken contracts")[1]
