"""InitRun: validate the run config, record the run, publish config and schema to spokes."""

from fedcore.datasets import builtin_schema
from fedcore.runtime.init_run import init_run
from fedcore.schema import Schema
from fedcore.tasks.image.spec import run_schema_of_task
from functions.hub_environment import default_epsilon, deployment_defaults, deployment_spokes, step_services
from functions.observability import logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event, context):
    config = dict(event["config"])
    schema_spec = config.pop("schema", None)  # a built-in schema name or a schema object
    derived = run_schema_of_task(config.get("task"))  # an image run's: its classes, from task.image
    if schema_spec is None:
        schema = derived or builtin_schema("healthcare")
    else:  # an image run given a table schema is refused by RunSpec (the task checks its schema)
        schema = builtin_schema(schema_spec) if isinstance(schema_spec, str) else Schema.from_dict(schema_spec)
    config = deployment_defaults().apply(config)  # as POST /runs does: the same run from the sandbox or the API
    result = init_run(step_services("init_run"), event["run_id"], config, schema, deployment_spokes(event["spokes"]),
                      default_epsilon())
    logger.info("run started", extra={"run_id": event["run_id"]})  # the execution is named after the run
    return result
