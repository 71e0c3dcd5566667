"""The researchers' HTTPS API: API Gateway (REST) with a Cognito authorizer in front of the API Lambda.

Every route goes to the FastAPI app (Lambda proxy), which enforces the `researcher` / `admin` groups
from the token's cognito:groups claim; API Gateway authenticates, validates, throttles, logs and is
protected by WAF. The pages a browser navigates to (the dashboard's shell, the API docs) and their static
files are GET-only routes without the authorizer (PUBLIC_PAGES): a navigation carries no bearer token, and
they hold no data; the page's scripts then call the data routes with the signed-in user's token.

The dashboard signs people in through Cognito's hosted UI (a Cognito-prefix domain) with the authorization code
grant and PKCE: the app client is public (no secret; a page cannot keep one), allows only that grant, and
accepts only the dashboard's own address as callback and logout URL. That address is built from the REST API's
id, not its stage, so the client depends on the API's root resource only: the client -> RestApi -> Lambda
environment -> client cycle that `rest_api.url` would close does not exist.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk import nag
from cdk.components.encryption import EncryptedLogGroup
from cdk.components.managed_policy_role import ManagedPolicyRole
from cdk.components.web_acl import RateLimitedWebAcl

GROUPS = {"researcher": "May generate synthetic records and read runs and budgets",
          "admin": "May also start runs, reset budgets and read the audit log"}
STAGE = "v1"
BINARY_MEDIA_TYPES = ("image/png", "application/x-npz", "application/zip")
# Resource paths served without a token, GET only: the dashboard's page shell and its files
# (functions/api_app/dashboard), the API docs, their assets and the OpenAPI document they render
# (functions/api_app/offline_docs.py). The app answers these paths without a caller and returns no data on them.
PUBLIC_PAGES = ("/dashboard", "/dashboard/{proxy+}", "/docs", "/redoc", "/openapi.json", "/static/{proxy+}")
DASHBOARD_PATH = "dashboard"
# Cognito's rule for a prefix domain: lowercase letters, digits and inner hyphens, no reserved word
DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
RESERVED_IN_PREFIX = ("aws", "amazon", "cognito")
SIGN_IN_SCOPES = (cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE)


def hosted_ui_prefix(prefix: str) -> str:
    """The hosted UI's domain prefix (globally unique per region: callers pass the environment's prefix and
    account); a clear error instead of a failed deployment when Cognito would refuse it."""
    if not DOMAIN_PREFIX.fullmatch(prefix) or any(word in prefix for word in RESERVED_IN_PREFIX):
        raise ValueError(f"hosted UI domain prefix {prefix!r}: Cognito needs 1-63 lowercase letters, digits and "
                         f"inner hyphens, without {', '.join(RESERVED_IN_PREFIX)}; rename the project or environment")
    return prefix


class ResearchApi(Construct):
    """`user_pool` (MFA required, Plus feature plan, groups in GROUPS), `client` (the researchers' SRP client, no
    OAuth), `domain` and `dashboard_client` (the hosted UI sign-in of `dashboard_url`), and `rest_api` (Cognito
    authorizer, request validation, stage throttling, access and execution logs, X-Ray, WAF)."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, handler: lambda_.Function,
                 key: kms.IKey, log_retention_days: int, throttle_rate: float, throttle_burst: int,
                 waf_rate_limit: int, domain_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=name,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14, require_lowercase=True, require_uppercase=True, require_digits=True,
                require_symbols=True, temp_password_validity=Duration.days(3)),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for group, description in GROUPS.items():
            cognito.CfnUserPoolGroup(self, f"{group.capitalize()}Group", user_pool_id=self.user_pool.user_pool_id,
                                     group_name=group, description=description)
        self.client = self.user_pool.add_client(
            "ResearchClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            # CDK enables the implicit and code grants with an https://example.com callback unless told
            # otherwise: with a hosted UI domain, that would hand this client's tokens to example.com
            disable_o_auth=True,
            generate_secret=False,
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
        )

        access_logs = EncryptedLogGroup(self, "AccessLogs", key=key, retention_days=log_retention_days)
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=name,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # bodies API Gateway passes to the function base64-encoded, and answers as bytes when the client's
            # Accept header names them: images for POST /predict, the model directory's zip
            binary_media_types=list(BINARY_MEDIA_TYPES),
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request and response bodies may carry synthetic patient rows
                tracing_enabled=True,
                metrics_enabled=True,
            ),
        )
        self._hosted_ui_sign_in(handler, hosted_ui_prefix(domain_prefix))
        stage = self.rest_api.deployment_stage
        nag.acknowledge(stage, nag.Reason.NO_API_CACHE, "HIPAA.Security-APIGWCacheEnabledAndEncrypted",
                        "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted")
        nag.acknowledge(stage, nag.Reason.NO_CLIENT_CERTIFICATE, "HIPAA.Security-APIGWSSLEnabled",
                        "NIST.800.53.R5-APIGWSSLEnabled")

        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])
        validator = apigw.RequestValidator(self, "Validator", rest_api=self.rest_api,
                                           validate_request_body=True, validate_request_parameters=True)
        integration = apigw.LambdaIntegration(handler, proxy=True)
        method_options = dict(
            authorizer=authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
            request_parameters={"method.request.header.Authorization": True},
        )
        self.rest_api.root.add_method("ANY", integration, **method_options)
        self.rest_api.root.add_resource("{proxy+}").add_method("ANY", integration, **method_options)
        for path in PUBLIC_PAGES:
            method = self.rest_api.root.resource_for_path(path).add_method(
                "GET", integration, authorization_type=apigw.AuthorizationType.NONE, request_validator=validator)
            nag.acknowledge(method, nag.Reason.PUBLIC_PAGE, "AwsSolutions-APIG4", "AwsSolutions-COG4")

        self._execution_logs(key, log_retention_days, access_logs)
        RateLimitedWebAcl(self, "Waf", name=name, resource_arn=stage.stage_arn, rate_limit=waf_rate_limit,
                          key=key, log_retention_days=log_retention_days)

    def _hosted_ui_sign_in(self, handler: lambda_.Function, domain_prefix: str) -> None:
        """`domain` (the hosted UI) and `dashboard_client` (public, authorization code + PKCE, the dashboard's
        address only); the API function serves both to the page (DASHBOARD_AUTH_DOMAIN, DASHBOARD_CLIENT_ID)."""
        self.domain = self.user_pool.add_domain(
            "HostedUi", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix))
        self.dashboard_url = (f"https://{self.rest_api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/"
                              f"{STAGE}/{DASHBOARD_PATH}")
        self.dashboard_client = self.user_pool.add_client(
            "DashboardClient",
            generate_secret=False,
            prevent_user_existence_errors=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
                scopes=list(SIGN_IN_SCOPES),
                callback_urls=[self.dashboard_url],
                logout_urls=[self.dashboard_url]),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
            enable_token_revocation=True,
        )
        # an empty AuthFlow leaves ExplicitAuthFlows out, and Cognito's default then allows SRP and custom
        # authentication too; the page needs none of them
        cfn_client = self.dashboard_client.node.default_child
        cfn_client.add_property_override("ExplicitAuthFlows", ["ALLOW_REFRESH_TOKEN_AUTH"])
        handler.add_environment("DASHBOARD_AUTH_DOMAIN", self.domain.base_url())
        handler.add_environment("DASHBOARD_CLIENT_ID", self.dashboard_client.user_pool_client_id)

    def _execution_logs(self, key: kms.IKey, log_retention_days: int, access_logs: EncryptedLogGroup) -> None:
        """API Gateway writes execution logs with the account's CloudWatch role into a group it would
        create unencrypted and without retention; create that group first, and the role, scoped to it."""
        stage = self.rest_api.deployment_stage
        execution_logs = EncryptedLogGroup(
            self, "ExecutionLogs", key=key, retention_days=log_retention_days,
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE}")
        stage.node.add_dependency(execution_logs)
        role = ManagedPolicyRole(self, "CloudWatchRole",
                                 assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=[execution_logs.log_group_arn, access_logs.log_group_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"]))
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        for policy in role.policies:  # API Gateway checks the role's permissions when the account is set
            account.node.add_dependency(policy)
        stage.node.add_dependency(account)
