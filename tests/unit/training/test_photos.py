"""The real-photograph manifest is well formed, and its bundle readers read what they should."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from training.datasets import packages, photo_manifest, photos
from training.datasets.animals10 import LABELS

# What the packages could honestly give (see training/datasets/PHOTOS.md). The floors stop
# the set from shrinking; a class below the brief's 6 is listed with the count it has.
MIN_PER_CLASS = 3
SHORT_CLASSES = {"spider": 0}
MIN_IMAGENET = 15
# Photos of animals outside the ten classes, for calibrating and measuring "unknown".
MIN_OUTSIDE = 45
MIN_OUTSIDE_ANIMALS = 15

Manifest = tuple[photo_manifest.Photo, ...]


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return photo_manifest.load_manifest()


def test_each_split_has_what_it_needs(manifest: Manifest) -> None:
    for photo in manifest:
        if photo.split in photo_manifest.SPLITS:
            assert photo.label in LABELS
        elif photo.split in photo_manifest.OUTSIDE_SPLITS:
            assert photo.animal and photo.label is None and not photo.imagenet
        else:
            assert photo.split == photo_manifest.IMAGENET_DIR
            assert photo.imagenet and all(0 <= i < 1000 for i in photo.imagenet)


def test_no_photo_is_listed_twice_in_one_set(manifest: Manifest) -> None:
    animals = [p.sha256 for p in manifest if p.split in photo_manifest.SPLITS]
    imagenet = [p.sha256 for p in manifest if p.split == photo_manifest.IMAGENET_DIR]
    assert len(animals) == len(set(animals))
    assert len(imagenet) == len(set(imagenet))


def test_counts_per_class_meet_the_floor(manifest: Manifest) -> None:
    counts = photo_manifest.class_counts(manifest)
    for label in LABELS:
        total = counts["train"][label] + counts["heldout"][label]
        if label in SHORT_CLASSES:
            assert total >= SHORT_CLASSES[label], label
            continue
        assert total >= MIN_PER_CLASS, label
        assert counts["train"][label] >= 1, f"{label} has no training photo"
        assert counts["heldout"][label] >= 1, f"{label} has no held-out photo"
        assert counts["heldout"][label] >= counts["train"][label], label
    assert sum(p.split == photo_manifest.IMAGENET_DIR for p in manifest) >= MIN_IMAGENET


def test_every_class_short_of_the_floor_is_declared(manifest: Manifest) -> None:
    counts = photo_manifest.class_counts(manifest)
    short = {
        label
        for label in LABELS
        if counts["train"][label] + counts["heldout"][label] < MIN_PER_CLASS
        or not counts["train"][label]
        or not counts["heldout"][label]
    }
    assert short == set(SHORT_CLASSES)


def test_a_source_never_straddles_the_split(manifest: Manifest) -> None:
    """The same file (by package path and member) is never in both train and heldout."""
    by_source: dict[tuple[str, str, str | None], set[str]] = {}
    for photo in manifest:
        if photo.split in photo_manifest.SPLITS:
            by_source.setdefault((photo.package, photo.path, photo.member), set()).add(photo.split)
    assert all(len(splits) == 1 for splits in by_source.values())


def test_the_set_comes_from_several_packages(manifest: Manifest) -> None:
    packages = {(p.kind, p.package) for p in manifest}
    assert len(packages) >= 5
    assert {kind for kind, _ in packages} == {"deb", "pypi"}


def test_outside_counts_meet_the_floor(manifest: Manifest) -> None:
    counts = photo_manifest.animal_counts(manifest)
    assert set(counts) == {"calibration", "heldout"}
    assert all(counts[folder] for folder in counts), "both outside splits need photos"
    total = sum(sum(animals.values()) for animals in counts.values())
    assert total >= MIN_OUTSIDE
    assert len(set(counts["calibration"]) | set(counts["heldout"])) >= MIN_OUTSIDE_ANIMALS
    # calibration should look like what it calibrates for: most of its animals recur held out
    shared = set(counts["calibration"]) & set(counts["heldout"])
    assert len(shared) >= len(counts["calibration"]) // 2


def test_no_photo_is_both_inside_and_outside(manifest: Manifest) -> None:
    inside = [p for p in manifest if p.split in photo_manifest.SPLITS]
    outside = [p for p in manifest if p.split in photo_manifest.OUTSIDE_SPLITS]
    assert not {p.sha256 for p in inside} & {p.sha256 for p in outside}
    assert not {(p.package, p.path, p.member) for p in inside} & {
        (p.package, p.path, p.member) for p in outside
    }
    assert all(p.animal not in photo_manifest.INSIDE_NAMES for p in outside)
    assert all(p.animal is None for p in manifest if p.split not in photo_manifest.OUTSIDE_SPLITS)


def test_an_outside_photo_is_in_one_split_only(manifest: Manifest) -> None:
    by_source: dict[tuple[str, str, str | None], set[str]] = {}
    for photo in manifest:
        if photo.split in photo_manifest.OUTSIDE_SPLITS:
            by_source.setdefault((photo.package, photo.path, photo.member), set()).add(photo.split)
    assert by_source and all(len(splits) == 1 for splits in by_source.values())


def test_outside_photos_are_laid_out_by_split(manifest: Manifest) -> None:
    photo = next(p for p in manifest if p.split == "outside-heldout")
    assert photo.relative_path() == Path("outside", "heldout", photo.name)
    photo = next(p for p in manifest if p.split == "outside-calibration")
    assert photo.relative_path() == Path("outside", "calibration", photo.name)


def _one_problem(photo: photo_manifest.Photo) -> str:
    problems = photo_manifest.manifest_problems([photo])
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    return problems[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"animal": None}, "an outside photo needs an animal"),
        ({"animal": "  "}, "an outside photo needs an animal"),
        ({"animal": "Giraffe"}, "must be lower case"),
        ({"animal": "dog"}, "'dog' is one of the ten Animals-10 classes"),
        ({"animal": "kitten"}, "'kitten' is one of the ten Animals-10 classes"),
        ({"animal": "hens"}, "'hens' is one of the ten Animals-10 classes"),
        ({"animal": "ragno"}, "'ragno' is one of the ten Animals-10 classes"),
        ({"label": "cat"}, "an outside photo has an animal, not a label"),
        ({"imagenet": (340,)}, "an outside photo has no ImageNet indices"),
        ({"split": "outside"}, "split 'outside' is not train, heldout, imagenet, outside-"),
    ],
)
def test_a_malformed_outside_entry_is_reported(
    manifest: Manifest, change: dict[str, object], expected: str
) -> None:
    outside = next(p for p in manifest if p.split in photo_manifest.OUTSIDE_SPLITS)
    assert photo_manifest.manifest_problems([outside]) == []
    problem = _one_problem(dataclasses.replace(outside, **change))  # type: ignore[arg-type]
    assert problem.startswith(f"{outside.name}: ") and expected in problem


def test_only_an_outside_photo_names_an_animal(manifest: Manifest) -> None:
    inside = next(p for p in manifest if p.split in photo_manifest.SPLITS)
    problem = _one_problem(dataclasses.replace(inside, animal="giraffe"))
    assert problem == f"{inside.name}: only an outside photo names an animal"


def test_a_photo_both_inside_and_outside_is_reported(manifest: Manifest) -> None:
    inside = next(p for p in manifest if p.split in photo_manifest.SPLITS)
    outside = next(p for p in manifest if p.split in photo_manifest.OUTSIDE_SPLITS)
    twin = dataclasses.replace(outside, sha256=inside.sha256)
    assert photo_manifest.manifest_problems([inside, twin]) == [
        f"{outside.name}: same sha256 as {inside.name}"
    ]


def test_outside_dir_names_a_bad_split(tmp_path: Path) -> None:
    with pytest.raises(photo_manifest.PhotoSetError, match=r"^outside split 'train' is not one of"):
        photos.outside_dir("train", tmp_path)
    with pytest.raises(photo_manifest.PhotoSetError, match="outside split 'outside-heldout'"):
        photos.outside_photos("outside-heldout", tmp_path)


def test_outside_photos_come_from_the_assembled_root(
    manifest: Manifest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(photos, "assemble", lambda cache_root=None: tmp_path)
    assert photos.outside_dir("calibration") == tmp_path / "outside" / "calibration"
    listed = photos.outside_photos("heldout")
    expected = [p for p in manifest if p.split == "outside-heldout"]
    assert [animal for _, animal in listed] == [p.animal for p in expected]
    assert all(path.parent == tmp_path / "outside" / "heldout" for path, _ in listed)


def test_a_bad_entry_is_reported(manifest: Manifest) -> None:
    first = manifest[0]
    broken = [
        dataclasses.replace(first, label="giraffe"),
        dataclasses.replace(first, name="x.jpg", licence=""),
        dataclasses.replace(first, name="y.jpg", sha256="00"),
    ]
    problems = photo_manifest.manifest_problems(broken)
    assert any("giraffe" in p for p in problems)
    assert any("licence is empty" in p for p in problems)
    assert any("sha256" in p for p in problems)


def _rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A version-3 Qt resource bundle with the files in one directory, as rcc writes it."""
    names = b""
    name_offsets: dict[str, int] = {}
    for name in ["dir", *files]:
        name_offsets[name] = len(names)
        encoded = name.encode("utf-16-be")
        names += struct.pack(">HI", len(name), 0) + encoded
    payloads = b""
    data_offsets: dict[str, int] = {}
    for name, (content, compress) in files.items():
        data_offsets[name] = len(payloads)
        stored = struct.pack(">I", len(content)) + zlib.compress(content) if compress else content
        payloads += struct.pack(">I", len(stored)) + stored
    nodes = struct.pack(">IHII", 0, 2, 1, 1) + bytes(8)  # root: one child, node 1
    nodes += struct.pack(">IHII", name_offsets["dir"], 2, len(files), 2) + bytes(8)
    for name, (_, compress) in files.items():
        nodes += struct.pack(">IHHHI", name_offsets[name], int(compress), 0, 0, data_offsets[name])
        nodes += bytes(8)
    header = 24
    tree, data, names_at = header, header + len(nodes), header + len(nodes) + len(payloads)
    return b"qres" + struct.pack(">IIIII", 3, tree, data, names_at, 0) + nodes + payloads + names


def test_read_rcc_reads_stored_and_compressed_files() -> None:
    bundle = _rcc({"a.webp": (b"plain bytes", False), "b.png": (b"squeezed " * 20, True)})
    assert sorted(packages.rcc_entries(bundle)) == ["/dir/a.webp", "/dir/b.png"]
    assert packages.read_rcc(bundle, "/dir/a.webp") == b"plain bytes"
    assert packages.read_rcc(bundle, "/dir/b.png") == b"squeezed " * 20
    with pytest.raises(packages.PackageError, match="no /dir/c.jpg"):
        packages.read_rcc(bundle, "/dir/c.jpg")


def test_read_pzl_reads_the_embedded_picture() -> None:
    picture = b"\xff\xd8\xff fake jpeg \n with a newline"
    puzzle = (
        b"PzlF\n0.1\nhorse-4x3\nhttp://example.invalid/\nhorse-4x3.map\n532\n#texture\n"
        b"image 0 0 642 482 1 1    \nhorse-4x3-t.jpg\n"
        + str(len(picture)).encode()
        + b"\n"
        + picture
        + b"\x89PNG..."
    )
    assert packages.read_pzl(puzzle, "horse-4x3-t.jpg") == picture
    with pytest.raises(packages.PackageError, match="not a Jigzo puzzle"):
        packages.read_pzl(b"GIF89a", "horse-4x3-t.jpg")


def test_conversion_to_png_keeps_the_pixels(manifest: Manifest, tmp_path: Path) -> None:
    ppm = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 40)).save(ppm, format="PPM")
    data = ppm.getvalue()
    ppm_photo = next(p for p in manifest if p.convert == "png" and p.path.endswith(".ppm"))
    photo = dataclasses.replace(ppm_photo, sha256=hashlib.sha256(data).hexdigest())
    record = photos._write_photo(photo, data, photo.version, tmp_path)
    written = tmp_path / record["file"]
    with Image.open(written) as image:
        assert image.format == "PNG" and image.getpixel((1, 1)) == (200, 30, 40)
    assert record["converted"] == "ppm -> png"
    assert record["file_sha256"] == hashlib.sha256(written.read_bytes()).hexdigest()
