"""Dependency rules (STYLE.md 1): privacy, aggregation, sealing and serialization import
no torch at import time and no AWS/web packages at all."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = ["fedcore.privacy", "fedcore.aggregation", "fedcore.sealing", "fedcore.serialization"]
SOURCES = sorted(
    [*(ROOT / "fedcore" / "privacy").glob("*.py"), *(ROOT / "fedcore" / "aggregation").glob("*.py"),
     *(ROOT / "fedcore" / "sealing").glob("*.py"), ROOT / "fedcore" / "serialization.py"]
)
FORBIDDEN = {"torch", "boto3", "botocore", "aws_cdk", "fastapi", "mangum", "pickle"}


def imported_top_level_names(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_source_has_no_forbidden_imports(path):
    assert imported_top_level_names(path) & FORBIDDEN == set()


def test_importing_the_packages_loads_neither_torch_nor_aws_nor_web_frameworks():
    # Arrange
    code = (
        "import sys\n"
        f"for name in {MODULES!r}: __import__(name)\n"
        "print(sorted(m for m in ('torch', 'opacus', 'flwr', 'boto3', 'botocore', 'fastapi', 'mangum')"
        " if m in sys.modules))\n"
    )

    # Act
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    # Assert
    assert completed.stdout.strip() == "[]"


def test_flower_aggregators_do_not_bring_web_or_aws_packages():
    # Arrange
    code = (
        "import sys\nimport fedcore.aggregation.flower_strategies\n"
        "print(sorted(m for m in ('torch', 'boto3', 'botocore', 'fastapi', 'mangum') if m in sys.modules))\n"
    )

    # Act
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    # Assert
    assert completed.stdout.strip() == "[]"
