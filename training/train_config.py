"""Training configuration: one dataclass, filled from arguments and SageMaker's environment.

SageMaker script mode passes channels and output locations as SM_* variables and
hyperparameters as `--key value` arguments; locally the same arguments are typed by hand.
`TrainConfig` holds the options as given; `TrainConfig.resolved()` fills in the data set's
defaults once, and training runs on the `ResolvedConfig` it returns.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from classifier.contracts import model_version_problem, new_model_version
from training import options
from training.options import (
    ARCHITECTURES,
    AUTO,
    DATASETS,
    DEFAULT_ARCH,
    S3_SCHEME,
    TRANSFER_ARCHITECTURES,
    default_dataset,
    option,
)

T = TypeVar("T")

# The data sets training renders itself, rather than reads.
GENERATED_DATASETS = ("emoji", "digits")
# "unknown" may take this share of each held-out in-class set's correctly labelled images.
DEFAULT_UNKNOWN_BUDGET = 0.01

SAGEMAKER_CHECKPOINT_DIR = Path("/opt/ml/checkpoints")
LOCAL_ROOT = Path(".imgclf")


class ConfigError(ValueError):
    """A training option is unknown or out of range."""


@dataclass(frozen=True)
class Augmentation:
    """Random changes to training batches only; digits turn off flips (a flipped 2 is no 2)."""

    flip: bool = True
    rotation: float = 0.05  # fraction of a full turn, either way
    zoom: float = 0.15  # scale in 1 +- zoom
    translation: float = 0.0  # fraction of the side, either way
    contrast: float = 0.2  # contrast factor in 1 +- contrast

    @property
    def geometric(self) -> bool:
        return bool(self.rotation or self.zoom or self.translation)


@dataclass(frozen=True)
class DatasetDefaults:
    """What a data set trains with unless told otherwise."""

    image_size: int
    epochs: int
    learning_rate: float
    min_int8_accuracy: float
    augmentation: Augmentation = field(default_factory=Augmentation)
    images_per_class: int = 0  # generated data sets only
    heldout_images_per_class: int = 0


DATASET_DEFAULTS: dict[str, DatasetDefaults] = {
    # 80 px keeps int8 inference near a millisecond and the glyphs recognisable. Fresh
    # renderings generalise better than more epochs over fewer: 1,000 per class, 12 epochs.
    # The renderer already varies pose and scale, so the batch augmentation stays mild.
    "emoji": DatasetDefaults(
        image_size=80,
        epochs=12,
        learning_rate=2e-3,
        min_int8_accuracy=0.95,
        augmentation=Augmentation(rotation=0.02, zoom=0.1),
        images_per_class=1000,
        heldout_images_per_class=100,
    ),
    "digits": DatasetDefaults(
        image_size=32,
        epochs=30,
        learning_rate=2e-3,
        min_int8_accuracy=0.97,
        augmentation=Augmentation(flip=False, rotation=0.03, zoom=0.1, translation=0.08),
    ),
    "folder": DatasetDefaults(
        image_size=128, epochs=30, learning_rate=1e-3, min_int8_accuracy=0.80
    ),
}
TRANSFER_LEARNING_RATE = 1e-3
# A pretrained base sees best at the size it was trained at; the CNN takes the data set's.
ARCHITECTURE_IMAGE_SIZES = {"efficientnet_lite0": 224}


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run is given; None (and "auto") mean "the data set's
    default", which `resolved()` fills in.

    Each field's `option(...)` is the one definition of that option: the parsers of
    `python -m training.train` and `imgclf train`, the option values `imgclf` hands to
    training (`imgclf.trainer.TrainingSettings`, the demo's), model.json's hyperparameters
    and the SageMaker hyperparameters all come from it (training/options.py).
    """

    data_dir: Path = option(
        help="folder per class (default: $SM_CHANNEL_TRAIN or .imgclf/data/DATASET); "
        "imgclf train also takes s3://bucket/prefix/, a prefix per label",
        env="SM_CHANNEL_TRAIN",
        cli=True,
        s3_uri=True,
    )
    model_dir: Path = option(
        help="receives the artifact files (default: $SM_MODEL_DIR)", env="SM_MODEL_DIR"
    )
    output_dir: Path = option(
        help="TensorBoard logs, checkpoints (default: $SM_OUTPUT_DATA_DIR)",
        env="SM_OUTPUT_DATA_DIR",
    )
    dataset: str = option(
        AUTO,
        choices=(AUTO, *DATASETS),
        help="folder: the data dir's images; emoji/digits generate their data (auto: folder "
        "when a data dir is given, else emoji)",
        cli=True,
    )
    validation_dir: Path | None = option(
        None,
        help="a separate validation set (default: $SM_CHANNEL_VALIDATION)",
        env="SM_CHANNEL_VALIDATION",
    )
    heldout_dir: Path | None = option(
        None,
        help="an extra test set (default: $SM_CHANNEL_HELDOUT; emoji: generated)",
        env="SM_CHANNEL_HELDOUT",
    )
    extra_train_dir: Path | None = option(
        None,
        help="folder-per-class photos added to the training split, few-shot, each as several "
        "augmented views (default: $SM_CHANNEL_EXTRA)",
        env="SM_CHANNEL_EXTRA",
        cli=True,
    )
    outside_dir: Path | None = option(
        None,
        help="a flat folder of photos of things outside the labels, to choose when to say "
        "'unknown' (default: $SM_CHANNEL_OUTSIDE; Animals-10 labels: the packaged ones)",
        env="SM_CHANNEL_OUTSIDE",
        cli=True,
    )
    outside_train_dir: Path | None = option(
        None,
        help="a flat folder of images outside the labels that the head learns to call "
        "'none of these' (mixture models; default: $SM_CHANNEL_OUTSIDE_TRAIN; the emoji data "
        "set: renderings of other animals)",
        env="SM_CHANNEL_OUTSIDE_TRAIN",
    )
    unknown_budget: float = option(
        DEFAULT_UNKNOWN_BUDGET,
        help="'unknown' may take at most this share of each held-out in-class set's "
        "correctly labelled images (0: never say 'unknown')",
        hyperparameter=True,
    )
    evaluate_standard_sets: bool = option(
        True,
        help="also score the model on the shared evaluation sets its labels allow "
        "(emoji renderings, real photos)",
    )
    checkpoint_dir: Path | None = option(
        None, help="default: /opt/ml/checkpoints if it exists, else OUTPUT/checkpoints"
    )
    artifact_path: Path | None = option(
        None, flag="artifact", help="where to pack model.tar.gz ('none': do not pack)"
    )
    arch: str = option(
        AUTO,
        choices=(AUTO, *ARCHITECTURES),
        help="auto: efficientnet_lite0 (ImageNet transfer) for a folder of images, cnn for "
        "the generated data sets",
        cli=True,
        hyperparameter=True,
    )
    weights: str = option(
        "imagenet",
        help="transfer base: imagenet, none, a file or s3://",
        hyperparameter=True,
    )
    alpha: float = option(1.0, help="mobilenetv2 width multiplier", hyperparameter=True)
    epochs: int | None = option(
        None,
        help="training epochs (default per data set); transfer architectures train the head "
        "this many epochs, then --fine-tune-epochs more",
        cli=True,
        hyperparameter=True,
    )
    fine_tune_epochs: int = option(
        5,
        help="transfer architectures: epochs with the base's top layers unfrozen, after "
        "--epochs (0: none)",
        cli=True,
        hyperparameter=True,
    )
    fine_tune_layers: int = option(
        30, help="transfer architectures: top layers to unfreeze", hyperparameter=True
    )
    image_size: int | None = option(
        None, help="pixels per side of the model input", cli=True, hyperparameter=True
    )
    imagenet_mapping: str = option(
        "auto",
        help="efficientnet_lite0: map ImageNet classes onto the labels and mix ImageNet's own "
        "classifier with the trained head ('auto': each label name placed through the label "
        "hierarchy, a name it cannot place left to the head; 'none'; or a mapping JSON file)",
        cli=True,
        hyperparameter=True,
    )
    mixture_power: float = option(
        1.0,
        help="imagenet mixture: ImageNet decides with weight (mapped mass) ** power",
        hyperparameter=True,
    )
    batch_size: int = option(32, hyperparameter=True)
    learning_rate: float | None = option(None, hyperparameter=True)
    min_int8_accuracy: float | None = option(None, help="gate: minimum int8 accuracy")
    max_drop_pp: float = option(1.0, help="gate: max float-to-int8 drop in points")
    version: str = option("", help="model version (default: vYYYYMMDD-HHMMSS)", cli=True)
    seed: int = option(42, cli=True, hyperparameter=True)
    images_per_class: int | None = option(
        None, help="generated data sets: images to render per class", cli=True
    )
    heldout_images_per_class: int | None = option(None)
    validation_fraction: float = option(0.15, hyperparameter=True)
    test_fraction: float = option(0.15, hyperparameter=True)
    patience: int = option(5, help="early stopping patience in epochs", hyperparameter=True)
    representative_count: int = option(200, help="int8 calibration images", hyperparameter=True)
    augmentation: Augmentation | None = None
    # In process the progress callback reports epochs; a job's log wants a line per epoch.
    verbose: int = option(0, help="Keras fit verbosity (0, 1 or 2)", command_line_default=2)

    def resolved(self) -> ResolvedConfig:
        """Every default filled in and the values checked. An "auto" data set is the emoji
        one here (`parse_args` makes it "folder" when a data dir is given)."""
        dataset = default_dataset(self.dataset, data_dir_given=False)
        if dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; use one of {DATASETS}")
        arch = DEFAULT_ARCH[dataset] if self.arch == AUTO else self.arch
        if arch not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture {self.arch!r}; use one of {ARCHITECTURES}")
        defaults = DATASET_DEFAULTS[dataset]
        transfer = arch in TRANSFER_ARCHITECTURES
        decided = ("dataset", "arch", "version", *ResolvedConfig.__annotations__)
        given = {
            f.name: getattr(self, f.name) for f in fields(TrainConfig) if f.name not in decided
        }
        config = ResolvedConfig(
            **given,
            dataset=dataset,
            arch=arch,
            version=self.version or default_version(),
            epochs=_given(self.epochs, defaults.epochs),
            image_size=(
                self.image_size or ARCHITECTURE_IMAGE_SIZES.get(arch) or defaults.image_size
            ),
            learning_rate=_given(
                self.learning_rate, TRANSFER_LEARNING_RATE if transfer else defaults.learning_rate
            ),
            min_int8_accuracy=_given(self.min_int8_accuracy, defaults.min_int8_accuracy),
            images_per_class=self.images_per_class or defaults.images_per_class,
            heldout_images_per_class=_given(
                self.heldout_images_per_class, defaults.heldout_images_per_class
            ),
            augmentation=self.augmentation or defaults.augmentation,
        )
        _check(config)
        return config


@dataclass(frozen=True, kw_only=True)
class ResolvedConfig(TrainConfig):
    """A TrainConfig with every default filled in and checked (`TrainConfig.resolved`): what
    training runs on. Its data set and architecture are never "auto", its version is set,
    and the fields below, which None left to the data set, hold values. The paths that stay
    optional are inputs a run may simply not have (a validation set, an artifact to pack)."""

    epochs: int
    image_size: int
    learning_rate: float
    min_int8_accuracy: float
    images_per_class: int
    heldout_images_per_class: int
    augmentation: Augmentation

    def hyperparameters(self) -> dict[str, Any]:
        """model.json's `metrics.hyperparameters`, which also key the resume state."""
        values = options.hyperparameters(TrainConfig, self)
        values["augmentation"] = asdict(self.augmentation)
        if self.arch not in TRANSFER_ARCHITECTURES:
            for key in ("weights", "fine_tune_epochs", "fine_tune_layers"):
                values.pop(key)
        if self.arch != "mobilenetv2":
            values.pop("alpha")
        return values

    @property
    def checkpoints(self) -> Path:
        """Where checkpoints go: SageMaker's synced folder when it exists."""
        if self.checkpoint_dir is not None:
            return self.checkpoint_dir
        return self.output_dir / "checkpoints"

    @property
    def heldout(self) -> Path | None:
        """The held-out test set: given, or the emoji generator's sibling folder."""
        if self.heldout_dir is not None:
            return self.heldout_dir
        if self.dataset == "emoji":
            return self.data_dir.with_name(self.data_dir.name + "-heldout")
        return None


def _given(value: T | None, default: T) -> T:
    """The value as given, else the default (0 and 0.0 are given values)."""
    return default if value is None else value


def _check(config: ResolvedConfig) -> None:
    """Values training cannot run with are a ConfigError."""
    for name in ("epochs", "image_size", "batch_size"):
        if int(getattr(config, name)) < 1:
            raise ConfigError(f"{name} must be at least 1")
    if config.image_size < 32:
        raise ConfigError("image_size must be at least 32")
    fractions = (config.validation_fraction, config.test_fraction)
    if min(fractions) < 0 or sum(fractions) >= 1:
        raise ConfigError("validation and test fractions must be >= 0 and sum to less than 1")


def default_version() -> str:
    """A sortable version from the UTC time, e.g. v20250101-120000."""
    return new_model_version()


def parse_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> TrainConfig:
    """Arguments and SageMaker's SM_* variables to a config; unknown arguments are ignored."""
    args, _unknown = build_parser().parse_known_args(argv)
    version = args.version or default_version()
    # SageMaker passes `--version str(json.loads(value))`: "1e5" arrives here as "100000.0".
    problem = model_version_problem(version)
    if problem is not None:
        raise ConfigError(f"--version {version!r} is not valid: {problem}")
    variables = {item.name: item.option.env for item in options.declared(TrainConfig)}

    def directory(name: str, fallback: Path | None) -> Path | None:
        # SageMaker's TensorFlow estimator also passes an S3 --model_dir; the local one wins.
        value = getattr(args, name)
        if value and not value.startswith("s3://"):
            return Path(value)
        if env.get(variables[name]):
            return Path(env[variables[name]])
        return fallback

    run_root = LOCAL_ROOT / "runs" / version
    output_dir = directory("output_dir", run_root / "output")
    assert output_dir is not None
    artifact: Path | None
    if args.artifact_path:
        artifact = None if args.artifact_path.lower() == "none" else Path(args.artifact_path)
    else:
        # SageMaker packs SM_MODEL_DIR itself; locally we pack next to the other outputs.
        artifact = None if "SM_MODEL_DIR" in env else output_dir / "model.tar.gz"
    checkpoint_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else None
    if checkpoint_dir is None and SAGEMAKER_CHECKPOINT_DIR.is_dir():
        checkpoint_dir = SAGEMAKER_CHECKPOINT_DIR
    channel = env.get(variables["data_dir"])
    _check_data_dir(args.data_dir, channel)
    given = bool(args.data_dir and not args.data_dir.startswith(S3_SCHEME))
    dataset = default_dataset(args.dataset, given or bool(channel))
    data_dir = directory("data_dir", LOCAL_ROOT / "data" / dataset)
    model_dir = directory("model_dir", run_root / "model")
    assert data_dir is not None and model_dir is not None
    paths: dict[str, Any] = {
        "data_dir": data_dir,
        "model_dir": model_dir,
        "output_dir": output_dir,
        "validation_dir": directory("validation_dir", None),
        "heldout_dir": directory("heldout_dir", None),
        "extra_train_dir": directory("extra_train_dir", None),
        "outside_dir": directory("outside_dir", None),
        "outside_train_dir": directory("outside_train_dir", None),
        "checkpoint_dir": checkpoint_dir,
        "artifact_path": artifact,
    }
    plain = {
        item.name: getattr(args, item.name)
        for item in options.declared(TrainConfig)
        if item.name not in paths
    }
    return TrainConfig(**paths, **{**plain, "dataset": dataset, "version": version})


def _check_data_dir(data_dir: str | None, channel: str | None) -> None:
    """An s3:// data dir is read through a channel, never here (it would fall back silently)."""
    if data_dir and data_dir.startswith(S3_SCHEME) and not channel:
        raise ConfigError(
            f"--data-dir {data_dir}: training reads a local folder or SageMaker's train "
            "channel; `imgclf train --data-dir s3://...` downloads the prefix first"
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line; every --dashed-name also answers to --underscored_name."""
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train an image classifier and export a gated int8 TFLite artifact.",
    )
    options.add_arguments(parser, TrainConfig)
    return parser


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """`imgclf train`'s training flags; each defaults to None, leaving training's default."""
    options.add_arguments(parser, TrainConfig, cli_only=True)
