"""InitRun: validate the run config, record the run, publish config and schema to spokes."""

from fedcore.datasets import builtin_schema
from fedcore.runtime.init_run import init_run
from fedcore.schema import Schema
from functions.hub_environment import default_epsilon, deployment_defaults, deployment_spokes, step_services
from functions.observability import logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    config = dict(event["config"])
    schema_spec = config.pop("schema", "healthcare")  # a built-in schema name or a schema object
    schema = builtin_schema(schema_spec) if isinstance(schema_spec, str) else Schema.from_dict(schema_spec)
    config = deployment_defaults().apply(config)  # as POST /runs does: the same run from the sandbox or the API
    result = init_run(step_services("init_run"), event["run_id"], config, schema, deployment_spokes(),
                      default_epsilon())
    logger.info("run started", extra={"run_id": event["run_id"]})  # the execution is named after the run
    return result
