"""The hospital's privacy policy from an SSM parameter in its own account (DESIGN.md section 9).

The spoke stack writes ``/fedcore/spoke/<id>/policy`` (a String holding SpokePolicy's JSON) from the
hospital's own configuration, and only the trainer's job role may read it. Nothing the hub sends can
change it: the trainer never reads a cap or an opt-out from its environment.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import ClientError

from fedcore.runtime.spoke_policy import SpokePolicy, SpokePolicyError, policy_parameter_name

# Answers that mean "this job cannot have the hospital's policy": refuse, do not retry.
_NO_POLICY = {
    "ParameterNotFound": "does not exist",
    "ParameterVersionNotFound": "does not exist",
    "AccessDeniedException": "is not readable by this job's role",
    "ValidationException": "is not a valid parameter name",
}


class SsmSpokePolicySource:
    """``SpokePolicySource`` over SSM Parameter Store; ``client=None`` makes the default client."""

    def __init__(self, client=None) -> None:
        self._ssm = client or boto3.client("ssm")

    def load(self, spoke_id: str) -> SpokePolicy:
        name = policy_parameter_name(spoke_id)
        try:
            parameter = self._ssm.get_parameter(Name=name)["Parameter"]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in _NO_POLICY:
                raise SpokePolicyError(f"the hospital's policy {name} {_NO_POLICY[code]} ({code})") from exc
            raise
        if parameter.get("Type") != "String":
            raise SpokePolicyError(f"the hospital's policy {name} must be a String parameter, "
                                   f"not {parameter.get('Type')}")
        return SpokePolicy.from_json(parameter["Value"])
