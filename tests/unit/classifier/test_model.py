"""model: real LiteRT inference on the tiny int8 model, quantization, the pointer cache."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from classifier.artifact import ArtifactError, Calibration, ModelMetadata, OutputSpec, UnknownRule
from classifier.contracts import ModelPointer
from classifier.imaging import InputSpec
from classifier.model import (
    Decider,
    LoadedModel,
    ModelUnavailableError,
    calibrate,
    dequantize,
    group_matrix,
    mixture,
    output_decoder,
    quantize,
    softmax,
)
from classifier.model_store import ModelStore

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def solid(colour: tuple[int, int, int]) -> np.ndarray:
    return np.full((32, 32, 3), colour, np.uint8)


def test_tiny_model_labels_colours_with_confidence(tiny_model_dir: Path) -> None:
    model = LoadedModel.from_directory(tiny_model_dir)
    for label, colour in COLOURS.items():
        top = model.predict(solid(colour), top_k=3)
        assert top[0].label == label and top[0].confidence > 0.8
        assert [p.confidence for p in top] == sorted((p.confidence for p in top), reverse=True)
        assert sum(p.confidence for p in top) == pytest.approx(1.0, abs=0.02)


def test_top_k_is_capped_by_the_number_of_labels(tiny_model_dir: Path) -> None:
    assert len(LoadedModel.from_directory(tiny_model_dir).predict(solid((0, 0, 0)), top_k=10)) == 3


def test_quantize_uses_the_models_scale_and_zero_point() -> None:
    details = {"dtype": np.int8, "quantization": (1.0, -128)}  # what the converter picks for 0..255
    assert quantize(np.array([0.0, 100.0, 255.0]), details).tolist() == [-128, -28, 127]
    # uint8 pixels, the function's input, take the bit-flip path: the same values, every one
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    assert np.array_equal(quantize(pixels, details), quantize(pixels.astype(np.float32), details))
    halved = {"dtype": np.int8, "quantization": (2.0, 0)}
    assert quantize(np.array([0.0, 100.0, 255.0]), halved).tolist() == [0, 50, 127]
    uint8 = {"dtype": np.uint8, "quantization": (1.0, 0)}
    assert quantize(np.array([0, 300]), uint8).tolist() == [0, 255]  # clipped, not wrapped
    assert dequantize(
        np.array([-128, 127], np.int8), {"quantization": (1 / 256, -128)}
    ).tolist() == [0.0, pytest.approx(0.99609375)]


def tarball(directory: Path, **replace: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in directory.iterdir():
            data = replace.get(path.name, path.read_bytes())
            info = tarfile.TarInfo(path.name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def store(
    tmp_path: Path, pointers: list[ModelPointer], artifacts: dict[str, bytes], clock: FakeClock
) -> tuple[ModelStore, list[str]]:
    fetched: list[str] = []

    def fetch(uri: str) -> bytes:
        fetched.append(uri)
        return artifacts[uri]

    return ModelStore(
        read_pointer=lambda: pointers[-1],
        fetch_artifact=fetch,
        cache_dir=tmp_path / "cache",
        refresh_seconds=60,
        clock=clock,
    ), fetched


def with_version(directory: Path, version: str) -> bytes:
    metadata = json.loads((directory / "model.json").read_text())
    metadata["version"] = version
    return tarball(directory, **{"model.json": json.dumps(metadata).encode()})


def test_pointer_is_reread_at_most_every_60_seconds_and_each_version_loads_once(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    artifacts = {
        "s3://m/v1": with_version(tiny_model_dir, "v1"),
        "s3://m/v2": with_version(tiny_model_dir, "v2"),
    }
    pointers = [ModelPointer("s3://m/v1", "v1")]
    clock = FakeClock()
    models, fetched = store(tmp_path, pointers, artifacts, clock)
    assert models.current().version == "v1"
    assert models.take_load_ms() is not None and models.take_load_ms() is None  # reported once

    pointers.append(ModelPointer("s3://m/v2", "v2"))  # promote
    clock.now = 59
    assert models.current().version == "v1"  # still cached
    clock.now = 61
    assert models.current().version == "v2"  # live within a minute
    clock.now = 200
    assert models.current().version == "v2"
    assert fetched == ["s3://m/v1", "s3://m/v2"]


def test_cached_artifact_on_disk_is_not_downloaded_again(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    artifacts = {"s3://m/v1": with_version(tiny_model_dir, "v1")}
    pointers = [ModelPointer("s3://m/v1", "v1")]
    store(tmp_path, pointers, artifacts, FakeClock())[0].current()
    second, fetched = store(tmp_path, pointers, artifacts, FakeClock())  # a new process
    assert second.current().version == "v1" and fetched == []


def test_stores_sharing_a_cache_keep_the_copy_published_first(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given two stores on one cache directory (two local workers; on Lambda /tmp is not
    # shared), where the first publishes the version while the second is downloading it
    artifact = with_version(tiny_model_dir, "v1")
    pointers = [ModelPointer("s3://m/v1", "v1")]
    first, _ = store(tmp_path, pointers, {"s3://m/v1": artifact}, FakeClock())

    def fetch_while_the_first_publishes(uri: str) -> bytes:
        first.current()
        (tmp_path / "cache" / "v1" / "in-use").touch()  # the first's copy, being read
        return artifact

    second = ModelStore(
        read_pointer=lambda: pointers[-1],
        fetch_artifact=fetch_while_the_first_publishes,
        cache_dir=tmp_path / "cache",
        clock=FakeClock(),
    )
    # When the second publishes too, onto the first's complete copy
    model = second.current()
    # Then it loads the first's copy, which it never removed, and leaves no partial directory
    assert model.version == "v1" and (tmp_path / "cache" / "v1" / "in-use").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["v1"]


def test_a_directory_without_its_model_file_is_replaced(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given a directory named after the version that holds no model (an older layout)
    (tmp_path / "cache" / "v1").mkdir(parents=True)
    (tmp_path / "cache" / "v1" / "stale.txt").write_text("left over")
    artifacts = {"s3://m/v1": with_version(tiny_model_dir, "v1")}
    models, fetched = store(tmp_path, [ModelPointer("s3://m/v1", "v1")], artifacts, FakeClock())
    # When the store loads that version, then it downloads and replaces the directory
    assert models.current().version == "v1" and fetched == ["s3://m/v1"]
    assert not (tmp_path / "cache" / "v1" / "stale.txt").exists()


def test_many_stores_loading_one_version_at_once_all_succeed(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    artifacts = {"s3://m/v1": with_version(tiny_model_dir, "v1")}
    pointers = [ModelPointer("s3://m/v1", "v1")]
    stores = [store(tmp_path, pointers, artifacts, FakeClock())[0] for _ in range(8)]
    start = threading.Barrier(len(stores))

    def load(models: ModelStore) -> str:
        start.wait()
        return models.current().version

    with ThreadPoolExecutor(len(stores)) as pool:
        assert list(pool.map(load, stores)) == ["v1"] * len(stores)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["v1"]


@pytest.mark.parametrize(
    ("artifact", "message"),
    [
        (b"not a tarball", "not a readable model.tar.gz"),
        ("missing-labels", "artifact has no labels.json"),
        ("corrupt-tflite", "corrupt"),
        ("wrong-version", "pointer names version v1 but its model.json says other"),
    ],
)
def test_missing_or_corrupt_model_is_a_loud_transient_error(
    tiny_model_dir: Path, tmp_path: Path, artifact: Any, message: str
) -> None:
    if artifact == "missing-labels":
        partial = tmp_path / "partial"
        shutil.copytree(tiny_model_dir, partial)
        (partial / "labels.json").unlink()
        artifact = tarball(partial)
    elif artifact == "corrupt-tflite":
        artifact = tarball(tiny_model_dir, **{"model.tflite": b"\x00" * 64})
    elif artifact == "wrong-version":
        artifact = with_version(tiny_model_dir, "other")
    models, _ = store(
        tmp_path, [ModelPointer("s3://m/v1", "v1")], {"s3://m/v1": artifact}, FakeClock()
    )
    with pytest.raises(ModelUnavailableError, match=message):
        models.current()


def test_malformed_pointer_is_a_transient_error(tmp_path: Path) -> None:
    def bad_pointer() -> ModelPointer:
        return ModelPointer.from_json('{"uri": ""}')

    models = ModelStore(
        read_pointer=bad_pointer,
        fetch_artifact=lambda uri: b"",
        cache_dir=tmp_path,
        clock=FakeClock(),
    )
    with pytest.raises(ModelUnavailableError, match="model pointer is malformed"):
        models.current()


@pytest.mark.parametrize("version", ["..", ".", "a/b"])
def test_a_pointer_naming_a_version_no_model_may_have_is_malformed_and_touches_no_folder(
    tmp_path: Path, version: str
) -> None:
    # Given a model cache inside a folder that holds something else
    (tmp_path / "keep.txt").write_text("x")
    cache = tmp_path / "cache"
    cache.mkdir()
    pointer = json.dumps({"uri": "s3://models/models/x/model.tar.gz", "version": version})
    models = ModelStore(
        read_pointer=lambda: ModelPointer.from_json(pointer),
        fetch_artifact=lambda uri: b"",
        cache_dir=cache,
        clock=FakeClock(),
    )
    # Then the pointer is malformed (a transient error), and both folders are untouched
    with pytest.raises(ModelUnavailableError, match="model pointer is malformed"):
        models.current()
    assert (tmp_path / "keep.txt").exists() and cache.is_dir()


def test_label_count_must_match_the_model_outputs(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    metadata = json.loads((broken / "model.json").read_text())
    metadata["labels"] = ["red", "green"]
    del metadata["files"]  # a hand-edited model.json, as before digests
    (broken / "model.json").write_text(json.dumps(metadata))
    (broken / "labels.json").write_text(json.dumps(["red", "green"]))
    with pytest.raises(ModelUnavailableError, match="3 outputs but 2 labels"):
        LoadedModel.from_directory(broken)


def grouped_copy(source: Path, target: Path, groups: list[list[int]], labels: list[str]) -> Path:
    """The tiny model re-labelled as a grouped-logits model (its 3 outputs, `labels` groups)."""
    shutil.copytree(source, target)
    metadata = json.loads((target / "model.json").read_text())
    metadata["labels"] = labels
    metadata["output"] = {"kind": "grouped_logits", "groups": groups}
    del metadata["files"]  # hand-edited, as before digests
    (target / "model.json").write_text(json.dumps(metadata))
    (target / "labels.json").write_text(json.dumps(labels))
    return target


def test_a_grouped_model_gives_each_label_its_groups_softmax_mass(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # Given the tiny red/green/blue model read as two labels: warm = {red}, cool = {green, blue}
    model = LoadedModel.from_directory(
        grouped_copy(tiny_model_dir, tmp_path / "grouped", [[0], [1, 2]], ["warm", "cool"])
    )
    # When it classifies a blue and a red image
    blue = model.predict(solid((30, 40, 220)), top_k=2)
    red = model.predict(solid((220, 30, 30)), top_k=2)
    # Then the groups decide the label, and the two masses add up to the whole softmax
    assert blue[0].label == "cool" and red[0].label == "warm"
    assert sum(p.confidence for p in blue) == pytest.approx(1.0, abs=1e-6)


def test_summing_in_float_keeps_the_mass_that_int8_probabilities_round_away() -> None:
    # Given 1,000 logits where one label owns 300 classes each with a small probability
    logits = np.zeros(1000)
    logits[0] = 4.0  # the single most likely class belongs to the other label
    groups = ((0,), tuple(range(1, 301)))
    metadata = ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=("single", "many"),
        output=OutputSpec("grouped_logits", groups),
    )
    matrix = group_matrix(metadata, 1000)
    assert matrix is not None
    # When the group mass is summed in float, as the function does
    mass = matrix @ softmax(logits)
    # Then the many small probabilities win, while int8 softmax outputs (1/256 steps) lose them
    probabilities = softmax(logits)
    as_int8 = np.round(probabilities * 256) / 256
    assert mass[1] > mass[0]
    assert as_int8[list(groups[1])].sum() < as_int8[0]


def test_output_groups_must_name_outputs_the_model_has(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    directory = grouped_copy(tiny_model_dir, tmp_path / "bad", [[0], [1, 7]], ["a", "b"])
    with pytest.raises(ModelUnavailableError, match="beyond 3"):
        LoadedModel.from_directory(directory)


def mixture_metadata(
    groups: tuple[tuple[int, ...], ...], sources: int, power: float
) -> ModelMetadata:
    return ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=tuple(f"label{i}" for i in range(len(groups))),
        output=OutputSpec("imagenet_mixture", groups, sources=sources, power=power),
    )


def test_a_mixture_lets_the_source_classifier_decide_what_it_recognises() -> None:
    # Given 6 source classes (labels own 0-1 and 2-3; 4-5 are nobody's) and a 2-label head
    decode = output_decoder(mixture_metadata(((0, 1), (2, 3)), sources=6, power=1.0), 8)
    head_says_first = [4.0, 0.0]
    # When the source classifier puts nearly all its mass on label1's classes (a photo)
    photo = decode(np.array([0, 0, 9.0, 9.0, 0, 0, *head_says_first]))
    # Then label1 wins against a confident head, and the probabilities sum to 1
    assert photo.argmax() == 1 and photo.sum() == pytest.approx(1.0)
    # When its mass is mostly on nobody's classes (a drawing it does not recognise)
    drawing = decode(np.array([0, 0, 1.0, 0, 9.0, 9.0, *head_says_first]))
    # Then the head decides
    assert drawing.argmax() == 0 and drawing.sum() == pytest.approx(1.0)


def test_mixture_weight_is_the_mapped_mass_to_the_power() -> None:
    grouped = np.array([0.3, 0.1])  # mass 0.4, shares 0.75 / 0.25
    head = np.array([0.0, 1.0])
    for power in (1.0, 2.0):
        weight = 0.4**power
        expected = weight * np.array([0.75, 0.25]) + (1 - weight) * head
        assert mixture(grouped, head, power) == pytest.approx(expected)
    # no mapped mass at all: the head alone, no division by zero
    assert mixture(np.zeros(2), head, 2.0) == pytest.approx(head)


def test_a_mixture_model_must_have_sources_plus_labels_outputs() -> None:
    with pytest.raises(ModelUnavailableError, match="not 6 source logits and 2 head logits"):
        output_decoder(mixture_metadata(((0, 1), (2, 3)), sources=6, power=1.0), 7)


def test_a_mixture_spec_round_trips_through_model_json() -> None:
    metadata = mixture_metadata(((0, 1), (2, 3)), sources=6, power=2.0)
    again = ModelMetadata.from_dict(json.loads(json.dumps(metadata.to_dict())))
    assert again.output == metadata.output
    with pytest.raises(ValueError, match="sources > 0"):
        OutputSpec("imagenet_mixture", ((0,),), sources=0)


def decided_metadata(
    *,
    temperature: float = 1.0,
    max_other: float | None = None,
    min_conf: float | None = None,
    domain: tuple[tuple[int, int], ...] = (),
) -> ModelMetadata:
    return ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=("label0", "label1"),
        output=OutputSpec("grouped_logits", ((0, 1), (2, 3)), domain=domain),
        calibration=Calibration("temperature", temperature, {"ece_before": 0.2}),
        unknown=UnknownRule(max_other, min_conf, details={"chosen_by": "a test"}),
    )


def test_an_image_the_source_classifier_calls_something_else_is_unknown() -> None:
    # Given 6 source classes: 0-1 are label0's, 2-3 label1's, 4-5 nobody's
    decider = Decider(decided_metadata(max_other=0.5), 6)
    # When the source classifier is sure of class 5 (a giraffe, for an animals model)
    giraffe = decider.classification(np.array([0, 0, 1.0, 0, 0, 6.0]), top_k=2)
    # Then the image is unknown, with that class's probability as the evidence,
    # and the labels' own top-k are kept
    assert giraffe.unknown and giraffe.best.confidence == pytest.approx(giraffe.other)
    assert giraffe.other > 0.5
    assert [p.label for p in giraffe.top_k] == ["label1", "label0"]
    # When it is sure of label1's classes, the image is label1
    photo = decider.classification(np.array([0, 0, 6.0, 5.0, 0, 0]), top_k=2)
    assert photo.best.label == "label1" and not photo.unknown
    # And a batch decides the same way: -1 for unknown
    batch = np.array([[0, 0, 1.0, 0, 0, 6.0], [0, 0, 6.0, 5.0, 0, 0]])
    assert decider.label_ids(batch).tolist() == [-1, 1]


def test_only_the_domains_unowned_mass_is_evidence_of_something_else() -> None:
    # Given a domain of source classes 0-4 (class 5 is, say, a teapot for an animals model)
    decider = Decider(decided_metadata(max_other=0.5, domain=((0, 4),)), 6)
    # The mass spread over the unowned in-domain class counts, the out-of-domain one not
    assert decider.other(np.array([0, 0, 0, 0, 5.0, 0])) > 0.9
    assert decider.other(np.array([0, 0, 0, 0, 0, 5.0])) < 0.01
    # Without a domain, everything no label owns counts
    assert Decider(decided_metadata(), 6).other(np.array([0, 0, 0, 0, 0, 5.0])) > 0.9
    with pytest.raises(ModelUnavailableError, match="beyond 6"):
        Decider(decided_metadata(domain=((0, 6),)), 6)


def test_a_low_calibrated_confidence_is_unknown() -> None:
    decider = Decider(decided_metadata(min_conf=0.9), 6)
    unsure = decider.classification(np.array([1.0, 0, 1.2, 0, -9, -9]))
    assert unsure.unknown
    assert unsure.best.confidence == pytest.approx(1 - unsure.top_k[0].confidence)


def test_temperature_scaling_softens_without_changing_the_ranking() -> None:
    raw = np.array([3.0, 0, 1.0, 0, -9, -9])
    plain = Decider(decided_metadata(), 6).probabilities(raw)
    softened = Decider(decided_metadata(temperature=2.0), 6).probabilities(raw)
    assert softened.argmax() == plain.argmax()
    assert softened.max() < plain.max() and softened.sum() == pytest.approx(1.0)
    # p ** (1/T), renormalised
    expected = np.sqrt(plain) / np.sqrt(plain).sum()
    assert softened == pytest.approx(expected)
    assert calibrate(plain, 1.0) == pytest.approx(plain)


def test_plain_probabilities_have_no_other_evidence(tiny_model_dir: Path) -> None:
    model = LoadedModel.from_directory(tiny_model_dir)
    result = model.classify(solid((220, 30, 30)))
    assert result.other == 0.0 and result.best.label == "red"


def test_calibration_and_unknown_round_trip_through_model_json() -> None:
    metadata = decided_metadata(temperature=1.7, max_other=0.4, min_conf=0.3, domain=((0, 4),))
    again = ModelMetadata.from_dict(json.loads(json.dumps(metadata.to_dict())))
    assert again.calibration == metadata.calibration and again.unknown == metadata.unknown
    # Older model.json files have neither: used as decoded, never unknown
    data = metadata.to_dict()
    del data["calibration"], data["unknown"]
    old = ModelMetadata.from_dict(data)
    assert old.calibration.temperature == 1.0 and not old.unknown.active


def test_unknown_cannot_be_a_label() -> None:
    with pytest.raises(ArtifactError, match="'unknown' cannot be a label"):
        ModelMetadata(version="v", input=InputSpec(height=8, width=8), labels=("cat", "unknown"))
    # Nor can a label take the rejects' index value, or be blank
    for bad in ("!rejected", "!cat", ""):
        with pytest.raises(ArtifactError, match="reserved for the index|cannot be empty"):
            ModelMetadata(version="v", input=InputSpec(height=8, width=8), labels=("cat", bad))
    with pytest.raises(ValueError, match="within 0..1"):
        UnknownRule(max_other=1.5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Calibration("temperature", 0.0)


def test_a_heads_outside_output_is_evidence_where_the_source_classifier_is_unsure() -> None:
    # Given 6 source classes (labels own 0-1 and 2-3, domain 0-3: 4-5 are out of domain)
    # and a head with two label logits and one "none of the labels" logit
    metadata = ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=("label0", "label1"),
        output=OutputSpec(
            "imagenet_mixture",
            ((0, 1), (2, 3)),
            sources=6,
            power=1.0,
            domain=((0, 3),),
            head_outside=True,
        ),
    )
    decider = Decider(metadata, 9)
    head_says_outside = [0.0, 0.0, 6.0]
    # When the source classifier sees something out of its domain (a drawing) and the head
    # says "none of these", that is evidence of an image outside the labels
    drawing = np.array([0, 0, 0, 0, 9.0, 9.0, *head_says_outside])
    assert decider.other(drawing) > 0.9
    # and the labels keep only what the head gives them: no label is confident of it
    assert decider.probabilities(drawing).sum() == pytest.approx(
        softmax(np.array(head_says_outside))[:2].sum(), abs=1e-3
    )
    # When the source classifier is sure of label1's classes, the head's outside barely counts
    photo = np.array([0, 0, 9.0, 9.0, 0, 0, *head_says_outside])
    assert decider.other(photo) < 0.01 and decider.probabilities(photo).argmax() == 1
    with pytest.raises(ModelUnavailableError, match="not 6 source logits and 3 head logits"):
        Decider(metadata, 8)
    with pytest.raises(ValueError, match="only an imagenet_mixture head"):
        OutputSpec("grouped_logits", ((0,),), head_outside=True)
    again = ModelMetadata.from_dict(json.loads(json.dumps(metadata.to_dict())))
    assert again.output.head_outside and again.output.domain == ((0, 3),)


def test_a_mixture_label_imagenet_has_no_class_for_is_the_heads_alone() -> None:
    # Given labels "apple" (source classes 0-1) and "tree" (no source class)
    metadata = ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=("apple", "tree"),
        output=OutputSpec("imagenet_mixture", ((0, 1), ()), sources=4, power=1.0),
    )
    decider = Decider(metadata, 6)
    # When the source classifier is sure of an apple, the apple wins whatever the head says
    apple = np.array([9.0, 9.0, 0, 0, 0.0, 3.0])
    assert decider.probabilities(apple).argmax() == 0
    # When it sees neither label's classes, the head decides: a tree
    tree = np.array([0, 0, 9.0, 0, 0.0, 5.0])
    assert decider.probabilities(tree).argmax() == 1
    assert decider.probabilities(tree).sum() == pytest.approx(1.0)
    # A grouped (day-0) model still needs a class for every label, and a mixture one for some
    with pytest.raises(ValueError, match="non-empty group for every label"):
        OutputSpec("grouped_logits", ((0,), ()))
    with pytest.raises(ValueError, match="non-empty group for some label"):
        OutputSpec("imagenet_mixture", ((), ()), sources=4)


def test_model_json_is_read_straight_from_the_tarball(tmp_path: Path) -> None:
    from classifier.artifact_files import (
        metadata_in_tarball,
        pack_artifact,
        read_metadata,
        write_artifact_dir,
    )

    metadata = ModelMetadata(version="v7", input=InputSpec(height=8, width=8), labels=("a", "b"))
    directory = write_artifact_dir(tmp_path / "m", b"not a real model", metadata)
    tarball = pack_artifact(directory, tmp_path / "model.tar.gz")
    assert metadata_in_tarball(tarball.read_bytes()) == read_metadata(directory).to_dict()
    with pytest.raises(ArtifactError, match="not a readable model.tar.gz"):
        metadata_in_tarball(b"not a tarball")


def test_a_label_is_not_kept_against_a_heads_own_none_of_these() -> None:
    # Given a few-shot mixture (the fixed rule: unknown at evidence 0.9 unless a label
    # reaches 0.9), whose source classifier sees nothing of the labels' classes
    metadata = ModelMetadata(
        version="v",
        input=InputSpec(height=8, width=8),
        labels=("label0", "label1"),
        output=OutputSpec(
            "imagenet_mixture", ((0, 1), (2, 3)), sources=6, power=1.0, head_outside=True
        ),
        calibration=Calibration("temperature", 0.7),
        unknown=UnknownRule(max_other=0.9, keep_confidence=0.9),
    )
    decider = Decider(metadata, 9)
    elsewhere = [0, 0, 0, 0, 9.0, 9.0]
    # When its head says "none of these" and, among the labels, leans to label0: a banana
    # to a model of monuments was "monument 0.99" (the head's share among the labels)
    banana = decider.classification(np.array([*elsewhere, 5.0, 0.0, 9.0]))
    # Then it is unknown, at any temperature
    assert banana.unknown and banana.top_k[0].confidence < 0.1
    # When the head is sure of label0 (a tree ImageNet has no class for), the label is kept
    tree = decider.classification(np.array([*elsewhere, 9.0, 0.0, 0.0]))
    assert not tree.unknown and tree.best.label == "label0" and tree.best.confidence > 0.9


def test_calibration_scales_what_a_row_leaves_short_of_one_as_an_outcome() -> None:
    # "none of these" (0.5 here) is scaled with the labels and left out, never given to them
    row = np.array([0.4, 0.1])
    sharp = calibrate(row, 0.5)
    expected = np.array([0.16, 0.01]) / (0.16 + 0.01 + 0.25)
    assert sharp == pytest.approx(expected)
    assert calibrate(row, 1.0) == pytest.approx(row)
    # A row that is a distribution is p ** (1/T), renormalised
    assert calibrate(np.array([0.8, 0.2]), 0.5) == pytest.approx(np.array([0.64, 0.04]) / 0.68)
