"""`imgclf model generic`: the generic labeller (Lite0 int8 and the label hierarchy), no
training, built once per code version and uploaded like any model."""

from __future__ import annotations

import argparse
from pathlib import Path

from infra.local import imgclf_home

from .deployment import Deployment, resolve
from .errors import CliError
from .models import promote, require_new_version, upload_artifact
from .packed import PackedModel, build_quietly, cached, upload_and_report
from .trainer import check_build_options


def build_packed(target: Path, *, version: str) -> PackedModel:
    """Build the generic model into target/model and pack target/model.tar.gz."""

    def build(model_dir: Path) -> None:
        from training.backbones.efficientnet_lite import WeightsUnavailableError
        from training.generic import GenericModelError, build_generic

        try:
            build_generic(model_dir, version=version)
        except (GenericModelError, WeightsUnavailableError) as error:
            raise CliError(str(error)) from None

    return build_quietly(target, version, "generic model", build)


def cached_generic(cache_root: Path, sources: str) -> PackedModel:
    """The generic model from the cache, built once per code version."""
    return cached(
        cache_root,
        "generic",
        sources,
        lambda target, version: build_packed(target, version=version),
    )


def home_generic(home: Path | None = None) -> PackedModel:
    """This code version's generic model in the imgclf home's cache (`cached_generic`):
    what `model generic`, a fresh `local up` and the benches use."""
    from .demo import source_fingerprint

    return cached_generic((home or imgclf_home()) / "cache", source_fingerprint())


def publish(deployment: Deployment, model: PackedModel, *, force: bool = False) -> str:
    """Upload a generic model and make it live (the champion check decides, unless forced)."""
    upload_artifact(deployment, model.tarball, model.version)
    promote(deployment, model.version, force=force)
    return model.version


def generic_command(args: argparse.Namespace) -> int:
    """Build (or reuse with --cached) the generic model, upload it, and promote it if asked."""
    check_build_options(args)
    deployment = resolve(args.env)
    if args.version:
        require_new_version(deployment, args.version)
        model = build_packed(imgclf_home() / "models" / args.version, version=args.version)
    else:
        model = home_generic()
    upload_and_report(deployment, model, "generic model", promote_it=args.promote, force=args.force)
    return 0
