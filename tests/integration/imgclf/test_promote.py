"""`imgclf model promote` and `rollback` against moto: a candidate must be a model the function
can run (even forced), must not lose to the live model (unless forced), and the pointer keeps
the version it replaced, when that one loads, as `previous`."""

from __future__ import annotations

import json
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from classifier.artifact import OUTPUT_GENERIC, FileDigest, HierarchyRef, ModelMetadata, OutputSpec
from classifier.artifact_files import write_artifact_dir
from classifier.contracts import ModelPointer, artifact_key, model_pointer_name
from classifier.hierarchy import LabelHierarchy
from classifier.imaging import InputSpec
from imgclf.deployment import Deployment
from imgclf.errors import CliError
from imgclf.local import seed_models
from imgclf.main import build_parser, main
from imgclf.models import (
    live_labels,
    live_pointer,
    promote,
    read_artifact_metadata,
    rollback,
    upload_artifact,
)
from infra.resources import StackOutputs
from tests.fixtures.artifacts import pointer_digest
from tests.fixtures.hierarchy import SMALL_HIERARCHY
from tests.fixtures.tiny_model import reversioned

REGION = "us-east-1"
MODELS_BUCKET = "models"
POINTER = model_pointer_name("test")

Edit = Callable[[Path, dict[str, Any]], None]  # the unpacked copy and its model.json
Upload = Callable[..., Path]


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


def _tar(directory: Path, tarball: Path) -> Path:
    """Pack as it is, digests unchecked: what a corrupted or hand-made artifact looks like."""
    tarball.unlink(missing_ok=True)
    with tarfile.open(tarball, "w:gz") as archive:
        for path in sorted(directory.iterdir()):
            archive.add(path, arcname=path.name)
    return tarball


def _redigest(directory: Path, metadata: dict[str, Any], name: str) -> None:
    """Record a file's current digest, as a hand-edited or rebuilt model.json would."""
    metadata["files"][name] = FileDigest.of((directory / name).read_bytes()).to_dict()


@pytest.fixture
def upload(deployment: Deployment, tiny_model_dir: Path, tmp_path: Path) -> Upload:
    """Put the real tiny model in the models bucket under `version`: a passing gate, evaluated
    on the given sets (set -> accuracy; model.json is not digested), and `edit` applied to
    the unpacked copy before it is packed as it is."""

    def upload_version(
        version: str, evaluations: dict[str, float] | None = None, edit: Edit | None = None
    ) -> Path:
        directory = tmp_path / version
        tarball = reversioned(tiny_model_dir, version, directory)
        metadata = json.loads((directory / "model.json").read_text())
        metadata["gate"] = {"passed": True}
        if evaluations is not None:
            metadata["metrics"]["evaluations"] = {
                name: {"fingerprint": f"sha256:{name}", "count": 300, "accuracy": accuracy}
                for name, accuracy in evaluations.items()
            }
        if edit is not None:
            edit(directory, metadata)
        (directory / "model.json").write_text(json.dumps(metadata))
        _tar(directory, tarball)
        deployment.client("s3").upload_file(str(tarball), MODELS_BUCKET, artifact_key(version))
        return tarball

    return upload_version


def _random_model(directory: Path, metadata: dict[str, Any]) -> None:
    (directory / "model.tflite").write_bytes(os.urandom(4096))


def _legacy(directory: Path, metadata: dict[str, Any]) -> None:
    """As artifacts were before digests and probes."""
    del metadata["files"], metadata["probe"]
    (directory / "probe.npz").unlink()


def _live_version(deployment: Deployment) -> str | None:
    pointer = live_pointer(deployment)
    return pointer.version if pointer else None


def _pointer(version: str, previous: ModelPointer | None = None) -> ModelPointer:
    """What promotion writes for `version`: its URI, its model.json's digest (read back from
    the stored artifact; "" when there is none) and `previous`."""
    return ModelPointer(
        f"s3://{MODELS_BUCKET}/{artifact_key(version)}", version, previous, _digest(version)
    )


def _digest(version: str) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    try:
        body = s3.get_object(Bucket=MODELS_BUCKET, Key=artifact_key(version))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return ""
    return pointer_digest(body)


def test_a_version_worse_than_the_live_one_is_refused_unless_forced(
    deployment: Deployment, upload: Upload
) -> None:
    # Given v1 live, and v2 6.8 pp worse on a set both were evaluated on
    upload("v1", {"real-photos": 0.880, "test": 0.95})
    upload("v2", {"real-photos": 0.812, "test": 0.96})
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
    assert forced.pointer == _pointer("v2", previous=_pointer("v1"))
    assert forced.comparison is not None and not forced.comparison.passed


def test_a_wider_margin_or_a_better_version_is_promoted(
    deployment: Deployment, upload: Upload
) -> None:
    # Given v1 live and v2 worse by 6.8 pp, v3 better
    upload("v1", {"real-photos": 0.880})
    upload("v2", {"real-photos": 0.812})
    upload("v3", {"real-photos": 0.900})
    promote(deployment, "v1")
    # Then a 7 pp margin lets v2 through, and v3 passes on its own
    assert promote(deployment, "v2", max_regression_pp=7.0).pointer.version == "v2"
    promotion = promote(deployment, "v3")
    assert promotion.comparison is not None
    assert [row.status for row in promotion.comparison.rows] == ["better"]


def test_an_unreadable_live_model_blocks_promotion_unless_forced(
    deployment: Deployment, upload: Upload
) -> None:
    # Given a pointer to a version whose artifact is gone
    upload("v2", {"real-photos": 0.9})
    deployment.client("ssm").put_parameter(
        Name=POINTER, Value=_pointer("v1").to_json(), Type="String"
    )
    # Then promotion is refused rather than skipping the comparison, unless forced
    with pytest.raises(CliError, match="cannot be compared with it; use --force"):
        promote(deployment, "v2")
    forced = promote(deployment, "v2", force=True)
    assert forced.comparison is None
    # And the version that is gone is not kept as previous
    assert forced.pointer == _pointer("v2")


def test_promote_and_rollback_take_the_same_options() -> None:
    parser = build_parser()
    args = parser.parse_args(["model", "promote", "v2", "--max-regression-pp", "2.5"])
    assert (args.version, args.max_regression_pp, args.force) == ("v2", 2.5, False)
    assert parser.parse_args(["model", "promote", "v2"]).max_regression_pp == 1.0
    assert parser.parse_args(["model", "promote", "v2", "--allow-legacy"]).allow_legacy
    with pytest.raises(SystemExit):
        parser.parse_args(["model", "promote", "v2", "--max-regression-pp", "-1"])
    back = parser.parse_args(["model", "rollback", "--force", "--allow-legacy"])
    assert (back.model_command, back.force, back.allow_legacy) == ("rollback", True, True)


def test_a_hierarchy_missing_or_not_matching_the_model_is_refused_even_forced(
    deployment: Deployment, tmp_path: Path
) -> None:
    # Given a generic model whose model.json names hierarchy test-1, uploaded as g1 without
    # its hierarchy.json, and as g2 with one that covers fewer classes than model.json says
    hierarchy = LabelHierarchy.from_dict(SMALL_HIERARCHY)
    ref = HierarchyRef.of(hierarchy)
    for version, classes in (("g1", ref.classes), ("g2", ref.classes + 5)):
        metadata = ModelMetadata(
            version=version,
            input=InputSpec(height=8, width=8),
            labels=(),
            output=OutputSpec(OUTPUT_GENERIC, sources=classes),
            hierarchy=replace(ref, classes=classes),
            gate={"passed": True},
        )
        directory = write_artifact_dir(tmp_path / version, b"tflite", metadata, hierarchy)
        if version == "g1":
            (directory / "hierarchy.json").unlink()
        tarball = _tar(directory, tmp_path / f"{version}.tar.gz")
        deployment.client("s3").upload_file(str(tarball), MODELS_BUCKET, artifact_key(version))
    # When each is promoted, forced or not, then it is refused in one line and nothing is live
    for force in (False, True):
        with pytest.raises(CliError) as missing:
            promote(deployment, "g1", force=force)
        assert str(missing.value) == (
            "model version 'g1' cannot go live: hierarchy.json is listed in model.json but not "
            "in the artifact"
        )
        with pytest.raises(CliError, match=r"^model version 'g2' cannot go live: .*\d") as other:
            promote(deployment, "g2", force=force)
        assert "\n" not in str(other.value)
    assert _live_version(deployment) is None


def test_a_corrupt_model_never_goes_live_even_forced(
    deployment: Deployment, upload: Upload
) -> None:
    # Given a good model live, and broken-1: a passing model.json with only the version
    # changed, and 4 KB of random bytes as model.tflite
    upload("v1", {"real-photos": 0.88})
    promote(deployment, "v1")
    before = live_pointer(deployment)
    upload("broken-1", {"real-photos": 0.95}, edit=_random_model)
    # When it is promoted, forced or not, then it is refused in one line
    for force in (False, True):
        with pytest.raises(CliError) as refused:
            promote(deployment, "broken-1", force=force)
        message = str(refused.value)
        assert message.startswith(
            "model version 'broken-1' cannot go live: model.tflite does not match model.json"
        )
        assert "\n" not in message
    # And the pointer is unchanged
    assert live_pointer(deployment) == before


def test_an_artifact_under_another_version_or_a_version_no_model_may_have_is_refused(
    deployment: Deployment, upload: Upload
) -> None:
    # Given v1's artifact copied to the key of v2 (its model.json still says v1), which the
    # function would refuse to load
    tarball = upload("v1")
    s3 = deployment.client("s3")
    s3.upload_file(str(tarball), MODELS_BUCKET, artifact_key("v2"))
    # Then promoting it as v2 is refused in one line, even forced
    with pytest.raises(CliError) as refused:
        promote(deployment, "v2", force=True)
    assert str(refused.value) == (
        "model version 'v2' cannot go live: its model.json says version 'v1' (upload it under "
        "that version, or rebuild it)"
    )
    # And so is a version that would name a folder above the function's model cache
    s3.upload_file(str(tarball), MODELS_BUCKET, "models/../model.tar.gz")
    for version in ("..", "."):
        with pytest.raises(CliError, match=rf"^model version '{version}' cannot go live: it "):
            promote(deployment, version, force=True)
    assert _live_version(deployment) is None


def test_a_gate_that_says_passed_in_anything_but_true_has_not_passed(
    deployment: Deployment, upload: Upload
) -> None:
    # Given a model.json whose gate says "false", a string (truthy)
    def stringly(directory: Path, metadata: dict[str, Any]) -> None:
        metadata["gate"] = {"passed": "false", "reasons": ["hand-edited"]}

    upload("v1", edit=stringly)
    # Then it is a failed gate: refused unless forced, and listed as failed
    with pytest.raises(CliError, match="failed its quality gate"):
        promote(deployment, "v1")
    assert promote(deployment, "v1", force=True).pointer.version == "v1"


def test_a_model_that_cannot_load_is_refused_even_with_matching_digests(
    deployment: Deployment, upload: Upload
) -> None:
    # Given random bytes as model.tflite, their digest recorded in model.json
    def random_redigested(directory: Path, metadata: dict[str, Any]) -> None:
        _random_model(directory, metadata)
        _redigest(directory, metadata, "model.tflite")

    upload("broken-2", edit=random_redigested)
    # Then loading it fails, in one line, forced or not
    with pytest.raises(CliError, match=r"^model version 'broken-2' cannot go live: model "):
        promote(deployment, "broken-2", force=True)
    assert _live_version(deployment) is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d, m: m["files"].update({"/etc/hostname": m["files"]["labels.json"]}),
            "model.json is malformed: files names '/etc/hostname', which is no artifact file",
        ),
        (
            lambda d, m: m.update({"labels": ["red", "g" * 300]}),
            "is 300 bytes, over 256",
        ),
    ],
)
def test_a_model_json_naming_files_outside_it_or_labels_no_index_holds_is_refused(
    deployment: Deployment, upload: Upload, edit: Edit, message: str
) -> None:
    upload("v1", edit=edit)
    with pytest.raises(CliError, match=re.escape(message)):
        promote(deployment, "v1", force=True)
    assert _live_version(deployment) is None


def test_a_file_that_does_not_match_its_digest_is_refused(
    deployment: Deployment, upload: Upload
) -> None:
    # Given an artifact whose labels.json was changed after its digest was recorded
    def relabelled(directory: Path, metadata: dict[str, Any]) -> None:
        (directory / "labels.json").write_text(json.dumps(metadata["labels"]))

    upload("v1", edit=relabelled)
    # Then it is refused, naming the file, even forced
    with pytest.raises(CliError) as refused:
        promote(deployment, "v1", force=True)
    assert str(refused.value).startswith(
        "model version 'v1' cannot go live: labels.json does not match model.json: sha256 "
    )
    assert _live_version(deployment) is None


def test_a_model_whose_probe_answers_differ_from_export_is_refused(
    deployment: Deployment, upload: Upload
) -> None:
    # Given labels swapped in model.json and labels.json (labels.json's digest recomputed):
    # the same outputs now mean other labels
    def swapped(directory: Path, metadata: dict[str, Any]) -> None:
        labels = metadata["labels"]
        metadata["labels"] = [labels[1], labels[0], labels[2]]
        (directory / "labels.json").write_text(json.dumps(metadata["labels"]))
        _redigest(directory, metadata, "labels.json")

    upload("v1", edit=swapped)
    # Then the probe run refuses it, forced or not
    with pytest.raises(CliError, match=r"labels probe image \d of 4 '\w+', but it was '\w+'"):
        promote(deployment, "v1", force=True)
    assert _live_version(deployment) is None


def test_an_artifact_made_before_digests_needs_allow_legacy_and_must_still_load(
    deployment: Deployment, upload: Upload
) -> None:
    # Given the tiny model as it was packed before digests and probes, and a legacy one whose
    # model.tflite is noise
    upload("old-1", edit=_legacy)

    def legacy_noise(directory: Path, metadata: dict[str, Any]) -> None:
        _legacy(directory, metadata)
        _random_model(directory, metadata)

    upload("old-2", edit=legacy_noise)
    # Then it is refused, forced or not, saying how to let it through
    for force in (False, True):
        with pytest.raises(CliError) as refused:
            promote(deployment, "old-1", force=force)
        assert str(refused.value) == (
            "model version 'old-1' cannot go live: model old-1 records no file digests (made "
            "before they were): rebuild it, or allow legacy artifacts (--allow-legacy)"
        )
    # And allowed, it goes live; the one that cannot load does not, even allowed and forced
    assert promote(deployment, "old-1", allow_legacy=True).pointer.version == "old-1"
    with pytest.raises(CliError, match="^model version 'old-2' cannot go live: model old-2 "):
        promote(deployment, "old-2", allow_legacy=True, force=True)
    assert _live_version(deployment) == "old-1"


def test_the_pointer_keeps_the_version_it_replaced_as_previous(
    deployment: Deployment, upload: Upload
) -> None:
    for version in ("v1", "v2", "v3"):
        upload(version, {"real-photos": 0.9})
    # When v1 then v2 are promoted, then v2's pointer keeps v1 (without v1's own previous)
    assert promote(deployment, "v1").pointer == _pointer("v1")
    assert promote(deployment, "v2").pointer == _pointer("v2", previous=_pointer("v1"))
    assert live_pointer(deployment) == _pointer("v2", previous=_pointer("v1"))
    # And promoting v2 again does not make it its own previous
    assert promote(deployment, "v2").pointer == _pointer("v2", previous=_pointer("v1"))
    # When v3 is promoted after v2's artifact stopped loading, then v1 stays previous
    upload("v2", {"real-photos": 0.9}, edit=_random_model)
    assert promote(deployment, "v3", force=True).pointer == _pointer("v3", _pointer("v1"))
    # And when v1 follows v3, which stopped loading too, v1 is not its own previous
    upload("v3", {"real-photos": 0.9}, edit=_random_model)
    assert promote(deployment, "v1", force=True).pointer == _pointer("v1")


def test_rollback_makes_the_previous_version_live_with_every_check(
    deployment: Deployment, upload: Upload
) -> None:
    # Given v1 then v2 promoted, v2 better on a shared set
    upload("v1", {"real-photos": 0.880})
    upload("v2", {"real-photos": 0.900})
    promote(deployment, "v1")
    promote(deployment, "v2")
    # When rolled back, then the champion comparison refuses v1, and forced it is live
    with pytest.raises(CliError, match="^model version 'v1' is worse than live model v2 on"):
        rollback(deployment)
    assert _live_version(deployment) == "v2"
    promotion = rollback(deployment, force=True)
    # And v2 becomes its previous, so a second rollback returns to v2
    assert live_pointer(deployment) == _pointer("v1", previous=_pointer("v2"))
    assert promotion.pointer == _pointer("v1", previous=_pointer("v2"))
    assert rollback(deployment).pointer == _pointer("v2", previous=_pointer("v1"))
    # And a previous that no longer loads is never made live, even forced
    upload("v1", {"real-photos": 0.880}, edit=_random_model)
    with pytest.raises(CliError, match="^model version 'v1' cannot go live: model.tflite "):
        rollback(deployment, force=True)
    assert _live_version(deployment) == "v2"


def test_bytes_replaced_after_promotion_are_neither_rolled_back_to_nor_compared_with(
    deployment: Deployment, upload: Upload
) -> None:
    # Given v1, then v2, promoted, so v2 is live with v1 as its previous
    upload("v1", {"real-photos": 0.88})
    upload("v2", {"real-photos": 0.90})
    promote(deployment, "v1")
    promote(deployment, "v2")
    # When v1's artifact is replaced out of band by another model.json (a valid model)
    upload("v1", {"real-photos": 0.99})
    # Then a rollback refuses it, even forced: they are not the bytes that were live (it put
    # the replacement live, whose comparison had read an unchecked model.json)
    for force in (False, True):
        with pytest.raises(CliError, match="^cannot roll back to 'v1': its artifact was replaced"):
            rollback(deployment, force=force)
    assert _live_version(deployment) == "v2"
    # And when the live v2's artifact is replaced too, a challenger is not compared with it
    upload("v2", {"real-photos": 0.10})
    upload("v3", {"real-photos": 0.50})
    with pytest.raises(CliError, match="^the live model's artifact was replaced after promotion"):
        promote(deployment, "v3")
    # And forced, v3 goes live, and the replaced v2 is not kept as its previous, nor v2's own
    # previous v1, replaced too: a fallback the function would refuse
    promotion = promote(deployment, "v3", force=True)
    assert promotion.pointer.previous is None


def test_the_live_models_labels_are_read_from_its_artifact(
    deployment: Deployment, upload: Upload
) -> None:
    assert live_labels(deployment) == ()  # nothing live
    upload("v1")
    promote(deployment, "v1")
    metadata = read_artifact_metadata(deployment, "v1")
    assert metadata is not None and live_labels(deployment) == tuple(metadata["labels"])


def test_rollback_without_a_previous_version_is_one_line(
    deployment: Deployment, upload: Upload
) -> None:
    with pytest.raises(CliError, match="^no model is promoted in environment 'test'"):
        rollback(deployment)
    # A pointer no function can read is said to be one (it was "no model is promoted")
    deployment.client("ssm").put_parameter(Name=POINTER, Value="not json", Type="String")
    with pytest.raises(CliError, match=f"^the model pointer {POINTER} is malformed \\("):
        rollback(deployment)
    deployment.client("ssm").delete_parameter(Name=POINTER)
    upload("v1")
    promote(deployment, "v1")
    with pytest.raises(CliError) as refused:
        rollback(deployment, force=True)
    assert str(refused.value) == (
        "model v1 is live in 'test' with no previous version to roll back to; promote one by "
        "name (see `imgclf model list`)"
    )
    assert live_pointer(deployment) == _pointer("v1")


def test_the_cli_refuses_a_corrupt_model_in_one_line_with_a_non_zero_exit(
    deployment: Deployment,
    upload: Upload,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the CLI pointed at the moto environment, a good model live and broken-1
    upload("v1")
    promote(deployment, "v1")
    upload("broken-1", edit=_random_model)
    monkeypatch.setattr("imgclf.commands.resolve", lambda env: deployment)
    # When `imgclf model promote broken-1 --force` runs, then it exits non-zero, one line
    capsys.readouterr()
    assert main(["model", "promote", "broken-1", "--force"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("imgclf: error: model version 'broken-1' cannot go live: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # And `imgclf model rollback` with nothing before v1 is one line too
    assert main(["model", "rollback"]) != 0
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert _live_version(deployment) == "v1"


def _failed_gate(directory: Path, metadata: dict[str, Any]) -> None:
    metadata["gate"] = {"passed": False, "reasons": ["int8 accuracy 75.00% is below 80.00%"]}


def _no_gate(directory: Path, metadata: dict[str, Any]) -> None:
    """A model.json with its failed gate deleted: it went live unforced."""
    del metadata["gate"]


@pytest.mark.parametrize(
    ("edit", "note"),
    [
        (_legacy, "made before file digests; rebuild it"),
        # A few photos per label often fail the gate: `imgclf train` keeps such a model
        # without promoting it, and local up made it live with --force
        (
            _failed_gate,
            "model version 'tiny-newer' failed its quality gate (int8 accuracy 75.00% is below "
            "80.00%); use --force to promote it anyway",
        ),
        (
            _no_gate,
            "model version 'tiny-newer' records no quality gate verdict; use --force to promote "
            "it anyway",
        ),
    ],
)
def test_local_seeding_skips_a_newer_cached_model_that_cannot_go_live(
    deployment: Deployment,
    upload: Upload,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Edit,
    note: str,
) -> None:
    # Given a home with a good cached model and, newer, one that cannot go live
    home = tmp_path / "home"
    for age, (version, change) in enumerate((("tiny-v1", None), ("tiny-newer", edit))):
        cached = home / "models" / version
        cached.mkdir(parents=True)
        (cached / "model.tar.gz").write_bytes(upload(version, edit=change).read_bytes())
        (cached / "VERSION").write_text(f"{version}\n")
        os.utime(cached / "model.tar.gz", (1_000_000 + age, 1_000_000 + age))
    # When the local environment is seeded, then the newer one is skipped with a note
    capsys.readouterr()
    assert seed_models(deployment, home) == "tiny-v1"
    assert capsys.readouterr().err.strip() == f"skipping cached model tiny-newer: {note}"
    assert live_pointer(deployment) == _pointer("tiny-v1")


def test_local_seeding_makes_the_version_promoted_there_last_live_again(
    deployment: Deployment, upload: Upload, tmp_path: Path
) -> None:
    # Given a home with two cached models, and the older one promoted there last: a model
    # built afterwards (a day-0 one under review, say) was never promoted
    home = tmp_path / "home"
    for age, version in enumerate(("tiny-v1", "tiny-newer")):
        cached = home / "models" / version
        cached.mkdir(parents=True)
        (cached / "model.tar.gz").write_bytes(upload(version).read_bytes())
        (cached / "VERSION").write_text(f"{version}\n")
        os.utime(cached / "model.tar.gz", (1_000_000 + age, 1_000_000 + age))
    promote(replace(deployment, home=home), "tiny-v1")
    # When the local environment is seeded afresh, then the promoted one is live again
    assert seed_models(deployment, home) == "tiny-v1"
    assert live_pointer(deployment) == _pointer("tiny-v1")
    # And with nothing remembered, the newest is
    (home / "local" / "promoted").unlink()
    assert seed_models(deployment, home) == "tiny-newer"
    # And a promotion outside a `local up` home (the demo's, a stack's) is not remembered
    promote(deployment, "tiny-v1")
    assert not (home / "local" / "promoted").exists()


def _stored(deployment: Deployment, version: str) -> bytes:
    body: bytes = (
        deployment.client("s3")
        .get_object(Bucket=MODELS_BUCKET, Key=artifact_key(version))["Body"]
        .read()
    )
    return body


def _other_labels(directory: Path, metadata: dict[str, Any]) -> None:
    metadata["calibration"] = {"method": "temperature", "temperature": 2.0}


def _new_weights(directory: Path, metadata: dict[str, Any]) -> None:
    (directory / "model.tflite").write_bytes(os.urandom(4096))
    _redigest(directory, metadata, "model.tflite")


def _rebuilt(directory: Path, metadata: dict[str, Any]) -> None:
    """The same model as `upload` packs it, built again: another time stamp and build time."""
    metadata["gate"] = {"passed": True}
    metadata["created_at"] = "2031-01-01T00:00:00+00:00"
    metadata["metrics"]["wall_seconds"] = 999.9


@pytest.mark.parametrize(
    ("edit", "named"), [(_new_weights, "model.tflite differ"), (_other_labels, "model.json differ")]
)
def test_an_uploaded_version_never_changes(
    deployment: Deployment,
    upload: Upload,
    tiny_model_dir: Path,
    tmp_path: Path,
    edit: Edit,
    named: str,
) -> None:
    # Given v1 uploaded and live, and another model packed under the same version
    first = upload("v1")
    promote(deployment, "v1")
    other = _packed(tiny_model_dir, "v1", tmp_path / "other", edit)
    # When it is uploaded, then it is refused in one line that names what differs
    with pytest.raises(CliError) as refused:
        upload_artifact(deployment, other, "v1")
    message = str(refused.value)
    assert message.startswith(f"model version 'v1' is already in s3://{MODELS_BUCKET}/")
    assert named in message and "choose a new --version" in message and "\n" not in message
    # And the live version's artifact is the one that was checked when it went live
    assert _stored(deployment, "v1") == first.read_bytes()
    assert _live_version(deployment) == "v1"


def test_the_same_model_uploaded_again_is_left_as_it_is(
    deployment: Deployment, upload: Upload, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given v1 uploaded, and the same model rebuilt (another time stamp and build time)
    first = upload("v1")
    again = _packed(tiny_model_dir, "v1", tmp_path / "again", _rebuilt)
    assert again.read_bytes() != first.read_bytes()
    # When it is uploaded, then that succeeds, says so, and the stored artifact is untouched
    repeated = upload_artifact(deployment, again, "v1")
    assert repeated.uri == f"s3://{MODELS_BUCKET}/{artifact_key('v1')}" and repeated.already_there
    assert repeated.outcome().startswith("was already in s3://")
    assert _stored(deployment, "v1") == first.read_bytes()
    # And a version not taken yet is uploaded, and says so
    fresh = upload_artifact(
        deployment, _packed(tiny_model_dir, "v2", tmp_path / "v2", _rebuilt), "v2"
    )
    assert not fresh.already_there and fresh.outcome().startswith("uploaded to s3://")
    assert _stored(deployment, "v1") == first.read_bytes()


def _packed(source: Path, version: str, directory: Path, edit: Edit) -> Path:
    """The real tiny model under `version`, `edit`ed and packed, not uploaded."""
    tarball = reversioned(source, version, directory / version)
    metadata = json.loads((directory / version / "model.json").read_text())
    edit(directory / version, metadata)
    (directory / version / "model.json").write_text(json.dumps(metadata))
    return _tar(directory / version, tarball)


@pytest.mark.parametrize(
    ("command", "module"),
    [
        (["train", "--dataset", "emoji", "--epochs", "1"], "imgclf.trainer"),
        (["model", "day0", "--labels", "cat,dog"], "imgclf.model_day0"),
        (["model", "generic"], "imgclf.model_generic"),
    ],
)
def test_a_taken_version_is_refused_before_any_work(
    deployment: Deployment,
    upload: Upload,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: list[str],
    module: str,
) -> None:
    # Given v1 in the models bucket
    upload("v1")
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(f"{module}.resolve", lambda env: deployment)
    # When a command that builds a model is given --version v1, then it stops at once, one line
    capsys.readouterr()
    assert main([*command, "--version", "v1"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("imgclf: error: model version 'v1' is already in s3://")
    assert "choose a new --version" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "models" / "v1").exists()  # nothing was built


def test_local_seeding_skips_a_second_cached_build_of_one_version(
    deployment: Deployment, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a home with two cached builds named v1, different models, the second newer
    home = tmp_path / "home"
    for age, (folder, edit) in enumerate((("models/v1", _rebuilt), ("cache/v1", _new_weights))):
        cached = home / folder
        cached.mkdir(parents=True)
        packed = _packed(tiny_model_dir, "v1", tmp_path / folder.replace("/", "-"), edit)
        (cached / "model.tar.gz").write_bytes(packed.read_bytes())
        (cached / "VERSION").write_text("v1\n")
        os.utime(cached / "model.tar.gz", (1_000_000 + age, 1_000_000 + age))
    # When the local environment is seeded, then the first stays and the second is skipped
    capsys.readouterr()
    assert seed_models(deployment, home) == "v1"
    err = capsys.readouterr().err.strip()
    assert err.startswith("skipping cached model v1: model version 'v1' is already in s3://")
    assert _stored(deployment, "v1") == (home / "models/v1/model.tar.gz").read_bytes()


def test_a_pointer_records_the_checked_model_json_and_a_legacy_live_one_gets_it_as_previous(
    deployment: Deployment, upload: Upload
) -> None:
    # Given v1 live through a pointer written before digests, and v2 uploaded
    upload("v1")
    upload("v2")
    legacy = ModelPointer(f"s3://{MODELS_BUCKET}/{artifact_key('v1')}", "v1")
    deployment.client("ssm").put_parameter(Name=POINTER, Value=legacy.to_json(), Type="String")
    # When v2 is promoted
    pointer = promote(deployment, "v2", force=True).pointer
    # Then the pointer records v2's model.json digest, and v1's as read when it was checked
    assert pointer.digest == _digest("v2") and len(pointer.digest) == 64
    assert pointer.previous is not None and pointer.previous.digest == _digest("v1")
    assert json.loads(live_pointer_json(deployment))["digest"] == pointer.digest


def live_pointer_json(deployment: Deployment) -> str:
    value: str = deployment.client("ssm").get_parameter(Name=POINTER)["Parameter"]["Value"]
    return value
