"""Research API Lambda: the FastAPI app behind API Gateway (REST, Cognito authorizer), via Mangum.

The app and its AWS clients are built once per container; identity comes only from the
authorizer's claims in the event (``functions.api_app.auth``).
"""

import os
from dataclasses import replace

import boto3
from botocore.config import Config
from mangum import Mangum

from fedcore.aws.s3_blobs import S3BlobStore
from functions.api_app import ApiSettings, create_app
from functions.hub_services import hub_services
from functions.observability import logger

# Download links must be SigV4: the hub bucket is SSE-KMS, and S3 refuses other signatures for it.
_s3 = boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
app = create_app(replace(hub_services(), blobs=S3BlobStore(os.environ["HUB_BUCKET"], client=_s3)),
                 ApiSettings.from_env())
_mangum = Mangum(app, lifespan="off")


@logger.inject_lambda_context(log_event=False)
def handler(event, context):
    return _mangum(event, context)
