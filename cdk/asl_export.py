"""Export the round loop as plain Amazon States Language from a synthesized hub template.

The template holds the definition as `DefinitionString`, usually an `Fn::Join` of string pieces and
`Ref` / `Fn::GetAtt` references (Lambda ARNs, partition). `export_asl` joins the pieces, resolving
each reference through a caller-supplied mapping {logicalId: arn}, so the definition can run on a
local Step Functions emulator (moto) against locally created functions. Standard library only: the
sandbox imports this without the CDK.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
LAMBDA_TYPE = "AWS::Lambda::Function"
# Used when the mapping does not name them (ARNs in the definition are built from these).
DEFAULT_PSEUDO_PARAMETERS = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


class UnresolvedReferenceError(ValueError):
    """The definition refers to something the mapping does not resolve."""


def state_machine_ids(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the state machines in `template`."""
    return [lid for lid, res in template.get("Resources", {}).items() if res.get("Type") == STATE_MACHINE_TYPE]


def referenced_ids(template: Mapping[str, Any], state_machine_id: str | None = None) -> set[str]:
    """Logical ids and pseudo parameters that the definition refers to (what `resolve` must cover)."""
    found: set[str] = set()

    def collect(node: Any) -> str:
        if isinstance(node, dict) and "Ref" in node:
            found.add(node["Ref"])
        elif isinstance(node, dict) and "Fn::GetAtt" in node:
            found.add(_get_att_parts(node)[0])
        elif isinstance(node, dict) and "Fn::Join" in node:
            for item in node["Fn::Join"][1]:
                collect(item)
        return ""

    collect(_definition(template, state_machine_id))
    return found


def lambda_handlers(template: Mapping[str, Any]) -> dict[str, str]:
    """{logicalId: handler} for container-image Lambdas, e.g. {"...InitRun...": "functions.init_run.handler"},
    so that a caller can map each function the definition invokes to the right local handler."""
    handlers = {}
    for lid, res in template.get("Resources", {}).items():
        command = res.get("Properties", {}).get("ImageConfig", {}).get("Command")
        if res.get("Type") == LAMBDA_TYPE and command:
            handlers[lid] = command[0]
    return handlers


def export_asl(template: Mapping[str, Any], resolve: Mapping[str, str], *, state_machine_id: str | None = None) -> str:
    """The ASL JSON of the (only, or named) state machine with every reference resolved.

    `resolve` maps logical ids (and optionally pseudo parameters such as "AWS::Region") to the
    values to substitute: a `Ref` or any `Fn::GetAtt` attribute of a logical id becomes its value.
    Raises UnresolvedReferenceError listing whatever is missing.
    """
    values = {**DEFAULT_PSEUDO_PARAMETERS, **resolve}
    missing: set[str] = set()

    def render(node: Any) -> str:
        if isinstance(node, str):
            return node
        if isinstance(node, dict) and "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(render(item) for item in items)
        if isinstance(node, dict) and ("Ref" in node or "Fn::GetAtt" in node):
            name = node["Ref"] if "Ref" in node else _get_att_parts(node)[0]
            if name not in values:
                missing.add(name)
                return ""
            return values[name]
        raise UnresolvedReferenceError(f"unsupported intrinsic in DefinitionString: {json.dumps(node)[:200]}")

    text = render(_definition(template, state_machine_id))
    if missing:
        raise UnresolvedReferenceError(f"no value for {sorted(missing)} in the resolve mapping")
    json.loads(text)  # the result must be a JSON document
    return text


def _definition(template: Mapping[str, Any], state_machine_id: str | None) -> Any:
    ids = state_machine_ids(template)
    if state_machine_id is None:
        if len(ids) != 1:
            raise ValueError(f"expected one state machine, found {ids}; pass state_machine_id")
        state_machine_id = ids[0]
    elif state_machine_id not in ids:
        raise ValueError(f"{state_machine_id!r} is not a state machine in this template ({ids})")
    properties = template["Resources"][state_machine_id]["Properties"]
    if "DefinitionString" in properties:
        return properties["DefinitionString"]
    if "Definition" in properties:
        return json.dumps(properties["Definition"])
    raise ValueError(f"{state_machine_id} has no DefinitionString")


def _get_att_parts(node: Mapping[str, Any]) -> list[str]:
    value = node["Fn::GetAtt"]
    return value.split(".", 1) if isinstance(value, str) else list(value)
