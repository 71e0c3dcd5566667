"""The local sandbox (DESIGN.md section 7): the deployed system on one machine.

moto emulates the hub and one account per hospital (S3, KMS, DynamoDB, STS, IAM, Lambda, Batch,
Step Functions with execution on); the state machine is the one the CDK app synthesizes
(``python -m cdk.app``); Lambda steps run the real handlers (``functions.<step>.handler``) and Batch
jobs run the real trainer (``python -I -m containers.trainer``) as local processes. ``moto_dispatch``
is the only module that touches moto's internals.

The sandbox sits above everything it runs: it depends on ``cdk``, ``functions`` and ``containers``
(through their public entry points) and on fedcore, and none of them imports it. This module is its
public API, the one the CLI (``python -m fedcore demo``, ``bench aggregate``) imports.
"""

from sandbox.emulator import check_extras

check_extras()  # before moto's server and interpreter modules are imported, with a clear message

from sandbox.aggregate_bench import DEFAULT_SPOKES, QUICK_MODEL, QUICK_SPOKES, run_aggregate_bench  # noqa: E402
from sandbox.demo import DemoSpec, run_demo, serve_api  # noqa: E402
from sandbox.sandbox import ExecutionResult, Sandbox  # noqa: E402

__all__ = ["DEFAULT_SPOKES", "QUICK_MODEL", "QUICK_SPOKES", "DemoSpec", "ExecutionResult", "Sandbox",
           "run_aggregate_bench", "run_demo", "serve_api"]
