"""Synthesize the dev environment once per test session (offline, no Docker) and share the result."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `pytest` without `python -m` does not put the root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from cdk.config import EnvironmentConfig, read_cdk_json_context  # noqa: E402


@dataclass(frozen=True)
class Synthesized:
    """The cloud assembly of `cdk synth -c env=dev`, parsed."""

    outdir: Path
    config: EnvironmentConfig
    hub: dict[str, Any]  # hub template
    spokes: dict[str, dict[str, Any]]  # spoke id -> spoke template
    template_files: tuple[Path, ...]
    validation_report: dict[str, Any]


def synthesize_dev(outdir: Path) -> Synthesized:
    """What `make synth` does, into `outdir`, continuing past rule failures so tests can list them."""
    import aws_cdk as cdk

    from cdk.app import config_of, create_stacks
    from cdk.nag import apply_rule_packs

    context = {
        **read_cdk_json_context(REPO_ROOT / "cdk.json"),
        "env": "dev",
        "@aws-cdk/core:failSynthOnValidationErrors": False,
    }
    app = cdk.App(outdir=str(outdir), context=context)
    config = config_of(app)
    hub, spokes = create_stacks(app, config)
    apply_rule_packs(app)
    app.synth()

    def load(name: str) -> Any:
        return json.loads((outdir / name).read_text(encoding="utf-8"))

    return Synthesized(
        outdir=outdir,
        config=config,
        hub=load(hub.template_file),
        spokes={spoke.id: load(stack.template_file) for spoke, stack in zip(config.spokes, spokes)},
        template_files=tuple(sorted(outdir.glob("*.template.json"))),
        validation_report=load("validation-report.json"),
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize_dev(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synthesize() -> Callable[[Path], Synthesized]:
    """For the rare test that needs its own synthesis (e.g. with acknowledgements switched off)."""
    return synthesize_dev


@pytest.fixture(scope="session")
def hub_template(synthesized: Synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized.hub)


@pytest.fixture(scope="session")
def spoke_templates(synthesized: Synthesized):
    from aws_cdk.assertions import Template

    return {spoke_id: Template.from_json(template) for spoke_id, template in synthesized.spokes.items()}


class Queries:
    """Small lookups over template dicts, for following references without hard-coding logical ids."""

    @staticmethod
    def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
        """{logicalId: resource} of one type."""
        return {lid: res for lid, res in template["Resources"].items() if res["Type"] == resource_type}

    @staticmethod
    def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
        """Every statement of every customer-managed and inline IAM policy in `template`."""
        found = []
        for res in template["Resources"].values():
            props = res.get("Properties", {})
            if res["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                found.extend(props["PolicyDocument"]["Statement"])
            if res["Type"] == "AWS::IAM::Role":
                for policy in props.get("Policies", []):
                    found.extend(policy["PolicyDocument"]["Statement"])
        return found

    @staticmethod
    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    @staticmethod
    def iam_matches(pattern: str, value: str) -> bool:
        """Whether an IAM resource or condition pattern matches `value`: `*` is any run of characters
        (slashes included), `?` any one character, everything else literal (IAM's own rules)."""
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, value, flags=re.DOTALL) is not None

    @classmethod
    def allows(cls, statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]) -> bool:
        """Whether an Allow statement grants `action` on `resource` to a request with these condition keys
        (a key missing from `context` fails its condition). Only plain-string resources are compared;
        an unknown condition operator is an error, so a test never passes by skipping a condition."""
        def holds(operator: str, key: str, expected: Any) -> bool:
            if key not in context:
                return False
            values, actual = [str(v) for v in cls.as_list(expected)], context[key]
            if operator in ("StringEquals", "ArnEquals"):
                return str(actual) in values
            if operator in ("StringLike", "ArnLike"):
                return any(cls.iam_matches(v, str(actual)) for v in values)
            if operator == "ForAnyValue:StringEquals":
                return any(str(a) in values for a in cls.as_list(actual))
            raise ValueError(f"condition operator {operator} is not modelled")

        for statement in statements:
            if statement["Effect"] != "Allow" or not any(cls.iam_matches(a, action)
                                                         for a in cls.as_list(statement["Action"])):
                continue
            if not any(isinstance(r, str) and cls.iam_matches(r, resource) for r in cls.as_list(statement["Resource"])):
                continue
            if all(holds(operator, key, expected) for operator, block in statement.get("Condition", {}).items()
                   for key, expected in block.items()):
                return True
        return False

    @staticmethod
    def refers_to(value: Any, logical_id: str) -> bool:
        """Whether a CloudFormation value contains a Ref or GetAtt of `logical_id`."""
        text = json.dumps(value)
        return f'{{"Ref": "{logical_id}"}}' in text or f'"Fn::GetAtt": ["{logical_id}"' in text


@pytest.fixture(scope="session")
def q() -> type[Queries]:
    return Queries
