"""The Step Functions "round loop" of DESIGN.md section 3.

Start an execution per run with the run id as the execution name (StartExecution is then idempotent)
and input {"run_id": str, "config": {...}}. The state document grows as follows:

  InitRun        payload {run_id, config, spokes: [the deployment's descriptor]} (spokes written in this definition)
                 -> $.run = {spokes: [descriptor], compute_class: "cpu" | "gpu", config_sha256: str}
                 descriptor = {spoke_id, account, launch_role_arn, epsilon_limit, compute_class,
                 job_queue_arn, job_definition}: the deployment's descriptor (one queue and job
                 definition per compute class) with those of the run's class (config task.compute_class) chosen
                 config_sha256: of the config as the runs table records it (the source); every job checks
                 the copy it reads, models/<run>/config.json, against it
  SetupBudgetGate / BudgetGate
                 payload {run_id, round, spokes} (round 0 for setup, progress.round + 1 after)
                 -> $.gate = {round: int, eligible_spokes: [descriptor], quorum_met: bool}
  SetupStats / TrainRound (Map over $.gate.eligible_spokes, Batch job per spoke, mode stats/train,
                 item {run_id, round, config_sha256, spoke})
                 -> $.reports = [{spoke_id, status: "SUCCEEDED", job_id} | {spoke_id, status: "FAILED", error}]
  SetupMerge / Aggregate
                 payload {run_id, round, reports}
                 -> $.progress = {round: int, quorum_met: bool, more_rounds: bool}
  Finalize*      payload {run_id, status, detail}, status one of COMPLETED, BUDGET_EXHAUSTED,
                 QUORUM_LOST, FAILED -> $.final

The steps read the run's rounds and quorum from its record (the config), not from the payload.
Every path to a Batch job passes a budget gate first. A gate without quorum ends the run cleanly
(BUDGET_EXHAUSTED, Succeed); a round without a reporting quorum ends it as QUORUM_LOST (Fail); any
uncaught error is recorded by RecordRunError before the execution fails.
"""

from __future__ import annotations

from typing import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.components.container_function import ContainerFunction
from cdk.components.encryption import EncryptedLogGroup
from cdk.components.managed_policy_role import ManagedPolicyRole
from cdk.components.round_states import lambda_task, spoke_job_task, spoke_map
from cdk.naming import Names, SpokeEndpoints

_GATE = {"round.$": "$.Payload.round", "eligible_spokes.$": "$.Payload.eligible_spokes",
         "quorum_met.$": "$.Payload.quorum_met"}
_PROGRESS = {"round.$": "$.Payload.round", "quorum_met.$": "$.Payload.quorum_met",
             "more_rounds.$": "$.Payload.more_rounds"}


class RoundLoop(Construct):
    """`state_machine` (STANDARD, logging ALL without execution data, X-Ray) and its `role`, which may
    invoke the five round-loop functions and assume exactly the spokes' launch roles."""

    def __init__(self, scope: Construct, construct_id: str, *, names: Names, init_run: ContainerFunction,
                 setup_merge: ContainerFunction, budget_gate: ContainerFunction, aggregate: ContainerFunction,
                 finalize: ContainerFunction, spokes: Sequence[SpokeEndpoints], key: kms.IKey,
                 log_retention_days: int, job_timeout: Duration, run_timeout: Duration) -> None:
        super().__init__(scope, construct_id)

        def call(state_id: str, fn: ContainerFunction, payload: dict, result_path: str,
                 selector: dict | None = None) -> sfn.CustomState:
            return lambda_task(self, state_id, function=fn.function, timeout=fn.timeout, payload=payload,
                               result_path=result_path, result_selector=selector)

        def gate(state_id: str, round_expression: dict) -> sfn.CustomState:
            return call(state_id, budget_gate, {"run_id.$": "$.run_id", **round_expression,
                                                "spokes.$": "$.run.spokes"},
                        "$.gate", _GATE)

        def merge(state_id: str, fn: ContainerFunction) -> sfn.CustomState:
            return call(state_id, fn, {"run_id.$": "$.run_id", "round.$": "$.gate.round",
                                       "reports.$": "$.reports"},
                        "$.progress", _PROGRESS)

        def finish(state_id: str, status: str, detail_path: str) -> sfn.CustomState:
            return call(state_id, finalize, {"run_id.$": "$.run_id", "status": status, "detail.$": detail_path},
                        "$.final")

        descriptors = [spoke.as_map_item() for spoke in spokes]  # the deployment's hospitals, for InitRun
        init = call("InitRun", init_run, {"run_id.$": "$.run_id", "config.$": "$.config", "spokes": descriptors},
                    "$.run",
                    {"spokes.$": "$.Payload.spokes", "compute_class.$": "$.Payload.compute_class",
                     "config_sha256.$": "$.Payload.config_sha256"})
        setup_gate = gate("SetupBudgetGate", {"round": 0})
        setup_stats = spoke_map(self, "SetupStats", items_path="$.gate.eligible_spokes", round_path="$.gate.round",
                                job=spoke_job_task(self, "SubmitStatsJob", mode="stats", timeout=job_timeout))
        setup = merge("SetupMerge", setup_merge)
        round_gate = gate("BudgetGate", {"round.$": "States.MathAdd($.progress.round, 1)"})
        train = spoke_map(self, "TrainRound", items_path="$.gate.eligible_spokes", round_path="$.gate.round",
                          job=spoke_job_task(self, "SubmitTrainingJob", mode="train", timeout=job_timeout))
        aggregated = merge("Aggregate", aggregate)

        exhausted = finish("FinalizeBudgetExhausted", "BUDGET_EXHAUSTED", "$.gate").next(
            sfn.Succeed(self, "RunBudgetExhausted", comment="Too few spokes have budget left; ended cleanly"))
        quorum_lost = finish("FinalizeQuorumLost", "QUORUM_LOST", "$.progress").next(
            sfn.Fail(self, "RunQuorumLost", error="QuorumLost", cause="Fewer spokes than the quorum reported"))
        completed = finish("FinalizeCompleted", "COMPLETED", "$.progress").next(
            sfn.Succeed(self, "RunCompleted"))
        recorded_error = finish("RecordRunError", "FAILED", "$.error").next(
            sfn.Fail(self, "RunFailed", error="RunFailed", cause="A round-loop step failed; see RecordRunError"))
        for step in (init, setup_gate, setup_stats, setup, round_gate, train, aggregated):
            step.add_catch(recorded_error, errors=["States.ALL"], result_path="$.error")

        outcome = (sfn.Choice(self, "RoundOutcome")
                   .when(sfn.Condition.boolean_equals("$.progress.quorum_met", False), quorum_lost)
                   .when(sfn.Condition.boolean_equals("$.progress.more_rounds", True), round_gate)
                   .otherwise(completed))
        round_gate.next(sfn.Choice(self, "BudgetAvailable")
                        .when(sfn.Condition.boolean_equals("$.gate.quorum_met", False), exhausted)
                        .otherwise(train))
        train.next(aggregated).next(outcome)
        definition = init.next(setup_gate).next(
            sfn.Choice(self, "SetupBudgetAvailable")
            .when(sfn.Condition.boolean_equals("$.gate.quorum_met", False), exhausted)
            .otherwise(setup_stats))
        setup_stats.next(setup).next(outcome)

        self.role = ManagedPolicyRole(self, "Role", role_name=names.state_machine_role,
                                      assumed_by=iam.ServicePrincipal("states.amazonaws.com"))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"],
            resources=[fn.function.function_arn for fn in (init_run, setup_merge, budget_gate, aggregate, finalize)]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=["sts:AssumeRole"], resources=[spoke.launch_role_arn for spoke in spokes]))

        log_group = EncryptedLogGroup(self, "Logs", key=key, retention_days=log_retention_days,
                                      log_group_name=f"/aws/vendedlogs/states/{names.state_machine}")
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=names.state_machine,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            role=self.role,
            timeout=run_timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            comment="Federated training round loop (DESIGN.md section 3)",
        )
