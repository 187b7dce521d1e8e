"""Training configuration: one dataclass, filled from arguments and SageMaker's environment.

SageMaker script mode passes channels and output locations as SM_* variables and
hyperparameters as `--key value` arguments; locally the same arguments are typed by hand.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

DATASETS = ("emoji", "digits", "folder")
ARCHITECTURES = ("cnn", "mobilenetv2")
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
MOBILENET_LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; None means "the data set's default"."""

    data_dir: Path
    model_dir: Path
    output_dir: Path
    dataset: str = "emoji"
    validation_dir: Path | None = None
    heldout_dir: Path | None = None
    checkpoint_dir: Path | None = None
    artifact_path: Path | None = None
    arch: str = "cnn"
    weights: str = "imagenet"
    alpha: float = 1.0
    epochs: int | None = None
    fine_tune_epochs: int = 5
    fine_tune_layers: int = 30
    image_size: int | None = None
    batch_size: int = 32
    learning_rate: float | None = None
    min_int8_accuracy: float | None = None
    max_drop_pp: float = 1.0
    version: str = ""
    seed: int = 42
    images_per_class: int | None = None
    heldout_images_per_class: int | None = None
    validation_fraction: float = 0.15
    test_fraction: float = 0.15
    patience: int = 5
    representative_count: int = 200
    augmentation: Augmentation | None = None
    verbose: int = 0

    def resolved(self) -> TrainConfig:
        """A copy with every default filled in and the values checked."""
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; use one of {DATASETS}")
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"unknown architecture {self.arch!r}; use one of {ARCHITECTURES}")
        defaults = DATASET_DEFAULTS[self.dataset]
        learning_rate = self.learning_rate
        if learning_rate is None:
            learning_rate = (
                MOBILENET_LEARNING_RATE if self.arch == "mobilenetv2" else defaults.learning_rate
            )
        config = replace(
            self,
            version=self.version or default_version(),
            epochs=self.epochs if self.epochs is not None else defaults.epochs,
            image_size=self.image_size or defaults.image_size,
            learning_rate=learning_rate,
            min_int8_accuracy=(
                self.min_int8_accuracy
                if self.min_int8_accuracy is not None
                else defaults.min_int8_accuracy
            ),
            images_per_class=self.images_per_class or defaults.images_per_class,
            heldout_images_per_class=(
                self.heldout_images_per_class
                if self.heldout_images_per_class is not None
                else defaults.heldout_images_per_class
            ),
            augmentation=self.augmentation or defaults.augmentation,
        )
        for name in ("epochs", "image_size", "batch_size"):
            if int(getattr(config, name)) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if config.image_size is not None and config.image_size < 32:
            raise ConfigError("image_size must be at least 32")
        fractions = (config.validation_fraction, config.test_fraction)
        if min(fractions) < 0 or sum(fractions) >= 1:
            raise ConfigError("validation and test fractions must be >= 0 and sum to less than 1")
        return config

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


def default_version() -> str:
    """A sortable version from the UTC time, e.g. v20250101-120000."""
    return time.strftime("v%Y%m%d-%H%M%S", time.gmtime())


def parse_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> TrainConfig:
    """Arguments and SageMaker's SM_* variables to a config; unknown arguments are ignored."""
    parser = build_parser()
    args, _unknown = parser.parse_known_args(argv)
    version = args.version or default_version()
    in_sagemaker = "SM_MODEL_DIR" in env

    def directory(value: str | None, variable: str, fallback: Path | None) -> Path | None:
        # SageMaker's TensorFlow estimator also passes an S3 --model_dir; the local one wins.
        if value and not value.startswith("s3://"):
            return Path(value)
        if env.get(variable):
            return Path(env[variable])
        return fallback

    run_root = LOCAL_ROOT / "runs" / version
    output_dir = directory(args.output_dir, "SM_OUTPUT_DATA_DIR", run_root / "output")
    assert output_dir is not None
    artifact: Path | None
    if args.artifact:
        artifact = None if args.artifact.lower() == "none" else Path(args.artifact)
    else:
        # SageMaker packs SM_MODEL_DIR itself; locally we pack next to the other outputs.
        artifact = None if in_sagemaker else output_dir / "model.tar.gz"
    checkpoint_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else None
    if checkpoint_dir is None and SAGEMAKER_CHECKPOINT_DIR.is_dir():
        checkpoint_dir = SAGEMAKER_CHECKPOINT_DIR
    data_dir = directory(args.data_dir, "SM_CHANNEL_TRAIN", LOCAL_ROOT / "data" / args.dataset)
    model_dir = directory(args.model_dir, "SM_MODEL_DIR", run_root / "model")
    assert data_dir is not None and model_dir is not None
    return TrainConfig(
        data_dir=data_dir,
        model_dir=model_dir,
        output_dir=output_dir,
        dataset=args.dataset,
        validation_dir=directory(args.validation_dir, "SM_CHANNEL_VALIDATION", None),
        heldout_dir=directory(args.heldout_dir, "SM_CHANNEL_HELDOUT", None),
        checkpoint_dir=checkpoint_dir,
        artifact_path=artifact,
        arch=args.arch,
        weights=args.weights,
        alpha=args.alpha,
        epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        fine_tune_layers=args.fine_tune_layers,
        image_size=args.image_size,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        min_int8_accuracy=args.min_int8_accuracy,
        max_drop_pp=args.max_drop_pp,
        version=version,
        seed=args.seed,
        images_per_class=args.images_per_class,
        heldout_images_per_class=args.heldout_images_per_class,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        patience=args.patience,
        representative_count=args.representative_count,
        verbose=args.verbose,
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line; every --dashed-name also answers to --underscored_name."""
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train an image classifier and export a gated int8 TFLite artifact.",
    )

    def option(name: str, **kwargs: object) -> None:
        names = [f"--{name}"]
        if "-" in name:
            names.append(f"--{name.replace('-', '_')}")
        parser.add_argument(*names, **kwargs)  # type: ignore[arg-type]

    option("data-dir", help="folder per class (default: $SM_CHANNEL_TRAIN or .imgclf/data/DATASET)")
    option("dataset", choices=DATASETS, default="emoji", help="emoji/digits generate their data")
    option("validation-dir", help="a separate validation set (default: $SM_CHANNEL_VALIDATION)")
    option("heldout-dir", help="an extra test set (default: $SM_CHANNEL_HELDOUT; emoji: generated)")
    option("model-dir", help="receives the artifact files (default: $SM_MODEL_DIR)")
    option("output-dir", help="TensorBoard logs, checkpoints (default: $SM_OUTPUT_DATA_DIR)")
    option(
        "checkpoint-dir", help="default: /opt/ml/checkpoints if it exists, else OUTPUT/checkpoints"
    )
    option("artifact", help="where to pack model.tar.gz ('none': do not pack)")
    option("arch", choices=ARCHITECTURES, default="cnn")
    option("weights", default="imagenet", help="mobilenetv2 base: imagenet, none, a file or s3://")
    option("alpha", type=float, default=1.0, help="mobilenetv2 width multiplier")
    option("epochs", type=int, default=None)
    option("fine-tune-epochs", type=int, default=5, help="mobilenetv2 second phase")
    option("fine-tune-layers", type=int, default=30, help="mobilenetv2 top layers to unfreeze")
    option("image-size", type=int, default=None)
    option("batch-size", type=int, default=32)
    option("learning-rate", type=float, default=None)
    option("min-int8-accuracy", type=float, default=None, help="gate: minimum int8 accuracy")
    option("max-drop-pp", type=float, default=1.0, help="gate: max float-to-int8 drop in points")
    option("version", default="", help="model version (default: vYYYYMMDD-HHMMSS)")
    option("seed", type=int, default=42)
    option("images-per-class", type=int, default=None, help="emoji: images to generate per class")
    option("heldout-images-per-class", type=int, default=None)
    option("validation-fraction", type=float, default=0.15)
    option("test-fraction", type=float, default=0.15)
    option("patience", type=int, default=5, help="early stopping patience in epochs")
    option("representative-count", type=int, default=200, help="int8 calibration images")
    option("verbose", type=int, default=2, help="Keras fit verbosity (0, 1 or 2)")
    return parser
