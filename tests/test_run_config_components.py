"""RunConfig holds each component's typed settings, and each default is written once, in its
component's class (issue 10 item 3); configs of the earlier shape still load."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from fedcore.families.hybrid.config import PretrainConfig
from fedcore.families.marginal.config import MarginalConfig
from fedcore.families.registry import FAMILY_NAMES
from fedcore.model.config import DiffusionConfig
from fedcore.run_config import (
    MODEL_SETTINGS, DiffusionModelSettings, HybridModelSettings, MarginalModelSettings, PrivacySettings, RunConfig,
    TrainingSettings,
)
from fedcore.run_spec import config_of
from fedcore.training.config import DPConfig, TrainConfig

# A run config as InitRun stored it before training settings had their own object (runs table, config.json).
EARLIER_STORED = {
    "run_id": "r-2024", "rounds": 2, "quorum": 2, "strategy": "fedprox", "strategy_params": {"proximal_mu": 0.01},
    "batch_size": 128, "epochs_per_round": 1, "stats_bins": 32, "numeric_transform": "quantile",
    "privacy": {"enabled": True, "target_epsilon": 3.0, "delta": 1e-5, "accountant": "rdp", "noise_multiplier": None,
                "max_grad_norm": 1.0, "setup_epsilon_share": 0.1, "measurement_share": 0.5},
    "model": {"family": "diffusion", "hidden_dim": 32, "num_blocks": 1}, "learning_rate": None, "seed": 0,
}


def test_the_trainer_gets_train_configs_defaults_through_the_run():
    # Act
    config = RunConfig()

    # Assert
    assert config.training == TrainingSettings()
    assert config.train_config() == TrainConfig()  # what each hospital trains with, when the run sets nothing
    assert (config.training.batch_size, config.training.epochs, config.training.learning_rate) == (
        TrainConfig().batch_size, TrainConfig().epochs, TrainConfig().learning_rate)


def test_each_familys_settings_default_to_its_components_defaults():
    # Act
    diffusion, marginal, hybrid = DiffusionModelSettings(), MarginalModelSettings(), HybridModelSettings()

    # Assert
    assert diffusion.diffusion == DiffusionConfig() and hybrid.diffusion == DiffusionConfig()
    assert marginal.marginal == MarginalConfig() and hybrid.marginal == MarginalConfig()
    assert hybrid.pretrain == PretrainConfig()
    assert [f.name for f in dataclasses.fields(DiffusionConfig)] == [
        name for name in DiffusionModelSettings.model_fields if name != "family"]
    assert set(MODEL_SETTINGS) == set(FAMILY_NAMES)  # one settings variant per registered family


def test_defaults_are_read_from_the_component_classes_not_copied():
    # Arrange: other defaults in TrainConfig and DiffusionConfig, set before the run config is imported
    code = (
        "import fedcore.training.config as t, fedcore.model.config as m\n"
        "t.TrainConfig.batch_size, t.TrainConfig.epochs = 99, 7\n"
        "m.DiffusionConfig.__dataclass_fields__['hidden_dim'].default = 32\n"
        "from fedcore.run_config import RunConfig\n"
        "c = RunConfig(model={'family': 'diffusion'})\n"
        "print(c.training.batch_size, c.training.epochs, c.model.hidden_dim)\n"
    )

    # Act
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    # Assert
    assert completed.stdout.split() == ["99", "7", "32"]


def test_the_clipping_bound_has_one_default_and_reaches_dp_sgd_through_the_plan():
    from fedcore.federation.privacy_plan import plan_spoke

    # Act
    plan = plan_spoke(RunConfig(rounds=1, model={"family": "diffusion"}), rows=500)

    # Assert
    assert DPConfig.__dataclass_fields__["max_grad_norm"].default is dataclasses.MISSING
    assert plan.max_grad_norm == PrivacySettings().max_grad_norm


def test_a_stored_config_of_the_earlier_shape_loads_into_the_new_one():
    # Act
    config = config_of("r-2024", EARLIER_STORED)  # stored with its run id, as configs were before RunSpec
    stored = config.model_dump(mode="json")

    # Assert
    assert config.training == TrainingSettings(batch_size=128, epochs=1)  # learning_rate null: the default
    assert config.train_config().proximal_mu == 0.01
    assert isinstance(config.model, DiffusionModelSettings) and config.model.diffusion.hidden_dim == 32
    assert not stored.keys() & {"batch_size", "epochs_per_round", "learning_rate"}
    assert stored["training"] == {"batch_size": 128, "epochs": 1, "learning_rate": TrainConfig().learning_rate,
                                  "mixed_precision": "auto"}
    assert stored["model"] == EARLIER_STORED["model"]  # the model object keeps its stored form


@pytest.mark.parametrize(("given", "expected"), [
    ({"privacy": {"enabled": False}, "model": {"hidden_dim": 64}}, DiffusionModelSettings(hidden_dim=64)),
    ({"model": {}}, MarginalModelSettings()),  # DP run, no family: the default family
    ({"model": {"family": "marginal", "marginal": {"max_cells": 8}}},
     MarginalModelSettings(marginal=MarginalConfig(max_cells=8))),
    ({"model": {"family": "hybrid", "timesteps": 100, "pretrain": {"rows": 1000}}},
     HybridModelSettings(timesteps=100, pretrain=PretrainConfig(rows=1000))),
])
def test_earlier_model_objects_become_their_familys_settings(given, expected):
    # Act
    config = RunConfig.model_validate(given)

    # Assert
    assert config.model == expected and type(config.model) is type(expected)


def test_a_setting_given_both_at_the_top_level_and_in_training_is_refused():
    with pytest.raises(ValueError, match="training.batch_size is given twice"):
        RunConfig.model_validate({"batch_size": 64, "training": {"batch_size": 128}})


@pytest.mark.parametrize(("family", "key", "value", "owners"), [
    ("diffusion", "marginal", {"max_cells": 4}, "marginal and hybrid"),
    ("diffusion", "pretrain", {"rows": 1000}, "hybrid"),
    ("marginal", "hidden_dim", 64, "diffusion and hybrid"),
    ("marginal", "pretrain", {"rows": 1000}, "hybrid"),
])
def test_settings_of_another_family_are_refused_with_whose_they_are(family, key, value, owners):
    with pytest.raises(ValueError, match=f"mean nothing to family '{family}': model.{key} is a setting of {owners}"):
        RunConfig(model={"family": family, key: value})


def test_an_unknown_family_or_setting_is_refused():
    with pytest.raises(ValueError, match=r"model.family must be one of \('diffusion', 'marginal', 'hybrid'\)"):
        RunConfig(model={"family": "gan"})
    with pytest.raises(ValueError, match="width"):
        RunConfig(model={"family": "diffusion", "width": 3})
    with pytest.raises(ValueError, match="hidden_dim must be an integer"):  # DiffusionConfig's own check
        RunConfig(model={"family": "hybrid", "hidden_dim": 64.0})


@pytest.mark.parametrize("given", [
    {},
    {"privacy": {"enabled": False}},
    EARLIER_STORED,
    {"training": {"epochs": 2, "learning_rate": 0.003}, "model": {"family": "diffusion", "dropout": 0.1}},
    {"model": {"family": "hybrid", "hidden_dim": 32, "norm_groups": 4, "marginal": {"fit_iterations": 100},
               "pretrain": {"epochs": 3}}},
    {"model": HybridModelSettings(num_blocks=2)},
])
def test_a_config_round_trips_through_its_stored_form(given):
    # Arrange
    config = config_of("r-2024", given)  # as a stored record is read (EARLIER_STORED carries its run id)

    # Act
    stored = json.loads(json.dumps(config.model_dump(mode="json")))
    again = RunConfig.model_validate(stored)

    # Assert
    assert again == config
    assert again.model_dump(mode="json") == stored
    assert again.model.model_fields_set == config.model.model_fields_set | {"family"}


def test_the_stored_model_object_holds_the_family_and_what_the_run_gave_it():
    # Act
    stored = RunConfig(model=HybridModelSettings(hidden_dim=32, norm_groups=4)).model_dump(mode="json")

    # Assert
    assert stored["model"] == {"family": "hybrid", "hidden_dim": 32, "norm_groups": 4}


def test_simulate_help_reads_its_defaults_from_the_config_classes():
    # Arrange: other training defaults in TrainConfig, set before the CLI is imported
    code = (
        "import fedcore.training.config as t\n"
        "t.TrainConfig.batch_size, t.TrainConfig.epochs = 99, 7\n"
        "from fedcore.cli.main import main\n"
        "main(['simulate', '--help'])\n"
    )

    # Act
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    # Assert
    shown = " ".join(completed.stdout.split())  # argparse wraps its lines
    assert completed.returncode == 0, completed.stderr
    assert "local epochs per training round (default 7)" in shown
    assert "DP-SGD batch size (default 99)" in shown


def test_simulate_builds_the_run_from_the_config_classes_defaults_and_its_flags(tmp_path):
    from fedcore.cli.main import build_parser
    from fedcore.cli.simulate_cmd import spec_from_args
    from fedcore.experiment import ExperimentSpec

    # Arrange
    parser = build_parser()

    # Act
    plain = spec_from_args(parser.parse_args(["simulate", "--family", "diffusion", "--out", str(tmp_path)]))
    flags = spec_from_args(parser.parse_args(["simulate", "--family", "diffusion", "--batch-size", "64",
                                              "--epochs-per-round", "2", "--out", str(tmp_path)]))

    # Assert
    assert (plain.spokes, plain.config.privacy, plain.config.strategy) == (
        ExperimentSpec.spokes, PrivacySettings(), RunConfig().strategy)
    assert plain.config.training == TrainingSettings() and plain.config.train_config() == TrainConfig()
    assert flags.config.training == TrainingSettings(batch_size=64, epochs=2)


def test_demos_config_example_and_family_flag_make_a_valid_run(capsys):
    import re

    from fedcore.cli.demo_cmd import _with_family
    from fedcore.cli.main import main

    # Arrange
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps its lines
    example = json.loads(re.search(r"e\.g\. '(\{.*?\}\})'", shown).group(1))

    # Act
    as_given = RunConfig.model_validate(example)
    as_hybrid = RunConfig.model_validate(_with_family(example, "hybrid"))

    # Assert
    assert as_given.training.epochs == 1 and isinstance(as_given.model, DiffusionModelSettings)
    assert isinstance(as_hybrid.model, HybridModelSettings) and as_hybrid.model.diffusion == as_given.model.diffusion
