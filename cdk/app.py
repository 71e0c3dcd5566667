"""CDK entry point: the hub stack and one spoke stack per hospital of the selected environment.

    cdk synth -c env=dev                      # through the CDK CLI (cdk.json runs this module)
    CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON='{"env": "dev"}' .venv/bin/python -m cdk.app   # without it (make synth)

A module of the ``cdk`` package, run with ``-m`` from the folder of ``cdk.json`` (the CDK CLI's
working directory), never as a script: the sandbox synthesizes the app the same way.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from cdk.config import EnvironmentConfig, read_cdk_json_context
from cdk.nag import apply_rule_packs
from cdk.naming import Names
from cdk.stacks.hub_stack import HubStack
from cdk.stacks.spoke_stack import SpokeStack

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
