"""Each training option is defined once: training's parser, imgclf's flags and SageMaker's
hyperparameters all come from TrainConfig's field metadata."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from imgclf.main import build_parser as build_cli_parser
from imgclf.trainer import SETTINGS_OPTIONS, TrainingSettings
from training import networks, options, train_config
from training.train_config import TrainConfig, build_parser, parse_args

REPO = Path(__file__).resolve().parents[3]


def _sagemaker_argv(hyperparameters: dict[str, str]) -> list[str]:
    """What SageMaker's training toolkit passes: each value JSON-decoded, then str()."""
    argv = []
    for name, text in hyperparameters.items():
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            decoded = text
        argv += [f"--{name}", str(decoded)]
    return argv


def test_the_cli_starts_without_importing_tensorflow_or_keras() -> None:
    # Given a fresh interpreter that builds the whole imgclf parser, train flags included
    probe = (
        "import sys; from imgclf.main import build_parser; "
        "build_parser().parse_args(['train', '--arch', 'cnn']); "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )

    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    # Then neither TensorFlow nor Keras was imported
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_imgclf_train_flags_are_trainings_cli_options() -> None:
    cli = build_cli_parser()
    args = cli.parse_args(["train", "--arch", "efficientnet_lite0", "--epochs", "3"])

    # Then every `cli` option is a flag, and an ungiven one leaves training's default (None)
    for name in options.cli_option_names(TrainConfig):
        assert hasattr(args, name), name
    assert (args.arch, args.epochs, args.seed, args.dataset) == (
        "efficientnet_lite0",
        3,
        None,
        None,
    )
    # And the choices are training's own
    with pytest.raises(SystemExit):
        cli.parse_args(["train", "--arch", "resnet"])


def test_training_settings_take_typed_values_of_trainings_declared_options() -> None:
    # Given values of options imgclf train has no flag for, typed as training declares them
    settings = TrainingSettings(fine_tune_epochs=4, min_int8_accuracy=0, arch="cnn")

    # Then they are kept as the declared types (an int given for a float is a float)
    assert settings.values == {"arch": "cnn", "fine_tune_epochs": 4, "min_int8_accuracy": 0.0}
    assert isinstance(settings.get("min_int8_accuracy"), float) and settings.get("seed") is None
    # And imgclf train's flags are options the settings take
    assert set(SETTINGS_OPTIONS) <= {item.name for item in options.declared(TrainConfig)}
    # And the data set is training's "auto", decided by the data dir
    assert TrainingSettings().dataset == "emoji"
    assert TrainingSettings(data_dir=Path("photos")).dataset == "folder"


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        ({"fine_tune_epoch": 4}, TypeError, "'fine_tune_epoch' is not one of these options"),
        ({"version": "v1"}, TypeError, "'version' is not one of"),  # the run sets it
        ({"epochs": "8"}, TypeError, "option epochs takes int, not '8'"),
        ({"epochs": True}, TypeError, "option epochs takes int"),
        ({"data_dir": "photos"}, TypeError, "option data_dir takes Path"),
        ({"arch": "resnet"}, ValueError, "option arch: 'resnet' is not one of auto, cnn"),
    ],
)
def test_training_settings_refuse_what_training_does_not_declare(
    values: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        TrainingSettings(**values)


def test_training_settings_reach_training_as_the_same_values(tmp_path: Path) -> None:
    settings = TrainingSettings(
        dataset="emoji", fine_tune_epochs=4, heldout_images_per_class=20, min_int8_accuracy=0.5,
        evaluate_standard_sets=False, extra_train_dir=tmp_path / "few shot",
    )  # fmt: skip

    config = parse_args(
        settings.argv(model_dir=tmp_path / "m", output_dir=tmp_path / "o", version="v1"), {}
    )

    for name, value in settings.values.items():
        assert getattr(config, name) == value, name
    assert (config.version, config.artifact_path, config.verbose) == ("v1", None, 0)


def test_imgclf_train_flags_reach_training_unchanged(tmp_path: Path) -> None:
    args = build_cli_parser().parse_args(
        ["train", "--dataset", "digits", "--arch", "mobilenetv2", "--image-size", "48",
         "--seed", "7", "--epochs", "2"]
    )  # fmt: skip
    settings = TrainingSettings.from_args(args)

    config = parse_args(
        settings.argv(model_dir=tmp_path / "m", output_dir=tmp_path / "o", version="v1"), {}
    )

    assert (config.dataset, config.arch, config.image_size, config.seed, config.epochs) == (
        "digits",
        "mobilenetv2",
        48,
        7,
        2,
    )


def test_sagemaker_hyperparameters_are_strings_that_parse_back_to_the_same_values() -> None:
    values = {
        "arch": "mobilenetv2",
        "weights": "none",
        "alpha": 0.35,
        "epochs": 12,
        "image_size": 96,
        "learning_rate": 1e-05,
        "validation_fraction": 0.2,
        "seed": 7,
        "data_dir": "/not/a/hyperparameter",
        "version": "not-one-either",
    }

    hyperparameters = options.sagemaker_hyperparameters(TrainConfig, values)

    assert all(isinstance(value, str) for value in hyperparameters.values())
    assert "data-dir" not in hyperparameters and "version" not in hyperparameters
    config = parse_args(_sagemaker_argv(hyperparameters), {"SM_MODEL_DIR": "/opt/ml/model"})
    for name, value in values.items():
        if name not in ("data_dir", "version"):
            assert getattr(config, name) == value, name


def test_the_command_line_defaults_are_the_dataclass_defaults() -> None:
    parsed = vars(build_parser().parse_args([]))

    for item in options.declared(TrainConfig):
        if item.name == "verbose":
            assert parsed["verbose"] == 2  # a job's log shows a line per epoch
        elif item.default is not dataclasses.MISSING:
            assert parsed[item.name] == item.default, item.name


def test_architectures_are_defined_once() -> None:
    assert getattr(train_config, "ARCHITECTURES") is options.ARCHITECTURES  # noqa: B009
    assert getattr(networks, "ARCHITECTURES") is options.ARCHITECTURES  # noqa: B009
    assert "efficientnet_lite0" in options.ARCHITECTURES


def test_efficientnet_lite0_defaults_to_224_pixels_and_the_transfer_recipe() -> None:
    config = TrainConfig(Path("d"), Path("m"), Path("o"), arch="efficientnet_lite0").resolved()

    assert config.image_size == 224
    assert config.learning_rate == train_config.TRANSFER_LEARNING_RATE
    recorded = config.hyperparameters()
    assert "alpha" not in recorded  # a MobileNetV2 width multiplier
    assert recorded["fine_tune_epochs"] == config.fine_tune_epochs


def test_the_cnn_records_no_transfer_hyperparameters() -> None:
    recorded = TrainConfig(Path("d"), Path("m"), Path("o")).resolved().hyperparameters()

    assert not {"weights", "alpha", "fine_tune_epochs", "fine_tune_layers"} & set(recorded)
    assert recorded["augmentation"] is not None


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("1", True)])
def test_boolean_options_parse_the_words_people_and_sagemaker_write(text: str, value: bool) -> None:
    config = parse_args(["--evaluate-standard-sets", text], {})
    assert config.evaluate_standard_sets is value


def test_a_boolean_option_refuses_other_words() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--evaluate-standard-sets", "maybe"], {})


def test_every_path_option_is_a_path_from_the_flag_or_its_sagemaker_channel(
    tmp_path: Path,
) -> None:
    flagged = parse_args(["--extra-train-dir", str(tmp_path)], {})
    channel = parse_args([], {"SM_CHANNEL_EXTRA": str(tmp_path)})
    assert flagged.extra_train_dir == channel.extra_train_dir == tmp_path
    for item in options.declared(TrainConfig):
        if item.type is Path:
            assert isinstance(getattr(flagged, item.name), Path | None), item.name
