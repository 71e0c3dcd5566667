"""Research API Lambda: the FastAPI app behind API Gateway (REST, Cognito authorizer), via Mangum.

The app and its AWS clients are built once per container; identity comes only from the
authorizer's claims in the event (``functions.api_app.auth``).
"""

from mangum import Mangum

from functions.api_app import ApiSettings, create_app
from functions.hub_environment import step_services
from functions.observability import logger

# step_services' S3 client signs with SigV4, which the SSE-KMS hub bucket needs for download links
app = create_app(step_services("api"), ApiSettings.from_env())
_mangum = Mangum(app, lifespan="off")


@logger.inject_lambda_context(log_event=False)
def handler(event, context):
    return _mangum(event, context)
