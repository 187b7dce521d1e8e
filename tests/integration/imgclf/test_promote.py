"""`imgclf model promote` against moto: the candidate must not lose to the live model."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from classifier.artifact import OUTPUT_GENERIC, HierarchyRef, ModelMetadata, OutputSpec
from classifier.artifact_files import pack_artifact, write_artifact_dir
from classifier.contracts import ModelPointer, artifact_key, model_pointer_name
from classifier.hierarchy import LabelHierarchy
from classifier.imaging import InputSpec
from imgclf.deployment import Deployment
from imgclf.errors import CliError
from imgclf.main import build_parser
from imgclf.models import live_pointer, promote
from infra.resources import StackOutputs
from tests.fixtures.artifacts import evaluated_metadata
from tests.fixtures.hierarchy import SMALL_HIERARCHY

REGION = "us-east-1"
MODELS_BUCKET = "models"
POINTER = model_pointer_name("test")


@pytest.fixture
def deployment(fake_aws: str) -> Iterator[Deployment]:
    """A deployed environment's outputs, backed by moto: the models bucket and no pointer yet."""
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=MODELS_BUCKET)
        yield Deployment(
            env="test",
            outputs={
                StackOutputs.MODELS_BUCKET: MODELS_BUCKET,
                StackOutputs.MODEL_POINTER_PARAMETER: POINTER,
            },
            region=REGION,
        )


def _upload(
    deployment: Deployment, tmp_path: Path, version: str, evaluations: dict[str, float] | None
) -> None:
    """A model version with a passing gate, evaluated on the given sets (set -> accuracy)."""
    metadata = evaluated_metadata(
        version,
        metrics={"int8_accuracy": 0.9},
        evaluations=evaluations,
        gate={"passed": True},
        count=300,
        size=32,
    )
    directory = write_artifact_dir(tmp_path / version, b"tflite", metadata)
    tarball = pack_artifact(directory, tmp_path / f"{version}.tar.gz")
    deployment.client("s3").upload_file(str(tarball), MODELS_BUCKET, artifact_key(version))


def _live_version(deployment: Deployment) -> str | None:
    pointer = live_pointer(deployment)
    return pointer.version if pointer else None


def test_a_version_worse_than_the_live_one_is_refused_unless_forced(
    deployment: Deployment, tmp_path: Path
) -> None:
    # Given v1 live, and v2 6.8 pp worse on a set both were evaluated on
    _upload(deployment, tmp_path, "v1", {"real-photos": 0.880, "test": 0.95})
    _upload(deployment, tmp_path, "v2", {"real-photos": 0.812, "test": 0.96})
    first = promote(deployment, "v1")
    assert first.comparison is not None
    assert first.comparison.summary == "nothing is live: nothing to compare"
    # When v2 is promoted, then it is refused in one line naming the set and the numbers
    with pytest.raises(CliError) as refused:
        promote(deployment, "v2")
    assert str(refused.value) == (
        "model version 'v2' is worse than live model v1 on real-photos: 81.2% vs live 88.0% "
        "(-6.8 pp, more than the 1.0 pp allowed); use --force to promote anyway"
    )
    # And v1 stays live
    assert _live_version(deployment) == "v1"
    # When forced, then v2 is live, and the comparison it was forced past is reported
    forced = promote(deployment, "v2", force=True)
    assert _live_version(deployment) == "v2"
    assert forced.pointer == ModelPointer(f"s3://{MODELS_BUCKET}/{artifact_key('v2')}", "v2")
    assert forced.comparison is not None and not forced.comparison.passed


def test_a_wider_margin_or_a_better_version_is_promoted(
    deployment: Deployment, tmp_path: Path
) -> None:
    # Given v1 live and v2 worse by 6.8 pp, v3 better
    _upload(deployment, tmp_path, "v1", {"real-photos": 0.880})
    _upload(deployment, tmp_path, "v2", {"real-photos": 0.812})
    _upload(deployment, tmp_path, "v3", {"real-photos": 0.900})
    promote(deployment, "v1")
    # Then a 7 pp margin lets v2 through, and v3 passes on its own
    assert promote(deployment, "v2", max_regression_pp=7.0).pointer.version == "v2"
    promotion = promote(deployment, "v3")
    assert promotion.comparison is not None
    assert [row.status for row in promotion.comparison.rows] == ["better"]


def test_an_unreadable_live_model_blocks_promotion_unless_forced(
    deployment: Deployment, tmp_path: Path
) -> None:
    # Given a pointer to a version whose artifact is gone
    _upload(deployment, tmp_path, "v2", {"real-photos": 0.9})
    deployment.client("ssm").put_parameter(
        Name=POINTER,
        Value=ModelPointer(f"s3://{MODELS_BUCKET}/{artifact_key('v1')}", "v1").to_json(),
        Type="String",
    )
    # Then promotion is refused rather than skipping the comparison, unless forced
    with pytest.raises(CliError, match="cannot be compared with it; use --force"):
        promote(deployment, "v2")
    assert promote(deployment, "v2", force=True).comparison is None
    assert _live_version(deployment) == "v2"


def test_promote_takes_a_regression_margin_in_percentage_points() -> None:
    parser = build_parser()
    args = parser.parse_args(["model", "promote", "v2", "--max-regression-pp", "2.5"])
    assert (args.version, args.max_regression_pp, args.force) == ("v2", 2.5, False)
    assert parser.parse_args(["model", "promote", "v2"]).max_regression_pp == 1.0
    with pytest.raises(SystemExit):
        parser.parse_args(["model", "promote", "v2", "--max-regression-pp", "-1"])


def test_a_hierarchy_missing_or_not_matching_the_model_is_refused_even_forced(
    deployment: Deployment, tmp_path: Path
) -> None:
    # Given a generic model whose model.json names hierarchy test-1, uploaded twice: once
    # without its hierarchy.json, once with one that covers fewer classes than its outputs
    hierarchy = LabelHierarchy.from_dict(SMALL_HIERARCHY)
    metadata = ModelMetadata(
        version="g1",
        input=InputSpec(height=8, width=8),
        labels=(),
        output=OutputSpec(OUTPUT_GENERIC, sources=len(hierarchy.class_ids)),
        hierarchy=HierarchyRef.of(hierarchy),
        gate={"passed": True},
    )
    directory = write_artifact_dir(tmp_path / "g1", b"tflite", metadata, hierarchy)
    (directory / "hierarchy.json").unlink()
    tarball = tmp_path / "g1.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        for path in sorted(directory.iterdir()):
            archive.add(path, arcname=path.name)
    deployment.client("s3").upload_file(str(tarball), MODELS_BUCKET, artifact_key("g1"))
    # When it is promoted, forced or not, then it is refused in one line and nothing is live
    for force in (False, True):
        with pytest.raises(CliError) as refused:
            promote(deployment, "g1", force=force)
        assert str(refused.value) == (
            "model version 'g1' cannot go live: artifact has no hierarchy.json"
        )
    assert _live_version(deployment) is None
