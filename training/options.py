"""How a training option is declared once and read by every front end.

`TrainConfig`'s fields (training/train_config.py) carry an `Option` in their metadata. From it come
the argparse parser of `python -m training.train`, the flags of `imgclf train`, model.json's
`metrics.hyperparameters` (which also keys the resume state), the SageMaker hyperparameters
that `imgclf train --cloud` sends, and the check of the typed values `imgclf` hands to training
(`checked_values`: `imgclf.trainer.TrainingSettings`, the demo's recipe). Standard library
only: the CLI imports this at start-up, and must not pay for TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATASETS = ("emoji", "digits", "folder")
ARCHITECTURES = ("cnn", "mobilenetv2", "efficientnet_lite0")
# "auto" is each choice's default: decided by the data (see `default_dataset`, DEFAULT_ARCH).
AUTO = "auto"
NONE = "none"  # --imagenet-mapping none: no ImageNet mixture
# Photographs train EfficientNet-Lite0 by transfer; the generated sets, the small CNN.
DEFAULT_ARCH = {"emoji": "cnn", "digits": "cnn", "folder": "efficientnet_lite0"}
# A frozen pretrained base first, then its top layers fine-tuned at a tenth of the rate.
TRANSFER_ARCHITECTURES = ("mobilenetv2", "efficientnet_lite0")
OPTION = "imgclf.option"  # the dataclass field metadata key
S3_SCHEME = "s3://"


@dataclass(frozen=True)
class Option:
    """What the command lines and SageMaker need to know about one TrainConfig field."""

    help: str = ""
    choices: tuple[str, ...] | None = None
    cli: bool = False  # also an `imgclf train` flag
    hyperparameter: bool = False  # recorded in model.json, keys resume, sent by --cloud
    flag: str = ""  # the command-line name when it is not the field's (dashes for underscores)
    env: str = ""  # the SageMaker variable that supplies the value when no argument does
    command_line_default: Any = None  # when the command line wants another default
    s3_uri: bool = False  # `imgclf train` also takes an s3:// URI here, kept as written


def option(default: Any = dataclasses.MISSING, **option_fields: Any) -> Any:
    """A dataclass field with its Option: `epochs: int | None = option(None, help=...)`."""
    metadata = {OPTION: Option(**option_fields)}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Declared:
    """One declared option: the field's name, value type, default and Option."""

    name: str
    type: type
    default: Any
    option: Option

    @property
    def flag(self) -> str:
        return self.option.flag or self.name.replace("_", "-")

    @property
    def command_line_default(self) -> Any:
        if self.option.command_line_default is not None:
            return self.option.command_line_default
        return None if self.default is dataclasses.MISSING else self.default


def declared(config_type: type) -> Iterator[Declared]:
    """The fields of a dataclass that carry an Option, in declaration order."""
    hints = typing.get_type_hints(config_type)
    for field in dataclasses.fields(config_type):
        found = field.metadata.get(OPTION)
        if isinstance(found, Option):
            yield Declared(field.name, _value_type(hints[field.name]), field.default, found)


def add_arguments(
    parser: argparse.ArgumentParser, config_type: type, *, cli_only: bool = False
) -> None:
    """One argument per option; `cli_only` (imgclf train) takes the `cli` ones, defaults None.

    Training's parser also answers to --underscored_names, SageMaker's spelling, and keeps
    paths as strings (its TensorFlow estimator passes an s3:// --model_dir to ignore).
    """
    for item in declared(config_type):
        if cli_only and not item.option.cli:
            continue
        names = [f"--{item.flag}"]
        if not cli_only and "-" in item.flag:
            names.append(f"--{item.flag.replace('-', '_')}")
        kwargs: dict[str, Any] = {"dest": item.name, "help": _help(item, show_default=cli_only)}
        if item.option.choices:
            kwargs["choices"] = item.option.choices
        if item.type is Path:
            kwargs["type"] = (path_or_s3_uri if item.option.s3_uri else Path) if cli_only else str
        elif item.type is bool:
            kwargs["type"] = parse_bool
        elif item.type is not str:
            kwargs["type"] = item.type
        kwargs["default"] = None if cli_only else item.command_line_default
        parser.add_argument(*names, **kwargs)


def default_dataset(dataset: str | None, data_dir_given: bool) -> str:
    """The data set a run trains on: as given, else ("auto") a folder of the user's images
    when a data dir is given, else the rendered emoji set."""
    if dataset and dataset != AUTO:
        return dataset
    return "folder" if data_dir_given else "emoji"


def path_or_s3_uri(text: str) -> Path | str:
    """A local path, or an s3:// URI as written (a Path would fold its `//`)."""
    return text if text.startswith(S3_SCHEME) else Path(text)


def parse_bool(text: str) -> bool:
    """true/false, yes/no, 1/0 in any case: what SageMaker and people write."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def hyperparameters(config_type: type, config: Any) -> dict[str, Any]:
    """The typed values of a config's options that `config_type` declares hyperparameters."""
    return {
        item.name: getattr(config, item.name)
        for item in declared(config_type)
        if item.option.hyperparameter
    }


def sagemaker_hyperparameters(config_type: type, values: Mapping[str, Any]) -> dict[str, str]:
    """Given hyperparameter values as SageMaker wants them: string by flag, None left out.

    SageMaker's training toolkit JSON-decodes each value and passes `--flag str(decoded)`,
    so str() of an int, a float or a plain word comes back to train.py unchanged.
    """
    return {
        item.flag: str(values[item.name])
        for item in declared(config_type)
        if item.option.hyperparameter and values.get(item.name) is not None
    }


def command_line(config_type: type, values: Mapping[str, Any]) -> list[str]:
    """`--flag value` for each given option (None left out), in declaration order."""
    argv: list[str] = []
    for item in declared(config_type):
        if values.get(item.name) is not None:
            argv += [f"--{item.flag}", str(values[item.name])]
    return argv


def checked_values(
    config_type: type, values: Mapping[str, Any], *, excluded: Collection[str] = ()
) -> dict[str, Any]:
    """Option values by field name, each checked against its declaration; None (not given)
    left out. A name `config_type` does not declare (or one of `excluded`) or a value of
    another type is a TypeError, as a wrong keyword argument is; a value outside the
    option's choices is a ValueError. An int given for a float option becomes a float."""
    known = {item.name: item for item in declared(config_type) if item.name not in excluded}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        item = known.get(name)
        if item is None:
            raise TypeError(f"{name!r} is not one of these options: {', '.join(known)}")
        if value is not None:
            checked[name] = _typed(item, value)
    return checked


def defaults(config_type: type) -> dict[str, Any]:
    """The declared default of each option that has one, by field name."""
    return {
        item.name: item.default
        for item in declared(config_type)
        if item.default is not dataclasses.MISSING
    }


def cli_option_names(config_type: type) -> tuple[str, ...]:
    """The field names that are `imgclf train` flags."""
    return tuple(item.name for item in declared(config_type) if item.option.cli)


def _value_type(hint: Any) -> type:
    """`int | None` -> int; `Path` -> Path."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _value_type(inner)
    if not isinstance(hint, type):
        raise TypeError(f"option type {hint!r} is not a plain type")
    return hint


def _typed(item: Declared, value: Any) -> Any:
    """The value as the option's type, or why it is not one (bool is no int here)."""
    if item.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, item.type) or (isinstance(value, bool) and item.type is not bool):
        raise TypeError(f"option {item.name} takes {item.type.__name__}, not {value!r}")
    if item.option.choices and value not in item.option.choices:
        raise ValueError(
            f"option {item.name}: {value!r} is not one of {', '.join(item.option.choices)}"
        )
    return value


def _help(item: Declared, *, show_default: bool) -> str:
    default = item.command_line_default
    if show_default and default not in (None, ""):
        return f"{item.option.help} (training's default: {default})".lstrip()
    return item.option.help
