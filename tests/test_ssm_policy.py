"""The hospital's policy from SSM in its own account: read as written, refused when missing or malformed."""

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from fedcore.aws.ssm_policy import SsmSpokePolicySource
from fedcore.runtime.spoke_policy import SpokePolicy, SpokePolicyError, policy_parameter_name

REGION = "eu-west-1"


@pytest.fixture
def ssm(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def test_the_policy_is_read_as_the_hospital_wrote_it(ssm):
    # Arrange
    written = SpokePolicy(epsilon_cap=4.5, allow_no_dp=True, max_delta=1e-6)
    ssm.put_parameter(Name=policy_parameter_name("hosp-a"), Type="String", Value=written.to_json())

    # Act
    loaded = SsmSpokePolicySource(client=ssm).load("hosp-a")

    # Assert
    assert loaded == written


def test_a_missing_policy_is_refused_not_defaulted(ssm):
    # Arrange: another hospital's policy exists, this one's does not.
    ssm.put_parameter(Name=policy_parameter_name("hosp-b"), Type="String", Value=SpokePolicy(8.0).to_json())

    # Act / Assert
    with pytest.raises(SpokePolicyError, match="does not exist"):
        SsmSpokePolicySource(client=ssm).load("hosp-a")


@pytest.mark.parametrize("value", [
    "not json", "[]", '{"allow_no_dp": true}', '{"epsilon_cap": -1}', '{"epsilon_cap": "8"}',
    '{"epsilon_cap": 8, "allow_no_dp": "yes"}', '{"epsilon_cap": 8, "max_delta": 0.5, "extra": 1}',
    '{"epsilon_cap": Infinity}',
])
def test_a_malformed_policy_is_refused(ssm, value):
    # Arrange
    ssm.put_parameter(Name=policy_parameter_name("hosp-a"), Type="String", Value=value)

    # Act / Assert
    with pytest.raises(SpokePolicyError):
        SsmSpokePolicySource(client=ssm).load("hosp-a")


@pytest.mark.parametrize("kind", ["SecureString", "StringList"])
def test_only_a_plain_string_parameter_counts(ssm, kind):
    # Arrange
    ssm.put_parameter(Name=policy_parameter_name("hosp-a"), Type=kind, Value=SpokePolicy(8.0).to_json())

    # Act / Assert
    with pytest.raises(SpokePolicyError, match="must be a String"):
        SsmSpokePolicySource(client=ssm).load("hosp-a")


def _stubbed(code: str):
    client = boto3.client("ssm", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error("get_parameter", service_error_code=code, http_status_code=400)
    stubber.activate()
    return client


def test_a_policy_the_job_role_may_not_read_is_refused():
    # Arrange: what AWS answers when the job runs as another spoke's id (its role may read only its own).
    client = _stubbed("AccessDeniedException")

    # Act / Assert
    with pytest.raises(SpokePolicyError, match="not readable"):
        SsmSpokePolicySource(client=client).load("hosp-b")


def test_a_transient_error_is_not_mistaken_for_a_missing_policy():
    # Arrange
    client = _stubbed("ThrottlingException")

    # Act / Assert
    with pytest.raises(ClientError):
        SsmSpokePolicySource(client=client).load("hosp-a")
