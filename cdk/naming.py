"""Physical names and ARNs that the hub and spoke stacks agree on.

Hub and spokes live in different accounts, so they cannot pass CloudFormation references to each
other. Each side derives the other's names from the shared config instead; this module is the one
place those names are spelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from cdk.config import COMPUTE_CLASSES, EnvironmentConfig, Spoke

# Spelled again here because cdk/ imports nothing from fedcore (DESIGN.md section 2); tests check that
# they equal fedcore.runtime.spoke_policy.policy_parameter_name and fedcore.aws.s3_ledger's key.
SPOKE_POLICY_PARAMETER = "/fedcore/spoke/{spoke_id}/policy"
LOCAL_LEDGER_KEY = "privacy-ledger/{spoke_id}.json"


@dataclass(frozen=True)
class SpokeQueue:
    """One of a spoke's Batch queues and the trainer job definition sized for it."""

    job_queue_arn: str
    job_definition: str  # name; Batch resolves the latest active revision


@dataclass(frozen=True)
class SpokeEndpoints:
    """What the hub needs to know about one spoke (passed to InitRun and used in hub policies)."""

    spoke_id: str
    account: str
    job_role_arn: str  # trainer job role: the only spoke principal the hub's bucket and key trust
    launch_role_arn: str  # assumed by the state machine to submit Batch jobs (Credentials.RoleArn)
    queues: Mapping[str, SpokeQueue]  # compute class ("cpu", "gpu") -> its queue and job definition
    epsilon_limit: float

    def as_map_item(self) -> dict[str, object]:
        """The spoke descriptor InitRun gets (its payload's ``spokes``). InitRun returns each with the queue and job
        definition of the run's compute class chosen (job_queue_arn, job_definition, compute_class): the
        training Map iterates over those."""
        return {
            "spoke_id": self.spoke_id,
            "account": self.account,
            "launch_role_arn": self.launch_role_arn,
            "queues": {name: {"job_queue_arn": queue.job_queue_arn, "job_definition": queue.job_definition}
                       for name, queue in sorted(self.queues.items())},
            "epsilon_limit": self.epsilon_limit,
        }


@dataclass(frozen=True)
class Names:
    """Names for one environment; `partition` is "aws" unless deploying to aws-cn / aws-us-gov."""

    config: EnvironmentConfig
    partition: str = "aws"

    @property
    def prefix(self) -> str:
        return self.config.prefix

    # --- hub ---------------------------------------------------------------------------------
    @property
    def hub_stack(self) -> str:
        return f"{self.prefix}-hub"

    @property
    def hub_bucket(self) -> str:
        return f"{self.prefix}-hub-{self.config.hub_account}-{self.config.hub_region}"

    @property
    def hub_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.hub_bucket}"

    @property
    def hub_key_alias(self) -> str:
        return f"alias/{self.prefix}-hub"

    @property
    def hub_key_alias_arn(self) -> str:
        return f"arn:{self.partition}:kms:{self.config.hub_region}:{self.config.hub_account}:{self.hub_key_alias}"

    @property
    def hub_key_arn_pattern(self) -> str:
        """Any key in the hub account and region; narrowed by a kms:ResourceAliases condition."""
        return f"arn:{self.partition}:kms:{self.config.hub_region}:{self.config.hub_account}:key/*"

    @property
    def state_machine(self) -> str:
        return f"{self.prefix}-round-loop"

    @property
    def state_machine_arn(self) -> str:
        return (f"arn:{self.partition}:states:{self.config.hub_region}:{self.config.hub_account}"
                f":stateMachine:{self.state_machine}")

    @property
    def state_machine_role(self) -> str:
        return f"{self.prefix}-round-loop"

    @property
    def state_machine_role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.config.hub_account}:role/{self.state_machine_role}"

    def table(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def function(self, kind: str) -> str:
        return f"{self.prefix}-{kind.replace('_', '-')}"

    # --- spokes ------------------------------------------------------------------------------
    def spoke_stack(self, spoke: Spoke) -> str:
        return f"{self.prefix}-spoke-{spoke.id}"

    def data_bucket(self, spoke: Spoke) -> str:
        return f"{self.prefix}-{spoke.id}-data-{spoke.account}-{spoke.region}"

    def job_role(self, spoke: Spoke) -> str:
        return f"{self.prefix}-{spoke.id}-job"

    def launch_role(self, spoke: Spoke) -> str:
        return f"{self.prefix}-{spoke.id}-launch"

    def job_queue(self, spoke: Spoke, compute_class: str) -> str:
        return f"{self.prefix}-{spoke.id}-{_known(compute_class)}"

    def job_queue_arn(self, spoke: Spoke, compute_class: str) -> str:
        return f"{self._batch_arn(spoke)}:job-queue/{self.job_queue(spoke, compute_class)}"

    def job_definition(self, spoke: Spoke, compute_class: str) -> str:
        return f"{self.prefix}-{spoke.id}-trainer-{_known(compute_class)}"

    def job_definition_arn(self, spoke: Spoke, compute_class: str) -> str:
        """Without a revision: IAM grants on it name revisions as `<arn>:<revision>`."""
        return f"{self._batch_arn(spoke)}:job-definition/{self.job_definition(spoke, compute_class)}"

    def _batch_arn(self, spoke: Spoke) -> str:
        return f"arn:{self.partition}:batch:{spoke.region}:{spoke.account}"

    def spoke_policy_parameter(self, spoke: Spoke) -> str:
        """The SSM parameter (in the spoke's account) holding the hospital's own epsilon cap and DP opt-out."""
        return SPOKE_POLICY_PARAMETER.format(spoke_id=spoke.id)

    def spoke_policy_parameter_arn(self, spoke: Spoke) -> str:
        # A name that starts with "/" follows "parameter" directly in the ARN.
        return (f"arn:{self.partition}:ssm:{spoke.region}:{spoke.account}"
                f":parameter{self.spoke_policy_parameter(spoke)}")

    def local_ledger_key(self, spoke: Spoke) -> str:
        """The hospital's own privacy ledger, an object in its data bucket."""
        return LOCAL_LEDGER_KEY.format(spoke_id=spoke.id)

    def spoke_endpoints(self, spoke: Spoke) -> SpokeEndpoints:
        iam = f"arn:{self.partition}:iam::{spoke.account}:role"
        return SpokeEndpoints(
            spoke_id=spoke.id,
            account=spoke.account,
            job_role_arn=f"{iam}/{self.job_role(spoke)}",
            launch_role_arn=f"{iam}/{self.launch_role(spoke)}",
            queues={name: SpokeQueue(self.job_queue_arn(spoke, name), self.job_definition(spoke, name))
                    for name in COMPUTE_CLASSES},
            epsilon_limit=spoke.epsilon_limit,
        )

    def all_spoke_endpoints(self) -> tuple[SpokeEndpoints, ...]:
        return tuple(self.spoke_endpoints(spoke) for spoke in self.config.spokes)


def _known(compute_class: str) -> str:
    if compute_class not in COMPUTE_CLASSES:
        raise ValueError(f"unknown compute class {compute_class!r}; valid: {', '.join(COMPUTE_CLASSES)}")
    return compute_class
