"""Environment config from cdk.json context: typed, validated, with errors that say what to fix."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from cdk.config import DEFAULT_COMPUTE, EnvironmentConfig, read_cdk_json_context

pytestmark = pytest.mark.cdk

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


@pytest.fixture()
def context() -> dict:
    return {**read_cdk_json_context(CDK_JSON), "env": "dev"}


def with_change(context: dict, path: list, value) -> dict:
    changed = copy.deepcopy(context)
    node = changed["environments"]["dev"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def test_every_environment_in_cdk_json_is_valid(context):
    for name in context["environments"]:
        config = EnvironmentConfig.from_context({**context, "env": name})
        assert config.name == name and config.spokes


def test_dev_values_are_read_with_per_spoke_epsilon_override(context):
    config = EnvironmentConfig.from_context(context)
    limits = {spoke.id: spoke.epsilon_limit for spoke in config.spokes}
    assert config.prefix == "fedsynth-dev"
    assert limits["hosp-b"] == 6.0
    assert limits["hosp-a"] == config.training.default_epsilon


def test_missing_environment_selection_lists_the_choices(context):
    del context["env"]
    with pytest.raises(ValueError, match=r"-c env=<name> \(one of: dev, prod\)"):
        EnvironmentConfig.from_context(context)


def test_unknown_environment_is_rejected(context):
    with pytest.raises(ValueError, match="unknown environment 'qa'"):
        EnvironmentConfig.from_context({**context, "env": "qa"})


@pytest.mark.parametrize(("path", "value", "message"), [
    (["hub", "account"], "1234", "not 12 digits"),
    (["training", "quorum"], 9, "quorum 9 exceeds"),
    (["training", "delta"], 1.5, "delta"),
    (["training", "rounds"], "5", "'rounds' must be int"),
    (["batch", "gpu", "instance_types"], [], "instance_types must not be empty"),
    (["operations", "log_retention_days"], 42, "log_retention_days must be one of"),
    (["operations", "alarm_email"], "nobody", "alarm_email"),
    (["api", "typo_key"], 1, "unknown keys \\['typo_key'\\]"),
])
def test_invalid_values_fail_with_a_clear_message(context, path, value, message):
    with pytest.raises(ValueError, match=message):
        EnvironmentConfig.from_context(with_change(context, path, value))


def test_spoke_in_another_region_is_rejected(context):
    spokes = copy.deepcopy(context["environments"]["dev"]["spokes"])
    spokes[0]["region"] = "us-east-1"
    with pytest.raises(ValueError, match="must match"):
        EnvironmentConfig.from_context(with_change(context, ["spokes"], spokes))


def test_spoke_in_the_hub_account_is_rejected(context):
    spokes = copy.deepcopy(context["environments"]["dev"]["spokes"])
    spokes[0]["account"] = context["environments"]["dev"]["hub"]["account"]
    with pytest.raises(ValueError, match="uses the hub account"):
        EnvironmentConfig.from_context(with_change(context, ["spokes"], spokes))


def test_spoke_ids_may_prefix_each_other_since_update_keys_are_granted_exactly(context):
    # The hub grants updates/*/*/<id> with no trailing wildcard (tests/cdk/test_cdk_hub_storage.py).
    spokes = copy.deepcopy(context["environments"]["dev"]["spokes"])
    spokes[1]["id"] = spokes[0]["id"] + "b"

    config = EnvironmentConfig.from_context(with_change(context, ["spokes"], spokes))

    assert [s.id for s in config.spokes][:2] == ["hosp-a", "hosp-ab"]


@pytest.mark.parametrize("reserved", ["hub", "hub-aggregator"])
def test_spoke_ids_the_hub_seals_its_own_objects_under_are_rejected(context, reserved):
    spokes = copy.deepcopy(context["environments"]["dev"]["spokes"])
    spokes[0]["id"] = reserved
    with pytest.raises(ValueError, match="reserved for the hub"):
        EnvironmentConfig.from_context(with_change(context, ["spokes"], spokes))


def test_a_spokes_dp_opt_out_and_delta_are_its_own_and_default_to_no_opt_out_and_the_run_delta(context):
    spokes = copy.deepcopy(context["environments"]["dev"]["spokes"])
    spokes[0].update({"allow_no_dp": True, "max_delta": 1e-6})

    config = EnvironmentConfig.from_context(with_change(context, ["spokes"], spokes))

    assert (config.spokes[0].allow_no_dp, config.spokes[0].max_delta) == (True, 1e-6)
    assert (config.spokes[1].allow_no_dp, config.spokes[1].max_delta) == (False, config.training.delta)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("allow_no_dp", "yes", "'allow_no_dp' must be bool"), ("max_delta", 1.0, "max_delta must be in"),
])
def test_a_malformed_spoke_policy_setting_is_rejected(context, key, value, message):
    spokes = copy.deepcopy(context["environments"]["dev"]["spokes"])
    spokes[0][key] = value
    with pytest.raises(ValueError, match=message):
        EnvironmentConfig.from_context(with_change(context, ["spokes"], spokes))


def test_each_compute_class_has_its_own_settings_and_a_left_out_class_or_key_takes_its_default(context):
    # Arrange: dev without a cpu block and with only the gpu's instance types
    batch = copy.deepcopy(context["environments"]["dev"]["batch"])
    del batch["cpu"]
    batch["gpu"] = {"instance_types": ["g5.xlarge"]}

    # Act
    config = EnvironmentConfig.from_context(with_change(context, ["batch"], batch))

    # Assert
    assert config.batch.cpu == DEFAULT_COMPUTE["cpu"]
    assert config.batch.gpu == dataclasses.replace(DEFAULT_COMPUTE["gpu"], instance_types=("g5.xlarge",))
    assert config.batch.compute("cpu").job_gpus == 0 and config.batch.compute("gpu").job_gpus >= 1


@pytest.mark.parametrize(("compute_class", "key", "value", "message"), [
    ("cpu", "instance_types", ["g4dn.xlarge"], "'g4dn.xlarge' is a GPU instance type and this is the cpu class"),
    ("gpu", "instance_types", ["c7i.xlarge"], "'c7i.xlarge' is not a GPU instance type and this is the gpu class"),
    ("cpu", "instance_types", ["c7g.xlarge"], "arm64"),
    ("cpu", "job_gpus", 1, "job_gpus must be 0"),
    ("gpu", "job_gpus", 0, "job_gpus must be >= 1"),
    ("cpu", "max_vcpus", 2, "max_vcpus must be >= job_vcpus"),
    ("gpu", "volume_gib", 8, "volume_gib"),
    ("cpu", "spot", True, "unknown keys \\['spot'\\]"),
])
def test_a_compute_class_with_settings_of_the_other_class_or_out_of_range_is_rejected(
        context, compute_class, key, value, message):
    with pytest.raises(ValueError, match=f"batch.{compute_class}.*{message}"):
        EnvironmentConfig.from_context(with_change(context, ["batch", compute_class, key], value))


def test_a_batch_block_written_for_the_single_gpu_queue_says_where_its_settings_went(context):
    batch = {**copy.deepcopy(context["environments"]["dev"]["batch"]), "instance_types": ["g4dn.xlarge"],
             "job_gpus": 1}
    with pytest.raises(ValueError, match=r"\['instance_types', 'job_gpus'\] are settings of one compute class now: "
                                         r"move them into batch.gpu"):
        EnvironmentConfig.from_context(with_change(context, ["batch"], batch))
