"""Reading resource properties out of a synthesized CloudFormation template.

The sandbox creates emulated resources from the template's own properties; ``Ref``, ``Fn::GetAtt``,
``Fn::Join`` and ``Fn::Sub`` are resolved against what has been created so far (``Resolver.bind``).
Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvedError(ValueError):
    """A property refers to a resource that has not been created in the sandbox."""


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> Iterator[tuple[str, dict]]:
    """(logical id, properties) of every resource of ``resource_type``, in template order."""
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == resource_type:
            yield logical_id, dict(resource.get("Properties", {}))


class Resolver:
    """Values of created resources: ``bind(id, Ref=..., Arn=...)``, then ``resolve(node)``."""

    def __init__(self, account: str, region: str, partition: str = "aws") -> None:
        self._values: dict[str, dict[str, str]] = {
            "AWS::AccountId": {"Ref": account}, "AWS::Region": {"Ref": region},
            "AWS::Partition": {"Ref": partition}, "AWS::URLSuffix": {"Ref": "amazonaws.com"},
        }

    def bind(self, logical_id: str, **attributes: str) -> None:
        self._values.setdefault(logical_id, {}).update(attributes)

    def value(self, logical_id: str, attribute: str = "Ref") -> str:
        try:
            return self._values[logical_id][attribute]
        except KeyError:
            raise UnresolvedError(f"{logical_id}.{attribute} has no sandbox value") from None

    def resolve(self, node: Any) -> Any:
        """``node`` with every intrinsic replaced by its value (lists and dicts recursively)."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"}:
            return self.value(node["Ref"])
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            logical_id, attribute = target.split(".", 1) if isinstance(target, str) else target
            return self.value(logical_id, attribute)
        if set(node) == {"Fn::Join"}:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(str(self.resolve(item)) for item in items)
        if set(node) == {"Fn::Sub"}:
            return self._sub(node["Fn::Sub"])
        if any(key.startswith("Fn::") for key in node):
            raise UnresolvedError(f"unsupported intrinsic: {json.dumps(node)[:200]}")
        return {key: self.resolve(value) for key, value in node.items()}

    def _sub(self, spec: Any) -> str:
        text, local = (spec, {}) if isinstance(spec, str) else (spec[0], spec[1])

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name in local:
                return str(self.resolve(local[name]))
            logical_id, _, attribute = name.partition(".")
            return self.value(logical_id, attribute or "Ref")

        return _SUB_VARIABLE.sub(substitute, text)
