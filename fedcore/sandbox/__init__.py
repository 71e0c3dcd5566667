"""The local sandbox (DESIGN.md section 7): the deployed system on one machine.

moto emulates the hub and one account per hospital (S3, KMS, DynamoDB, STS, IAM, Lambda, Batch,
Step Functions with execution on); the state machine is the one ``cdk/app.py`` synthesizes; Lambda
steps run the real ``functions/*`` handlers and Batch jobs run the real trainer as local processes.
``moto_dispatch`` is the only module that touches moto's internals. Like ``fedcore.aws``, this
package is an AWS adapter: fedcore's core never imports it.
"""

from fedcore.sandbox.emulator import check_extras

check_extras()  # before moto's server and interpreter modules are imported, with a clear message

from fedcore.sandbox.sandbox import ExecutionResult, Sandbox  # noqa: E402

__all__ = ["ExecutionResult", "Sandbox"]
