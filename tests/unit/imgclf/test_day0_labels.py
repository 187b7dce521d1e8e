"""`imgclf model day0 --labels`: the review printout and its errors (no model is built)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgclf.errors import CliError
from imgclf.main import build_parser
from imgclf.model_day0 import map_label_names, mapping_lines
from imgclf.packed import evaluation_lines
from training.labels.wordnet import first_noun_gloss


def test_each_label_prints_one_review_line_and_its_notes() -> None:
    lines = mapping_lines(map_label_names("car, boat", None))
    assert len([line for line in lines if not line.startswith(" ")]) == 2
    assert lines[0].startswith("car -> car (n02958343): a motor vehicle with four wheels")
    assert "10 ImageNet classes (ambulance, station wagon, taxicab, ...)" in lines[0]
    # "car" is also a railway car in WordNet: the reviewer sees it, with its id
    assert lines[1].startswith(
        "  other senses: railcar (n02959942: a wheeled vehicle adapted to the rails of railroad)"
        " (an --overrides file"
    )
    assert lines[2].startswith("boat -> boat (n02858304)") and len(lines) == 3


def test_a_name_placed_on_a_later_sense_says_so() -> None:
    # Given names whose first WordNet sense no ImageNet class is (a coat; a rodent), and one
    # whose other sense has classes too (the crane bird)
    if first_noun_gloss("jacket") is None:
        pytest.skip("WordNet 3.0 is not installed (apt-get install wordnet-base; make test does)")
    lines = mapping_lines(map_label_names("jacket,mouse,crane", None))
    text = "\n".join(lines)
    # Then each review says what the word first means, or which other senses it has
    assert lines[0].startswith("jacket -> jacket (n03590306)")
    assert (
        "  WordNet's first sense of 'jacket' is another, which no ImageNet class is: a short coat"
        in text
    )
    assert (
        "of 'mouse' is another, which no ImageNet class is: any of numerous small rodents" in text
    )
    assert (
        "  other senses: crane bird (n02012849: large long-necked wading bird of marshes and plains"
        ' in many parts of the world) (an --overrides file picks one: {"crane": "WNID"})' in text
    )
    # And a proper noun's first sense (Hart Crane, the poet) is no note
    assert "poet" not in text


def test_plural_and_run_together_names_are_placed_as_their_label() -> None:
    # Folders are often named in the plural ("dogs", "butterflies"), or without a space
    mapped = map_label_names("dogs,butterflies,cell phone", None)
    assert [label.node_name for label in mapped] == ["dog", "butterfly", "mobile phone"]
    assert [label.label for label in mapped] == ["dogs", "butterflies", "cell phone"]


def test_a_sense_with_the_chosen_name_is_told_apart_by_its_gloss() -> None:
    # "ball" is the game ball; WordNet's other "ball" with classes is any spherical object
    lines = mapping_lines(map_label_names("ball,car", None))
    assert lines[1] == (
        "  other senses: ball (n13899404: an object with a spherical shape) "
        '(an --overrides file picks one: {"ball": "WNID"})'
    )


def test_a_sense_under_the_chosen_one_is_no_other_sense() -> None:
    # "cup" listed "tea cup" as another sense, though its classes are among cup's: picking
    # it in an overrides file would only narrow the label
    lines = mapping_lines(map_label_names("cup,car", None))
    assert lines[0].startswith("cup -> cup (") and not lines[1].startswith("  other senses")


def test_a_class_named_by_its_wnid_in_a_list(tmp_path: Path) -> None:
    # {"crane": ["n02012849"]} said "ImageNet has no class named 'n02012849'" (class 134)
    overrides = tmp_path / "o.json"
    overrides.write_text('{"crane": ["n02012849"]}')
    assert map_label_names("crane,dog", overrides)[0].indices == (134,)


def test_a_single_class_reads_singular() -> None:
    lines = mapping_lines(map_label_names("pizza,balloon", None))
    assert lines[0].endswith("1 ImageNet class (pizza)")


def test_overrides_list_classes(tmp_path: Path) -> None:
    overrides = tmp_path / "o.json"
    overrides.write_text('{"cow": ["ox", "water buffalo"]}')
    mapped = map_label_names("cow,dog", overrides)
    assert mapped[0].indices == (345, 346)
    assert mapping_lines(mapped)[0].startswith("cow -> ImageNet classes: listed: ox, water buffalo")


def test_an_override_for_a_label_not_given_is_a_one_line_error(tmp_path: Path) -> None:
    # A misspelt label in the overrides file would otherwise be mapped without its override
    overrides = tmp_path / "o.json"
    overrides.write_text('{"cows": ["ox", "water buffalo"]}')
    with pytest.raises(CliError, match=r"^override for 'cows', which is not one of the labels"):
        map_label_names("cow,dog", overrides)


def test_an_unplaceable_name_is_a_one_line_error_with_suggestions() -> None:
    with pytest.raises(CliError) as caught:
        map_label_names("car,bycicle", None)
    assert "\n" not in str(caught.value) and "bicycle" in str(caught.value)


def test_labels_need_two_different_names() -> None:
    with pytest.raises(CliError, match="two or more"):
        map_label_names("car,car", None)


def test_labels_and_mapping_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    args = parser.parse_args(["model", "day0", "--labels", "car,boat", "--overrides", "o.json"])
    assert args.labels == "car,boat" and args.overrides == Path("o.json")
    with pytest.raises(SystemExit):
        parser.parse_args(["model", "day0", "--labels", "car,boat", "--mapping", "m.json"])
    assert "not allowed with" in capsys.readouterr().err


def test_the_mapping_is_checked_and_printed_before_an_environment_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from imgclf.main import main

    # Given no environment running (an empty $IMGCLF_HOME)
    monkeypatch.setenv("IMGCLF_HOME", str(tmp_path))
    # When a bad overrides file is given, its own error comes first, in one line
    bad = tmp_path / "o.json"
    bad.write_text('{"car": "n99999999"}')
    assert main(["model", "day0", "--labels", "car,boat", "--overrides", str(bad)]) == 1
    assert capsys.readouterr().err == (
        "imgclf: error: override for 'car': no node or synset named 'n99999999'\n"
    )
    # And a good mapping prints for review before the missing environment stops the build
    assert main(["model", "day0", "--labels", "car,boat"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("car -> car (n02958343)")
    assert "no local environment is running" in captured.err


def test_a_general_label_says_which_narrower_labels_own_part_of_it() -> None:
    # Given "animal" beside "dog" and "cat", which own some of its classes
    lines = mapping_lines(map_label_names("dog,animal,cat", None))
    animal = next(i for i, line in enumerate(lines) if line.startswith("animal -> "))
    # Then its count is what it keeps, and the next line names who owns the rest
    assert "; 273 ImageNet classes (" in lines[animal]
    assert lines[animal + 1] == "  not the classes narrower labels own: dog (118), cat (7)"
    # And a label nothing took from has no such note
    assert not any(line.startswith("  not the") for line in lines[:animal])


def test_the_report_names_labels_no_photo_of_the_set_shows() -> None:
    # Given a day-0 model for "car" and "teddy bear", scored on the packaged photos, of which
    # none shows a teddy bear
    row = {"precision": 1.0, "recall": 1.0, "f1-score": 1.0}
    metrics = {
        "evaluations": {
            "annotated-photos": {
                "count": 4,
                "accuracy": 1.0,
                "float_accuracy": 1.0,
                "per_class": {"car": {**row, "support": 4.0}, "teddy bear": {"support": 0.0}},
            }
        }
    }
    # Then its report line says the score says nothing about teddy bears
    assert evaluation_lines(metrics) == (
        "  annotated-photos: 100.0% of 4, float 100.0%; no photo of teddy bear"
    )
