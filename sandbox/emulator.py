"""moto as a threaded server on 127.0.0.1, with IAM access control on, and credentials for the accounts.

A server (rather than in-process patching) because the spoke trainers are separate processes that
must reach the same emulated S3 and KMS (``AWS_ENDPOINT_URL``). Accounts are separated the way AWS
separates them: every caller holds credentials in its own account, and moto files each request under
the account those credentials belong to. moto's IAM-like access control is switched on from the start
(no unauthenticated call is ever answered): each account has an administrator, an IAM user with an
allow-everything policy whose access key provisions the account, and every other caller holds STS
credentials of a role that the administrator assumed, so its requests are checked against that role's
policies (``provision`` creates them from the templates). What moto checks: S3 actions with their
bucket and object ARNs; every other service by action alone; no conditions, bucket or key policies
(``tests/cdk/test_role_permissions.py`` checks those against the templates).
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass

import boto3
import requests

logger = logging.getLogger(__name__)

EMULATOR_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},  # run the ASL, not just record executions
    "lambda": {"use_docker": False},  # the no-Docker backends are where sandbox hooks in
    "batch": {"use_docker": False},
}
ADMIN_USER = "fedcore-sandbox-admin"  # the identity that provisions each emulated account
# moto's server mode needs flask/flask-cors; its Step Functions interpreter needs antlr4 and jsonpath-ng.
REQUIRED_EXTRAS = {"flask": "flask", "flask_cors": "flask-cors", "antlr4": "antlr4-python3-runtime",
                   "jsonpath_ng": "jsonpath-ng"}


def check_extras() -> None:
    """Fail early, naming the packages, if moto's server and Step Functions extras are missing."""
    import importlib.util

    missing = [package for module, package in REQUIRED_EXTRAS.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise RuntimeError(f"the sandbox needs moto's server and Step Functions extras; missing "
                           f"{', '.join(missing)} (pip install -e '.[sandbox]' installs them)")


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None  # None: an IAM user's long-term key (the account administrator)

    def client_kwargs(self) -> dict[str, str | None]:
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key,
                "aws_session_token": self.session_token}

    def environment(self) -> dict[str, str]:
        if self.session_token is None:
            raise ValueError("only role sessions are handed to functions and jobs, never an administrator's key")
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_SESSION_TOKEN": self.session_token}


class Emulator:
    """``start()`` a fresh server (all emulated state reset), ``stop()`` it; ``client(...)`` as a role."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.endpoint_url = ""
        self._server = None
        self._credentials: dict[str, Credentials] = {}
        self._admins: dict[str, Credentials] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        check_extras()
        with warnings.catch_warnings():  # moto warns that moto[server] extras may be missing
            warnings.simplefilter("ignore")
            from moto.server import ThreadedMotoServer
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()
        response = requests.post(f"{self.endpoint_url}/moto-api/config", json=EMULATOR_CONFIG, timeout=30)
        response.raise_for_status()
        self._set_access_control(True)
        logger.info("emulator listening on %s (IAM access control on)", self.endpoint_url)

    def _set_access_control(self, on: bool) -> None:
        """moto's switch: after this many unauthenticated requests, authenticate and authorize every one."""
        requests.post(f"{self.endpoint_url}/moto-api/reset-auth", data=b"0" if on else b"inf",
                      timeout=30).raise_for_status()

    def stop(self) -> None:
        if self._server is None:
            return
        try:
            self._set_access_control(False)  # process-wide in moto: leave it as it was found
            requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30)
        except requests.RequestException:
            logger.warning("could not reset the emulator before stopping it")
        self._server.stop()
        self._server = None
        self._credentials.clear()
        self._admins.clear()

    def admin(self, account: str) -> Credentials:
        """The access key of ``account``'s administrator (created on first use)."""
        from sandbox.moto_dispatch import create_administrator

        with self._lock:
            if account not in self._admins:
                self._admins[account] = Credentials(*create_administrator(account, ADMIN_USER))
            return self._admins[account]

    def credentials(self, role_arn: str) -> Credentials:
        """STS AssumeRole credentials for ``role_arn``, assumed by its account's administrator (one session
        per role, cached); moto authorizes their requests by that role's policies."""
        account = role_arn.split(":")[4]
        admin = self.admin(account)
        with self._lock:
            if role_arn not in self._credentials:
                sts = boto3.client("sts", region_name=self.region, endpoint_url=self.endpoint_url,
                                   **admin.client_kwargs())
                issued = sts.assume_role(RoleArn=role_arn, RoleSessionName="fedcore-sandbox")["Credentials"]
                self._credentials[role_arn] = Credentials(
                    issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
            return self._credentials[role_arn]

    def client(self, service: str, *, account: str | None = None, role_arn: str | None = None):
        """A boto3 client for the emulator, as ``role_arn`` or as ``account``'s administrator."""
        if role_arn is not None:
            credentials = self.credentials(role_arn)
        elif account is not None:
            credentials = self.admin(account)
        else:
            raise ValueError("pass an account or a role ARN")
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url,
                            **credentials.client_kwargs())
