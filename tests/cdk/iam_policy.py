"""A small evaluator of synthesized IAM identity policies, conditions included, for the role-permission tests.

CloudFormation intrinsics are resolved to the names the stack gives its resources (a bucket's ARN from its
BucketName, a table's from its TableName, a key's as ``key/<logical id>``). Evaluation follows IAM's rules
for identity policies: an explicit Deny wins, else some Allow must match the action, the resource and every
condition (a condition on a key the request does not carry does not match). Operators the templates use:
StringEquals, StringLike, ArnEquals, ArnLike and their ForAnyValue forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...] = ()  # condition keys -> value (a list for multi-valued keys)

    @staticmethod
    def of(action: str, resource: str, **context: Any) -> "Request":
        return Request(action, resource, tuple(sorted(context.items())))


class StackResolver:
    def __init__(self, template: dict, account: str, region: str) -> None:
        self.resources = template["Resources"]
        self.account, self.region = account, region

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self._ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.arn(logical_id) if attribute in ("Arn", "JobQueueArn") else f"{logical_id}.{attribute}"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(p)) for p in parts)
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name in ("AWS::Partition", "AWS::Region", "AWS::AccountId"):
                text = text.replace("${" + name + "}", self._ref(name))
            return text
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": self.region, "AWS::AccountId": self.account,
                  "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        resource = self.resources[name]
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{props['StateMachineName']}"
        for field in ("BucketName", "TableName", "RoleName", "FunctionName", "JobQueueName", "Name"):
            if field in props and isinstance(props[field], str):
                return props[field]
        return name

    def arn(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind, name = resource["Type"], self._ref(logical_id)
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}",
            "AWS::KMS::Key": f"arn:aws:kms:{self.region}:{self.account}:key/{logical_id}",
            "AWS::IAM::Role": f"arn:aws:iam::{self.account}:role/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{self.region}:{self.account}:function:{name}",
            "AWS::Batch::JobQueue": f"arn:aws:batch:{self.region}:{self.account}:job-queue/{name}",
        }
        return arns.get(kind, f"arn:cfn:{kind}:{logical_id}")

    def role_statements(self, role_id: str) -> list[dict]:
        """Every statement attached to the role: inline, its DefaultPolicy and its customer-managed policies."""
        role = self.resources[role_id]["Properties"]
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        for resource in self.resources.values():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                if {"Ref": role_id} in resource["Properties"].get("Roles", []):
                    documents.append(resource["Properties"]["PolicyDocument"])
        return [self.resolve(s) for doc in documents for s in _as_list(doc["Statement"])]

    def managed_policy_arns(self, role_id: str) -> list[str]:
        return [self.resolve(arn) for arn in self.resources[role_id]["Properties"].get("ManagedPolicyArns", [])]


def allowed(statements: list[dict], request: Request) -> bool:
    matching = [s for s in statements if _matches(s, request)]
    return any(s["Effect"] == "Allow" for s in matching) and not any(s["Effect"] == "Deny" for s in matching)


def actions_of(statement: dict) -> list[str]:
    return _as_list(statement.get("Action", []))


def resources_of(statement: dict) -> list[str]:
    return _as_list(statement.get("Resource", []))


def contained(pattern: str, within: str) -> bool:
    """Whether every string ``pattern`` matches is matched by ``within`` (sufficient test: its * as literal)."""
    return fnmatchcase(pattern, within)


def _matches(statement: dict, request: Request) -> bool:
    if not any(fnmatchcase(request.action, a) for a in actions_of(statement)):
        return False
    if not any(fnmatchcase(request.resource, r) for r in resources_of(statement)):
        return False
    context = dict(request.context)
    for operator, conditions in statement.get("Condition", {}).items():
        for key, expected in conditions.items():
            if not _condition(operator, _as_list(expected), context.get(key)):
                return False
    return True


def _condition(operator: str, expected: list[str], actual: Any) -> bool:
    if actual is None:
        return False
    any_value = operator.startswith("ForAnyValue:")
    operator = operator.removeprefix("ForAnyValue:")
    values = _as_list(actual)
    if operator in ("StringEquals", "ArnEquals"):
        test = lambda v: v in expected  # noqa: E731
    elif operator in ("StringLike", "ArnLike"):
        test = lambda v: any(fnmatchcase(v, e) for e in expected)  # noqa: E731
    else:
        raise AssertionError(f"the evaluator does not know the condition operator {operator}")
    return any(test(v) for v in values) if any_value else all(test(v) for v in values)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]
