"""`imgclf model day0`: the ImageNet classifier mapped onto your labels, with no training."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.contracts import (
    UNKNOWN_LABEL,
    label_problem,
    new_model_version,
    tag_value_problem,
)
from infra.local import imgclf_home

from .deployment import resolve
from .errors import CliError
from .models import require_new_version
from .output import stdout
from .packed import PackedModel, build_quietly, cached, upload_and_report
from .trainer import check_build_options

if TYPE_CHECKING:
    from training.labels.mapper import MappedLabel


def build_packed(
    target: Path,
    *,
    version: str,
    mapping_file: Path | None,
    eval_dir: Path | None,
    mapping: Mapping[str, tuple[int, ...]] | None = None,
) -> PackedModel:
    """Build the day-0 model into target/model and pack target/model.tar.gz (with a spinner);
    the mapping is `mapping`, else the file's, else Animals-10's."""

    def build(model_dir: Path) -> None:
        from training.backbones.efficientnet_lite import WeightsUnavailableError
        from training.data import DataError
        from training.day0 import Day0Error, build_day0
        from training.imagenet import MappingError, read_mapping

        try:
            chosen = read_mapping(mapping_file) if mapping is None and mapping_file else mapping
            build_day0(model_dir, version=version, mapping=chosen, eval_dir=eval_dir)
        except (MappingError, Day0Error, WeightsUnavailableError, DataError) as error:
            raise CliError(str(error)) from None

    return build_quietly(target, version, "day-0 model", build)


def map_label_names(names: str, overrides_file: Path | None) -> list[MappedLabel]:
    """`--labels a,b,c` placed in the label hierarchy; CliError (one line, with close names)
    for a name it cannot place."""
    try:
        from training.imagenet import MappingError
        from training.labels.mapper import check_overrides_used, map_labels, read_overrides
    except ImportError as error:
        raise CliError(f"--labels needs the training extra here: {error}") from None
    labels = [name.strip() for name in names.split(",")]
    if labels[-1] == "":
        labels.pop()  # a trailing comma is no name
    if "" in labels:
        raise CliError(f"--labels: {names!r} has an empty name (two commas in a row?)")
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise CliError("--labels needs two or more different names, comma-separated")
    for label in labels:
        _check_label(label)
    try:
        overrides = read_overrides(overrides_file) if overrides_file else None
        if overrides is not None:
            check_overrides_used(labels, overrides)
        return list(map_labels(labels, overrides).values())
    except MappingError as error:
        raise CliError(str(error)) from None


def _check_label(label: str) -> None:
    """Refuse, before any build, a name no model may have: `unknown`, one the index
    reserves, or one S3 cannot store as a tag value (the function tags objects with it)."""
    if label.lower() == UNKNOWN_LABEL:
        raise CliError(
            f"--labels: {label!r} cannot be a label: it is what an image outside the labels is "
            "called"
        )
    problem = label_problem(label)
    if problem:
        raise CliError(f"--labels: {problem}")
    problem = tag_value_problem(label)
    if problem:
        raise CliError(
            f"--labels: {label!r} cannot be stored as an S3 tag value (the function tags "
            f"objects with the label): {problem}"
        )


def mapping_lines(mapped: Sequence[MappedLabel]) -> list[str]:
    """One review line per label: name -> synset (wnid), gloss, class count, examples."""
    lines = []
    for label in mapped:
        where = f"{label.node_name} ({label.node_id})" if label.node_id else label.node_name
        count = len(label.indices)
        examples = ", ".join(label.examples) + (", ..." if count > len(label.examples) else "")
        plural = "class" if count == 1 else "classes"
        lines.append(
            f"{label.label} -> {where}: {label.gloss}; {count} ImageNet {plural} ({examples})"
        )
        if label.ceded:
            lines.append(f"  not the classes narrower labels own: {', '.join(label.ceded)}")
        if label.unmet_first_sense:
            lines.append(
                f"  WordNet's first sense of {label.label!r} is another, which no ImageNet "
                f"class is: {label.unmet_first_sense}"
            )
        if label.other_senses:
            lines.append(
                f"  other senses: {'; '.join(label.other_senses)} "
                f'(an --overrides file picks one: {{{json.dumps(label.label)}: "WNID"}})'
            )
    return lines


def cached_day0(cache_root: Path, sources: str) -> PackedModel:
    """The built-in Animals-10 day-0 model from the cache, built once per code version."""
    return cached(
        cache_root,
        "day0",
        sources,
        lambda target, version: build_packed(
            target, version=version, mapping_file=None, eval_dir=None
        ),
    )


def _check_eval_dir(eval_dir: Path, labels: list[str] | None) -> None:
    """An --eval-dir with no label folders, or a folder none of --labels names, refused
    before the build (the build reads it the same way)."""
    from training.data import DataError, list_class_files

    try:
        list_class_files(eval_dir, labels)
    except DataError as error:
        raise CliError(f"--eval-dir: {error}") from None


def day0_command(args: argparse.Namespace) -> int:
    check_build_options(args)
    for path in (args.mapping, args.eval_dir, args.overrides):
        if path is not None and not path.exists():
            raise CliError(f"no such file or folder: {path}")
    if args.overrides is not None and args.labels is None:
        raise CliError("--overrides goes with --labels")
    mapping = None
    if args.labels is not None:
        mapped = map_label_names(args.labels, args.overrides)
        stdout.print("\n".join(mapping_lines(mapped)), markup=False, soft_wrap=True)
        mapping = {label.label: label.indices for label in mapped}
    if args.eval_dir is not None:
        _check_eval_dir(args.eval_dir, list(mapping) if mapping else None)
    deployment = resolve(args.env)  # after the input's checks and the mapping, before the build
    if args.version:
        require_new_version(deployment, args.version)
    version = args.version or new_model_version("day0-")
    model = build_packed(
        imgclf_home() / "models" / version,
        version=version,
        mapping_file=args.mapping,
        eval_dir=args.eval_dir,
        mapping=mapping,
    )
    upload_and_report(deployment, model, "day-0 model", promote_it=args.promote, force=args.force)
    return 0
