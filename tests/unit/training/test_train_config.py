"""Training options: SageMaker's environment, hyperparameter spelling, per-data-set defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.options import AUTO, DATASETS, declared
from training.train_config import (
    DATASET_DEFAULTS,
    ConfigError,
    ResolvedConfig,
    TrainConfig,
    parse_args,
)

SAGEMAKER_ENV = {
    "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
    "SM_CHANNEL_VALIDATION": "/opt/ml/input/data/validation",
    "SM_MODEL_DIR": "/opt/ml/model",
    "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
}


def test_sagemaker_channels_and_dirs_come_from_the_environment() -> None:
    config = parse_args(["--epochs", "3"], SAGEMAKER_ENV)

    assert config.data_dir == Path("/opt/ml/input/data/train")
    assert config.validation_dir == Path("/opt/ml/input/data/validation")
    assert config.model_dir == Path("/opt/ml/model")
    assert config.output_dir == Path("/opt/ml/output/data")
    assert config.artifact_path is None  # SageMaker packs SM_MODEL_DIR itself
    assert config.epochs == 3


def test_every_folder_option_is_a_path_from_the_command_line_or_its_channel(
    tmp_path: Path,
) -> None:
    # Given every folder option, once as a flag and once as its SageMaker channel
    folders = [item for item in declared(TrainConfig) if item.type is Path and item.option.env]
    assert {"outside_dir", "outside_train_dir", "extra_train_dir"} <= {f.name for f in folders}
    argv = [arg for f in folders for arg in (f"--{f.name}", str(tmp_path / f.name))]
    from_flags = parse_args(argv, {})
    from_channels = parse_args([], {f.option.env: str(tmp_path / f.name) for f in folders})
    # Then each arrives as that Path (a str once crashed --outside-dir after training)
    for config in (from_flags, from_channels):
        for folder in folders:
            assert getattr(config, folder.name) == tmp_path / folder.name, folder.name


def test_hyperparameters_answer_to_underscores_and_unknown_ones_are_ignored() -> None:
    config = parse_args(
        ["--min_int8_accuracy", "0.9", "--max-drop-pp", "0.5", "--image_size", "64",
         "--sagemaker_extra", "x", "--model_dir", "s3://bucket/job/model"],
        SAGEMAKER_ENV,
    )  # fmt: skip

    assert config.min_int8_accuracy == 0.9
    assert config.max_drop_pp == 0.5
    assert config.image_size == 64
    assert config.model_dir == Path("/opt/ml/model")  # the estimator's S3 model_dir is no dir


def test_local_runs_default_under_imgclf_and_pack_the_artifact() -> None:
    config = parse_args(["--dataset", "digits", "--version", "v1"], {})

    assert config.data_dir == Path(".imgclf/data/digits")
    assert config.model_dir == Path(".imgclf/runs/v1/model")
    assert config.artifact_path == Path(".imgclf/runs/v1/output/model.tar.gz")
    assert parse_args(["--artifact", "none"], {}).artifact_path is None


def test_each_data_set_brings_its_defaults() -> None:
    emoji = TrainConfig(Path("d"), Path("m"), Path("o"), dataset="emoji").resolved()
    digits = TrainConfig(Path("d"), Path("m"), Path("o"), dataset="digits").resolved()

    assert emoji.image_size == DATASET_DEFAULTS["emoji"].image_size
    assert emoji.min_int8_accuracy == 0.95
    assert digits.min_int8_accuracy == 0.97
    assert digits.augmentation is not None and not digits.augmentation.flip
    assert emoji.version.startswith("v")
    assert emoji.heldout == Path("d-heldout")
    assert digits.heldout is None


@pytest.mark.parametrize("dataset", [AUTO, *DATASETS])
def test_a_resolved_config_holds_every_value_the_data_set_decides(dataset: str) -> None:
    config = TrainConfig(Path("d"), Path("m"), Path("o"), dataset=dataset).resolved()

    # Then nothing is left for a reader to default: no "auto", no version to make up, and
    # each option that None left to the data set holds a value
    assert AUTO not in (config.dataset, config.arch) and config.version
    for name in ResolvedConfig.__annotations__:
        assert getattr(config, name) is not None, name
    # And resolving again changes nothing
    assert config.resolved() == config


def test_explicit_values_win_over_defaults() -> None:
    config = TrainConfig(
        Path("d"), Path("m"), Path("o"), image_size=64, epochs=2, min_int8_accuracy=0.0
    ).resolved()

    assert (config.image_size, config.epochs, config.min_int8_accuracy) == (64, 2, 0.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dataset", "imagenet", "unknown dataset"),
        ("arch", "resnet", "unknown architecture"),
        ("epochs", 0, "epochs must be at least 1"),
        ("image_size", 16, "at least 32"),
        ("test_fraction", 0.9, "sum to less than 1"),
    ],
)
def test_bad_options_are_config_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(Path("d"), Path("m"), Path("o"), **{field: value}).resolved()  # type: ignore[arg-type]


def test_bad_choices_on_the_command_line_exit_with_usage() -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--arch", "resnet"], {})
    assert exit_info.value.code == 2


def test_a_data_dir_alone_means_a_folder_of_photos_trained_by_transfer() -> None:
    given = parse_args(["--data-dir", "my-photos"], {}).resolved()
    channel = parse_args([], SAGEMAKER_ENV).resolved()  # SageMaker: the train channel
    generated = parse_args([], {}).resolved()

    assert (given.dataset, given.arch, given.image_size) == ("folder", "efficientnet_lite0", 224)
    assert given.data_dir == Path("my-photos")
    assert (channel.dataset, channel.arch) == ("folder", "efficientnet_lite0")
    assert (generated.dataset, generated.arch) == ("emoji", "cnn")
    assert parse_args(["--data-dir", "d", "--arch", "cnn"], {}).resolved().arch == "cnn"
    assert parse_args(["--dataset", "digits"], {}).resolved().arch == "cnn"
    assert given.hyperparameters()["arch"] == "efficientnet_lite0"
