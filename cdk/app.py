"""CDK entry point: the hub stack and one spoke stack per hospital of the selected environment.

    cdk synth -c env=dev                      # through the CDK CLI (cdk.json runs this file)
    CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"env": "dev"}' .venv/bin/python cdk/app.py   # without it
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, sys.path[0] is cdk/, where cdk/constructs would shadow the `constructs` library.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import aws_cdk as cdk  # noqa: E402

from cdk.config import EnvironmentConfig, read_cdk_json_context  # noqa: E402
from cdk.nag import apply_rule_packs  # noqa: E402
from cdk.naming import Names  # noqa: E402
from cdk.stacks.hub_stack import HubStack  # noqa: E402
from cdk.stacks.spoke_stack import SpokeStack  # noqa: E402

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
CONFIG_KEYS = ("env", "project", "environments")


def create_stacks(app: cdk.App, config: EnvironmentConfig) -> tuple[HubStack, list[SpokeStack]]:
    """Add the hub stack and one spoke stack per spoke to `app`."""
    names = Names(config)
    hub = HubStack(app, names.hub_stack, config=config)
    spokes = [SpokeStack(app, names.spoke_stack(spoke), config=config, spoke=spoke) for spoke in config.spokes]
    cdk.Tags.of(app).add("project", config.project)
    cdk.Tags.of(app).add("environment", config.name)
    return hub, spokes


def config_of(app: cdk.App) -> EnvironmentConfig:
    return EnvironmentConfig.from_context({key: app.node.try_get_context(key) for key in CONFIG_KEYS})


def main() -> None:
    # cdk.json's context is the default; the CLI's context (cdk.json plus -c flags) overrides it.
    app = cdk.App(context=read_cdk_json_context(CDK_JSON))
    create_stacks(app, config_of(app))
    apply_rule_packs(app)
    app.synth()


if __name__ == "__main__":
    main()
