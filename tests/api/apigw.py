"""API Gateway REST (v1 proxy) events as the Cognito-authorized stage sends them, and a caller over Mangum."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from mangum import Mangum

ADMIN = {"sub": "5f1c-admin", "cognito:username": "alice", "email": "alice@hub.example",
         "cognito:groups": "admin", "token_use": "id", "email_verified": "true",
         "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Test", "aud": "client"}
RESEARCHER = {"sub": "9a7e-researcher", "cognito:username": "bob", "email": "bob@uni.example",
              "cognito:groups": "researcher", "token_use": "id"}
NO_GROUP = {"sub": "0b2d-nogroup", "cognito:username": "carol", "token_use": "id"}


def rest_event(method: str, path: str, claims: dict | None = None, body: object = None,
               headers: dict | None = None, query: dict | None = None, raw_body: bytes | None = None) -> dict:
    """A REST API proxy event for ``/{proxy+}``; claims sit where the Cognito authorizer puts them."""
    headers = {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", "User-Agent": "pytest",
               "X-Forwarded-Proto": "https", "Accept": "*/*", **(headers or {})}
    if body is not None and raw_body is None:
        raw_body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request_context = {
        "resourceId": "r1", "resourcePath": "/{proxy+}", "httpMethod": method, "path": f"/v1{path}",
        "accountId": "123456789012", "protocol": "HTTP/1.1", "stage": "v1", "apiId": "abc123",
        "requestId": str(uuid.uuid4()), "requestTimeEpoch": 1763700000000,
        "identity": {"sourceIp": "198.51.100.7", "userAgent": "pytest", "cognitoIdentityId": None},
        "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": claims}
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query, "multiValueQueryStringParameters":
            {k: [str(v)] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None, "requestContext": request_context,
        "body": base64.b64encode(raw_body).decode() if raw_body is not None else None,
        "isBase64Encoded": raw_body is not None,
    }


class LambdaContext:
    function_name = "fedcore-dev-api"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:fedcore-dev-api"
    memory_limit_in_mb = 3008
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = "/aws/lambda/fedcore-dev-api"
    log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass
class Reply:
    status: int
    headers: dict
    text: str

    def json(self) -> dict:
        return json.loads(self.text)

    @property
    def code(self) -> str | None:
        return self.json()["error"]["code"] if self.status >= 400 else None


class Gateway:
    """Calls a Lambda handler (or an ASGI app through Mangum) the way API Gateway would."""

    def __init__(self, app_or_handler) -> None:
        self.handler = app_or_handler if not hasattr(app_or_handler, "router") else Mangum(app_or_handler,
                                                                                           lifespan="off")

    def __call__(self, method: str, path: str, claims: dict | None = None, **kwargs) -> Reply:
        query = kwargs.pop("query", None)
        if query:
            query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items()}
        response = self.handler(rest_event(method, path, claims, query=query, **kwargs), LambdaContext())
        body = response.get("body") or ""
        if response.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for k, values in (response.get("multiValueHeaders") or {}).items():
            headers[k.lower()] = values[-1]
        return Reply(response["statusCode"], headers, body)
